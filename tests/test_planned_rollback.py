"""A planned rollback (issue 15): ``safeshift rollback RUN`` on a run that succeeded, days later,
after the application wrote. Maintenance goes on, a backup is taken, the migration is
downgraded to the run's start, and the proof holds revision, full schema and pre-checks
to the run's before-state; the rows written since are kept and listed, never "proven equal".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from helpers import ItemsDb, items_plan, table_names
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode

MAINTENANCE = '\n[maintenance]\nkind = "file"\npath = "{flag}"\n\n[rollback]\nstrategy = "downgrade-then-restore"\n'


def _execute(db: ItemsDb, *statements: str) -> None:
    engine = get_dialect(db.url).create_engine()
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()



def _plan(tmp_path: Path) -> tuple[Path, Path]:
    flag = tmp_path / "maintenance_on"
    return items_plan(tmp_path / "plan", MAINTENANCE.format(flag=flag)), flag


def test_a_succeeded_run_is_rolled_back_later_keeping_the_writes_made_since(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, flag = _plan(tmp_path)
    work = tmp_path / "w"
    done = api.run_plan(plan, workdir=work)
    assert done.exit_code == ExitCode.OK, done.message
    # the application, live on the new release: new rows, a changed row, rows in the new table
    _execute(
        items_db,
        "INSERT INTO items (id, qty) VALUES (9001, 1), (9002, 2)",
        "UPDATE items SET qty = 555 WHERE id = 3",
        "INSERT INTO extra (id) VALUES (1), (2), (3)",
    )
    undone = api.rollback_run(plan, done.run_id, workdir=work)
    assert undone.exit_code == ExitCode.ROLLED_BACK and undone.outcome == "rolled_back", undone.message
    assert undone.run_id != done.run_id  # a run of its own, with its own report
    assert f"planned rollback of run {done.run_id}" in undone.message and "kept 3 rows" in undone.message
    assert "proven equal" not in undone.message
    assert "extra" not in table_names(items_db.url) and not flag.exists()
    writes = undone.to_dict()["rollback"]["writes"]
    items = writes["tables"][0]
    assert (items["table"], items["inserted"], items["updated"], items["deleted"]) == ("items", 2, 1, 0)
    assert items["first_inserted"] == [9001, 9002] and items["first_updated"] == [3]
    assert writes["created_tables"] == {"extra": 3}  # what the downgrade dropped: in the backup before it
    names = [p.name for p in undone.phases]
    assert names.index("maintenance:on") < names.index("rollback:backup") < names.index("rollback:downgrade")
    assert names.index("prove") < names.index("maintenance:off")
    report = Path(undone.report_md or "").read_text()
    assert "Application writes" in report and "extra (3)" in report


def test_it_refuses_when_a_later_run_moved_the_database_on(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, _flag = _plan(tmp_path)
    work = tmp_path / "w"
    first = api.run_plan(plan, workdir=work)
    assert first.exit_code == ExitCode.OK, first.message
    migrations = tmp_path / "plan" / "migrations"
    (migrations / "0002_more.up.sql").write_text("CREATE TABLE more_stuff (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_more.down.sql").write_text("DROP TABLE more_stuff;\n")
    second = api.run_plan(plan, workdir=work)
    assert second.exit_code == ExitCode.OK, second.message
    refused = api.rollback_run(plan, first.run_id, workdir=work)
    assert refused.exit_code == ExitCode.USAGE and refused.outcome == "blocked", refused.message
    assert second.run_id in refused.message and "nothing was changed" in refused.message
    assert {"extra", "more_stuff"} <= table_names(items_db.url)


def test_the_cli_rolls_back_a_succeeded_run_and_says_so(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, _flag = _plan(tmp_path)
    work = tmp_path / "w"
    done = api.run_plan(plan, workdir=work)
    assert done.exit_code == ExitCode.OK, done.message
    cli = [sys.executable, "-m", "safeshift.cli", "rollback", done.run_id, "--plan", str(plan), "--workdir", str(work)]
    shown = subprocess.run([*cli, "--json"], env=items_db.env, capture_output=True, text=True, timeout=180)
    assert shown.returncode == ExitCode.ROLLED_BACK, shown.stdout + shown.stderr
    data = json.loads(shown.stdout)
    assert data["outcome"] == "rolled_back" and data["rollback"]["proof"]["equal"] is True  # nobody wrote
    assert "extra" not in table_names(items_db.url)
    again = subprocess.run(cli, env=items_db.env, capture_output=True, text=True, timeout=180)
    assert again.returncode == ExitCode.USAGE and "did not succeed" not in again.stdout, again.stdout
