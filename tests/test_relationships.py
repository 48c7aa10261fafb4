"""The relationships cutover (seed: relationship-migration-plan.md) end to end.

Each test reopens the database afterwards: the verdict must match what is really there.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from helpers import EXAMPLES, drop_scratch, require_server, scratch_url, server_url
from safeshift.demo.relationships import RelationshipsDemoResult, demo_relationships
from safeshift.demo.relationships_data import TABLES, generate
from safeshift.dialects import get_dialect
from safeshift.loading import parse_plan
from safeshift.migrators.sqlfiles import SqlFilesMigrator

COUPLES = 2000
NAME = f"ss_rel_demo_{uuid.uuid4().hex[:8]}"
DEMO_DBS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture(params=DEMO_DBS)
def demo_db(request: pytest.FixtureRequest) -> Iterator[str]:
    kind = str(request.param)
    require_server(kind)
    yield kind
    if kind != "sqlite":
        get_dialect(server_url(kind)).drop_database(NAME)


def run_demo(kind: str, workdir: Path, **options: Any) -> RelationshipsDemoResult:
    """The demo on its own database name, so a person running the demo meanwhile is not disturbed."""
    return demo_relationships(db=kind, couples=COUPLES, workdir=workdir, database_name=NAME, **options)  # type: ignore[arg-type]


def reopen(database: str) -> dict[str, Any]:
    """Tables, row counts and the recorded version of the demo database, read afresh."""
    url = sa.make_url(database)
    if url.password is None and url.get_backend_name() != "sqlite":
        url = url.set(password=server_url(url.get_backend_name()).password)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            tables = dialect.table_names(conn)
            version = conn.execute(sa.text("SELECT MAX(version) FROM safeshift_versions")).scalar()
            return {"tables": tables, "counts": dialect.row_counts(conn), "version": version}
    finally:
        engine.dispose()


def test_success(demo_db: str, tmp_path: Path) -> None:
    result = run_demo(demo_db, tmp_path)
    assert result.run.outcome == "succeeded", result.run.message
    assert result.exit_code == 0
    assert result.data.pending_couples > 0  # a second partner who has not joined: always some
    state = reopen(result.database)
    assert state["version"] == "0002"
    counts = state["counts"]
    assert counts["relationships"] == counts["couples"] == result.data.couples == COUPLES
    assert counts["relationship_members"] == result.data.partners == 2 * COUPLES - result.data.pending_couples
    assert counts["relationship_lifecycle_events"] == COUPLES
    assert counts["sessions"] == result.data.sessions
    assert all(c.passed for c in result.run.checks)
    assert [p.name for p in result.run.phases][:6] == ["preflight", "validate", "snapshot", "backup", "apply", "verify"]


def test_duplicate_invite_codes_block_before_anything_changes(demo_db: str, tmp_path: Path) -> None:
    result = run_demo(demo_db, tmp_path, edge_cases=True)
    assert result.run.outcome == "blocked", result.run.message
    assert result.exit_code == 1
    dupes = result.data.duplicate_invite_couple_ids
    assert len(dupes) == 6
    failed = [c for c in result.run.checks if not c.passed]
    assert [c.name for c in failed] == ["invite codes are unique among couples"]
    assert sorted(failed[0].samples) == dupes
    assert "invite codes are unique among couples" in result.run.message
    assert all(str(i) in result.run.message for i in dupes)
    assert [p.name for p in result.run.phases] == ["preflight"]  # no backup, no change
    state = reopen(result.database)
    assert "relationships" not in state["tables"] and state["version"] == "0001"


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_break_rolls_back_to_the_snapshot(demo_db: str, tmp_path: Path, mode: str) -> None:
    result = run_demo(demo_db, tmp_path, break_mode=mode)
    assert result.run.outcome == "rolled_back", result.run.message
    assert result.exit_code == 3
    assert result.run.rollback.proof.equal is True
    if mode == "apply":
        assert "couples" in result.run.message.lower() or "primary" in result.run.message.lower()
        assert "0002_multi_relationship.up.sql: statement 2" in result.run.message
    else:
        assert "relationships without members" in result.run.message
    state = reopen(result.database)
    assert "relationships" not in state["tables"] and "relationship_members" not in state["tables"]
    assert state["version"] == "0001"
    for table in TABLES:
        assert state["counts"][table] == result.run.snapshot[table]
    assert state["counts"]["couples"] == COUPLES
    # the example itself was not touched: the broken copy lives in the demo's folder
    assert result.plan.startswith(str(tmp_path))
    assert "demo_break" not in (EXAMPLES / "relationships" / "migrations" / "0002_multi_relationship.up.sql").read_text()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_example_migrations_round_trip(kind: str, tmp_path: Path) -> None:
    """0001 → 0002 → back to 0001 → base on each database, with data, schema equal on the way back."""
    url: URL = scratch_url(kind, tmp_path, prefix="ss_rel")
    path = EXAMPLES / "relationships" / "safeshift.toml"
    plan = parse_plan(tomllib.loads(path.read_text()), path)
    sql = SqlFilesMigrator(plan)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            sql.upgrade(conn, "0001")
            data = generate(conn, 300, seed=7)
            dialect.after_bulk_load(conn, TABLES)
            conn.commit()
            before = dialect.schema_shape(conn)
            counts = dialect.row_counts(conn)
            conn.rollback()
            sql.upgrade(conn, "head")
            assert sql.current(conn) == "0002"
            members = conn.execute(sa.text("SELECT COUNT(*) FROM relationship_members")).scalar()
            assert members == data.partners
            unlinked = conn.execute(
                sa.text("SELECT COUNT(*) FROM sessions WHERE couple_id IS NOT NULL AND relationship_id IS NULL")
            ).scalar()
            assert unlinked == 0
            conn.rollback()
            sql.downgrade(conn, "0001")
            assert dialect.schema_shape(conn) == before
            assert dialect.row_counts(conn) == counts
            conn.rollback()
            sql.downgrade(conn, None)
            assert dialect.table_names(conn) == []
    finally:
        engine.dispose()
        drop_scratch(kind, url)


def test_dry_run_renders_the_dialects_files() -> None:
    path = EXAMPLES / "relationships" / "safeshift.toml"
    plan = parse_plan(tomllib.loads(path.read_text()), path)
    sql = SqlFilesMigrator(plan)
    pg = sql.render("0001", "head", "postgresql")
    lite = sql.render("0001", "head", "sqlite")
    assert pg[0].startswith("-- migrations/0002_multi_relationship.up.sql\n")
    assert lite[0].startswith("-- migrations/sqlite/0002_multi_relationship.up.sql\n")
    assert any("UPDATE sessions SET relationship_id = r.id" in s for s in pg)
    assert pg[-1].startswith("INSERT INTO safeshift_versions")
