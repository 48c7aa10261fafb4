"""Before any rollback step, a verified backup of the database as it is then (issue 15, part 1):
what the application wrote after apply is never destroyed without a copy of it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.faults import EXIT_CODE

FAILS = (
    '\n[rollback]\nstrategy = "downgrade"\n\n'
    '[[checks.post]]\nname = "fails on purpose"\nkind = "sql"\nquery = "SELECT COUNT(*) FROM items"\nexpect = "== 0"\n'
)


def test_the_rollback_backs_up_the_current_state_first(items_db: ItemsDb, tmp_path: Path) -> None:
    result = api.run_plan(items_plan(tmp_path / "plan", FAILS), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert result.rollback is not None and result.rollback.backup is not None
    backup = Path(result.rollback.backup.path)
    assert backup.name.endswith(f".before-rollback{backup.suffix}") and result.rollback.backup.verified
    manifest = json.loads(backup.with_name(backup.name + ".manifest.json").read_text())
    assert "extra" in manifest["row_counts"]  # taken after apply, before the downgrade
    names = [p.name for p in result.phases]
    assert names.index("rollback:backup") < names.index("rollback:downgrade")
    assert "Backup before the rollback" in Path(result.report_md or "").read_text()


def test_a_kill_during_that_backup_is_recovered_by_rollback_run(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, work = items_plan(tmp_path / "plan", FAILS), tmp_path / "w"
    cmd = [sys.executable, "-m", "safeshift.cli"]
    killed = subprocess.run(
        [*cmd, "run", "--plan", str(plan), "--workdir", str(work)],
        env={**items_db.env, "SAFESHIFT_FAULT": "rollback:backup:started"}, capture_output=True, text=True, timeout=180,
    )
    assert killed.returncode == EXIT_CODE, killed.stdout + killed.stderr
    run_id = next((work / ".safeshift" / "runs").iterdir()).name
    rolled = subprocess.run(
        [*cmd, "rollback", run_id, "--plan", str(plan), "--workdir", str(work), "--json"],
        env=items_db.env, capture_output=True, text=True, timeout=180,
    )
    assert rolled.returncode == ExitCode.ROLLED_BACK, rolled.stdout + rolled.stderr
    data = json.loads(rolled.stdout)
    assert data["rollback"]["proof"]["equal"] is True and data["rollback"]["backup"]["verified"] is True


def test_the_report_shows_the_whole_maintenance_window_rollback_included(items_db: ItemsDb, tmp_path: Path) -> None:
    flag = tmp_path / "maintenance_on"
    plan = items_plan(tmp_path / "plan", FAILS + f'\n[maintenance]\nkind = "file"\npath = "{flag}"\n')
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    names = [p.name for p in result.phases]
    assert names[names.index("maintenance:on")] and names[-1] == "maintenance:off" and not flag.exists()
    on = next(p for p in result.phases if p.name == "maintenance:on")
    off = result.phases[-1]
    assert on.started and off.started >= on.started  # ISO times, the rollback inside the window
    report = Path(result.report_md or "").read_text()
    assert "**Maintenance window (downtime):**" in report


WAITS_FOR_WRITES = (
    '\n[rollback]\nstrategy = "downgrade"\n\n'
    '[[checks.post]]\nname = "fails once the application wrote"\nkind = "python"\nfunction = "live_checks:after_writes"\n'
)
LIVE_CHECKS = """
import time

import sqlalchemy as sa


def after_writes(conn):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn.rollback()  # a fresh snapshot each look
        if conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar_one() > 205:
            break
        time.sleep(0.01)
    return False
"""


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_the_backup_verifies_while_the_application_keeps_writing(items_db: ItemsDb, tmp_path: Path) -> None:
    """No maintenance hook: inserts go on from apply through the rollback; the backup before it still verifies
    (each table between its counts before and after), so the rollback runs instead of stopping."""
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        engine = get_dialect(items_db.url).create_engine()
        next_id = 10_000
        try:
            while not stop.is_set():
                try:
                    if "extra" not in sa.inspect(engine).get_table_names():
                        time.sleep(0.002)  # the application's new release writes once apply ran
                        continue
                    with engine.begin() as conn:
                        conn.execute(sa.text("INSERT INTO items (id, qty) VALUES (:id, 1)"), {"id": next_id})
                    next_id += 1
                    written[0] += 1
                except Exception:  # a lock or the DDL of the moment: try again, as an application would
                    time.sleep(0.01)
                time.sleep(0.002)
        finally:
            engine.dispose()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        plan = items_plan(tmp_path / "plan", WAITS_FOR_WRITES)
        (tmp_path / "plan" / "live_checks.py").write_text(LIVE_CHECKS)
        result = api.run_plan(plan, workdir=tmp_path / "w")
    finally:
        stop.set()
        thread.join(10)
    assert written[0] > 0
    assert result.rollback is not None and result.rollback.backup is not None, result.message
    assert result.rollback.backup.verified
    steps = {s.step: s.ok for s in result.rollback.steps}
    assert steps.get("downgrade") is True, result.rollback.to_dict()
    # no maintenance hook: the application was live, so the rows it wrote are kept and listed,
    # never "proven equal"
    assert result.exit_code == ExitCode.ROLLED_BACK and "kept" in result.message, result.message
    assert "proven equal" not in result.message
    writes = result.rollback.writes
    assert writes is not None and writes.fate == "kept" and writes.tables[0].table == "items"
    assert len(writes.tables[0].inserted) >= 1
