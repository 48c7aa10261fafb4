"""The online family example (expand → backfill → contract) under safeshift run, with the
demo's concurrent writer on every database: it succeeds, every check passes, writes keep going.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpers import require_server, server_url
from safeshift.demo.family_online import demo_family_online
from safeshift.dialects import get_dialect

USERS = 3000


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mysql"])
def test_online_family_cutover_succeeds_while_the_app_writes(db_kind: str, tmp_path: Path) -> None:
    name = f"ss_test_online_{uuid.uuid4().hex[:8]}"
    if db_kind != "sqlite":
        require_server(db_kind)
    try:
        result = demo_family_online(db=db_kind, users=USERS, workdir=tmp_path, database=name)  # type: ignore[arg-type]
    finally:
        if db_kind != "sqlite":
            get_dialect(server_url(db_kind)).drop_database(name)
    run = result.run
    assert run.outcome == "succeeded", run.message
    assert run.checks and all(c.passed for c in run.checks), [c.to_dict() for c in run.checks if not c.passed]
    assert run.target_revision == "0004"
    assert {b.name for b in result.backfills} == {"families:create", "users:family_id"}
    family_ids = next(b for b in result.backfills if b.name == "users:family_id")
    assert family_ids.rows == USERS and family_ids.batches >= 1
    writer = result.to_dict()["demo"]["writer"]
    assert writer["writes"] > 0 and writer["errors"] == 0, writer
