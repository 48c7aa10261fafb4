"""The family cutover end to end, on every reachable database.

Each test reopens the database afterwards: the verdict must match what is really there.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import family_plan, require_server, server_url
from safeshift.cli.app import app
from safeshift.demo import demo_family
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan
from safeshift.run import run_plan

USERS = 3000


@pytest.fixture
def demo_db(db_kind: str) -> Any:
    """A database name of this test's own: tests and demos may run side by side on one server."""
    require_server(db_kind)
    name = f"ss_demo_{uuid.uuid4().hex[:8]}"
    yield name
    if db_kind != "sqlite":
        get_dialect(server_url(db_kind)).drop_database(name)


@pytest.fixture
def demo_dir(tmp_path: Path, demo_db: str) -> Path:
    return tmp_path


def reopen(url: URL) -> dict[str, Any]:
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            tables = dialect.table_names(conn)
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return {"tables": tables, "revision": revision, "counts": dialect.row_counts(conn), "conn_url": url}
    finally:
        engine.dispose()


def db_url_of(result: Any) -> URL:
    """The run's database, reached with the test server's login (the run shows its user masked)."""
    shown = sa.engine.make_url(result.run.database)
    if shown.get_backend_name() == "sqlite":
        return shown
    kind = "postgresql" if shown.get_backend_name() == "postgresql" else "mysql"
    return server_url(kind).set(database=shown.database)


def test_success(db_kind: str, demo_dir: Path, demo_db: str) -> None:
    result = demo_family(db=db_kind, users=USERS, workdir=demo_dir, database=demo_db)  # type: ignore[arg-type]
    assert result.run.outcome == "succeeded", result.run.message
    assert result.exit_code == 0
    state = reopen(db_url_of(result))
    assert state["revision"] == "0002"
    assert "families" in state["tables"]
    assert state["counts"]["families"] == result.data.parents
    assert state["counts"]["users"] == result.data.users
    full = ["preflight", "validate", "snapshot", "backup", "maintenance:on", "apply", "verify", "maintenance:off", "smoke", "watch"]
    assert [p.name for p in result.run.phases] == full
    assert all(c.passed for c in result.run.checks)
    assert result.run.backup is not None and result.run.backup.verified
    assert Path(result.run.backup.path).is_file()
    report = json.loads(Path(result.run.report or "").read_text())
    assert report["outcome"] == "succeeded"
    assert Path(result.run.report_md or "").read_text().startswith("# safeshift run")
    events = [json.loads(line) for line in Path(result.run.journal or "").read_text().splitlines()]
    assert events[0]["event"] == "started" and events[-1]["outcome"] == "succeeded"
    assert [e["phase"] for e in events if e["event"] == "finished" and e["phase"] not in ("run", "state")] == full


@pytest.mark.parametrize("mode", ["check", "apply"])
def test_break_rolls_back_to_snapshot(db_kind: str, demo_dir: Path, demo_db: str, mode: str) -> None:
    result = demo_family(db=db_kind, users=USERS, workdir=demo_dir, break_mode=mode, database=demo_db)  # type: ignore[arg-type]
    assert result.run.outcome == "rolled_back", result.run.message
    assert result.exit_code == 3
    proof = result.run.rollback.proof
    assert proof.equal is True and proof.differences == []
    state = reopen(db_url_of(result))
    assert state["revision"] == "0001"
    assert "families" not in state["tables"]
    assert state["counts"] == result.run.snapshot
    assert state["counts"]["users"] == result.data.users
    assert "database equals the snapshot" in Path(result.run.report_md or "").read_text()


def test_edge_cases_block_before_backup(db_kind: str, demo_dir: Path, demo_db: str) -> None:
    result = demo_family(db=db_kind, users=USERS, workdir=demo_dir, edge_cases=True, database=demo_db)  # type: ignore[arg-type]
    assert result.run.outcome == "blocked"
    assert result.exit_code == 1
    for uid in result.data.cycle_ids + result.data.missing_parent_ids:
        assert str(uid) in result.run.message
    assert result.run.backup is None
    backups = demo_dir / ".safeshift" / "backups"
    assert not backups.exists() or not any(backups.iterdir())
    state = reopen(db_url_of(result))
    assert state["revision"] == "0001" and "families" not in state["tables"]
    assert [p.name for p in result.run.phases] == ["preflight"]


def _plan(tmp_path: Path, url: URL, extra: str = "") -> Path:
    return family_plan(tmp_path / "plan", extra)


@pytest.fixture
def family_users() -> int:
    return 500  # the family fixture's size here


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_noop_when_nothing_pending(tmp_path: Path, family: URL) -> None:
    plan = load_plan(_plan(tmp_path, family))
    assert run_plan(plan).outcome == "succeeded"
    again = run_plan(plan)
    assert again.outcome == "noop" and int(again.exit_code) == 0
    assert "nothing to do" in again.message


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_unverifiable_backup_stops_before_change(
    tmp_path: Path, family: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safeshift.dialects.sqlite import SQLiteDialect

    real_backup = SQLiteDialect.backup

    def corrupting_backup(self: SQLiteDialect, engine: Any, dest: Path, progress: Any = None) -> Any:
        info = real_backup(self, engine, dest, progress)
        with open(dest, "r+b") as fh:  # damage a table page: the copy no longer verifies
            fh.seek(4096 * 3)
            fh.write(b"\xff" * 4096)
        return info

    monkeypatch.setattr(SQLiteDialect, "backup", corrupting_backup)
    result = run_plan(load_plan(_plan(tmp_path, family)))
    assert result.outcome == "blocked" and int(result.exit_code) == 2
    assert "backup" in result.message
    assert reopen(family)["revision"] == "0001"
    assert [p.name for p in result.phases][-1] == "backup"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_not_enough_disk_blocks(tmp_path: Path, family: URL) -> None:
    plan = load_plan(_plan(tmp_path, family).parent / "safeshift.toml")
    text = plan.source.read_text().replace("verify = true", "verify = true\nmin_free_ratio = 1e15")
    plan.source.write_text(text)
    result = run_plan(load_plan(plan.source))
    assert result.outcome == "blocked" and int(result.exit_code) == 2
    assert "not enough free disk" in result.message
    assert reopen(family)["revision"] == "0001"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_second_run_refused_while_first_holds_lock(tmp_path: Path, family: URL) -> None:
    plan = load_plan(_plan(tmp_path, family))
    dialect = get_dialect(family)
    engine = dialect.create_engine()
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with dialect.run_lock(engine, "first-run-id", "2026-01-01T00:00:00Z"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        result = run_plan(plan)
    finally:
        release.set()
        thread.join()
        engine.dispose()
    assert result.outcome == "blocked" and int(result.exit_code) == 2
    assert "first-run-id" in result.message and "2026-01-01T00:00:00Z" in result.message
    assert reopen(family)["revision"] == "0001"
    assert run_plan(plan).outcome == "succeeded"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_dry_run_lists_statements_and_changes_nothing(tmp_path: Path, family: URL) -> None:
    result = run_plan(load_plan(_plan(tmp_path, family)), dry_run=True)
    assert result.outcome == "planned"
    sql = "\n".join(s.sql or "" for s in result.statements)
    assert "CREATE TABLE families" in sql
    assert "WITH RECURSIVE" in sql
    phases = [s.phase for s in result.statements]
    assert phases.index("preflight") < phases.index("apply") < phases.index("verify")
    assert reopen(family)["revision"] == "0001"


def test_cli_demo_break_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "family", "--break", "--json", "--users", "1500", "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "rolled_back"
    assert {"run_id", "outcome", "phases", "checks", "report"} <= set(data)
    assert {"name", "status", "seconds"} <= set(data["phases"][0])
    assert {"name", "phase", "passed", "value", "expected"} <= set(data["checks"][0])
    state = reopen(sa.engine.make_url(data["database"]))
    assert state["revision"] == "0001" and "families" not in state["tables"]
    assert state["counts"] == data["snapshot"]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_cli_run_status_check(tmp_path: Path, family: URL) -> None:
    plan = str(_plan(tmp_path, family))
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--plan", plan, "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["current"] == "0001"
    run = runner.invoke(app, ["run", "--plan", plan])
    assert run.exit_code == 0, run.output
    assert "succeeded" in run.stdout
    check = runner.invoke(app, ["check", "--plan", plan, "--json"])
    assert check.exit_code == 0 and json.loads(check.stdout)["passed"] is True
    status = runner.invoke(app, ["status", "--plan", plan, "--json"])
    data = json.loads(status.stdout)
    assert data["current"] == "0002" and data["pending"] == [] and data["runs"][0]["outcome"] == "succeeded"
    # the daily validation catches a later corruption with exit 1 and the offender
    engine = get_dialect(family).create_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET family_id = NULL WHERE id = 7"))
    engine.dispose()
    check = runner.invoke(app, ["check", "--plan", plan, "--json"])
    assert check.exit_code == 1
    failed = [c for c in json.loads(check.stdout)["checks"] if not c["passed"]]
    assert any(7 in c["samples"] for c in failed)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_cli_backup_and_restore(tmp_path: Path, family: URL) -> None:
    plan = str(_plan(tmp_path, family))
    runner = CliRunner()
    backup = runner.invoke(app, ["backup", "--plan", plan, "--json"])
    assert backup.exit_code == 0, backup.output
    info = json.loads(backup.stdout)
    assert info["verified"] is True
    before = reopen(family)["counts"]
    engine = get_dialect(family).create_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM chores"))
    engine.dispose()
    restore = runner.invoke(app, ["restore", info["path"], "--plan", plan, "--yes"])
    assert restore.exit_code == 0, restore.output
    assert reopen(family)["counts"] == before
