"""Restores that a kill cannot tear (issue 19): safeshift dies inside a restore, as the OOM
killer or ``kill -9 PID`` would end it, and the database is left whole.

PostgreSQL: the load runs in a transaction whose COMMIT safeshift writes last; psql, killed
with its parent (or seeing the end of its input), never commits, so the database stays as it
was. MariaDB: the database is emptied and loaded, never dropped, so it still exists and
``status`` and ``rollback RUN`` work on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan, table_names
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.faults import EXIT_CODE

RESTORES = (
    '\n[rollback]\nstrategy = "restore"\n\n'
    '[[checks.post]]\nname = "fails on purpose"\nkind = "sql"\nquery = "SELECT COUNT(*) FROM items"\nexpect = "== 0"\n'
)
CLI = [sys.executable, "-m", "safeshift.cli"]



def _no_loader_left(db: ItemsDb) -> bool:
    """The psql / mariadb client the killed run started is gone (it dies with it): no other
    session is connected to this database within a few seconds."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
        if db.kind == "postgresql"
        else "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = :db AND ID <> CONNECTION_ID()"
    )
    engine = get_dialect(db.url).create_engine()
    try:
        for _ in range(50):
            with engine.connect() as conn:
                if conn.execute(sa.text(query), {"db": db.url.database}).scalar_one() == 0:
                    return True
            time.sleep(0.1)
        return False
    finally:
        engine.dispose()


@pytest.mark.parametrize(("db_kind", "fault"), [("postgresql", "restore:before-commit"), ("mysql", "restore:emptied")])
def test_a_kill_inside_the_restore_leaves_a_whole_database_and_rollback_run_finishes(
    items_db: ItemsDb, tmp_path: Path, fault: str
) -> None:
    plan, work = items_plan(tmp_path / "plan", RESTORES), tmp_path / "w"
    killed = subprocess.run(
        [*CLI, "run", "--plan", str(plan), "--workdir", str(work)],
        env={**items_db.env, "SAFESHIFT_FAULT": fault}, capture_output=True, text=True, timeout=180,
    )
    assert killed.returncode == EXIT_CODE, killed.stdout + killed.stderr
    assert _no_loader_left(items_db)
    tables = table_names(items_db.url)  # the database exists and answers
    if items_db.kind == "postgresql":
        assert {"items", "extra"} <= tables  # nothing committed: still as the migration left it
    status = subprocess.run(
        [*CLI, "status", "--plan", str(plan), "--workdir", str(work), "--json"],
        env=items_db.env, capture_output=True, text=True, timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    run_id = next((work / ".safeshift" / "runs").iterdir()).name
    rolled = subprocess.run(
        [*CLI, "rollback", run_id, "--plan", str(plan), "--workdir", str(work), "--json"],
        env=items_db.env, capture_output=True, text=True, timeout=180,
    )
    assert rolled.returncode == ExitCode.ROLLED_BACK, rolled.stdout + rolled.stderr
    assert json.loads(rolled.stdout)["rollback"]["proof"]["equal"] is True
    assert "extra" not in table_names(items_db.url)


def test_a_restore_reports_its_progress(items_db: ItemsDb, tmp_path: Path) -> None:
    """Long work shows progress (issue 18): the restore says how far it got, on each database."""
    from safeshift import api

    plan = items_plan(tmp_path / "plan")
    info = api.backup(plan, workdir=tmp_path / "w")
    heard: list[tuple[int, int | None]] = []
    result = api.restore(plan, Path(info.path), progress=lambda done, total: heard.append((done, total)))
    assert result.row_counts["items"] == 200
    assert heard and heard[-1][0] > 0, heard


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_a_backup_verified_by_restore_reports_its_progress(items_db: ItemsDb, tmp_path: Path) -> None:
    from safeshift import api

    plan = items_plan(tmp_path / "plan", verify="restore")
    info = api.backup(plan, workdir=tmp_path / "w", verify=False)
    dialect = get_dialect(items_db.url)
    heard: list[tuple[int, int | None]] = []
    detail = dialect.verify_backup(
        info, {"items": 200}, "20261202T000000000Z-abcdef", "restore", lambda done, total: heard.append((done, total))
    )
    assert detail["row_counts_equal"] and heard and heard[-1][0] > 0, heard
