"""Killed mid-backfill, `safeshift resume` continues from the journal's checkpoint: the rows
done before the kill are not done again, and every invariant holds at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import EXAMPLES, require_server, server_url
from safeshift.demo.family_online import prepare_online_database
from safeshift.dialects import get_dialect
from safeshift.journal import read_journal

USERS = 6000
BACKFILL = "users:family_id"


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_resume_continues_backfill_from_checkpoint(db_kind: str, tmp_path: Path) -> None:
    require_server(db_kind)
    name = f"ss_bf_{uuid.uuid4().hex[:8]}"
    url, data = prepare_online_database(db_kind, tmp_path, USERS, name=name)  # type: ignore[arg-type]
    env = {**os.environ, "FAMILY_DATABASE_URL": url.render_as_string(hide_password=False)}
    cmd = [sys.executable, "-m", "safeshift.cli"]
    common = ["--plan", str(EXAMPLES / "family-online"), "--workdir", str(tmp_path / "w"), "--json"]
    try:
        killed = subprocess.run([*cmd, "run", *common], env={**env, "SAFESHIFT_FAULT": f"backfill:{BACKFILL}:batch:3"},
                                capture_output=True, text=True, timeout=300)
        assert killed.returncode == 137, killed.stdout[-2000:] + killed.stderr[-2000:]
        run_dir = next((tmp_path / "w" / ".safeshift" / "runs").iterdir())
        before = [e for e in read_journal(run_dir / "journal.jsonl") if e.get("event") == f"backfill:{BACKFILL}"]
        assert before, "no checkpoint was journaled before the kill"
        done_before, batches_before = before[-1]["rows_done"], before[-1]["batches"]
        assert 0 < done_before < data.users

        resumed = subprocess.run([*cmd, "resume", run_dir.name, *common], env=env,
                                 capture_output=True, text=True, timeout=300)
        result = json.loads(resumed.stdout)
        assert resumed.returncode == 0, result["message"]
        assert result["outcome"] == "succeeded"
        assert all(c["passed"] for c in result["checks"] if c["phase"] == "post")

        after = [e for e in read_journal(run_dir / "journal.jsonl") if e.get("event") == f"backfill:{BACKFILL}"]
        continued = after[len(before):]
        assert continued, "the resumed run journaled no checkpoint"
        # the walk went on from the kill's checkpoint: batch numbers and keys continue, and the
        # rows counted over both walks are the table's rows once, not once plus the redone part
        assert continued[0]["batches"] == batches_before + 1
        assert continued[0]["last_key"] > before[-1]["last_key"]
        assert continued[-1]["done"] is True
        assert continued[-1]["rows_done"] == data.users, (done_before, continued[0], continued[-1])
    finally:
        if db_kind != "sqlite":
            get_dialect(server_url(db_kind)).drop_database(name)
