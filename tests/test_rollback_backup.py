"""Before any rollback step, a verified backup of the database as it is then (issue 15, part 1):
what the application wrote after apply is never destroyed without a copy of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import ItemsDb, items_plan
from safeshift import api
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
