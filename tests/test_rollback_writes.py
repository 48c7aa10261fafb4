"""No write is lost by a rollback (issue 15): the application writes during the watch window,
through its own connection; the watch trigger fires; the plan's ``[rollback] on_writes``
decides what happens to those rows, and the outcome, exit code and report say which.

The "application" here is a thread that inserts and updates ``items`` while maintenance is
off (the file hook's flag is absent) and the new release's table exists, as a real one would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.faults import EXIT_CODE

WATCHED = """
[maintenance]
kind = "file"
path = "{flag}"

[rollback]
strategy = "{strategy}"
on_writes = "{policy}"

[[checks.post]]
name = "no signups yet"
kind = "python"
function = "live_checks:quiet"

[watch]
duration = 30
interval = 0.2
checks = ["no signups yet"]
"""
LIVE_CHECKS = """
import sqlalchemy as sa


def quiet(conn):
    # passes while maintenance holds the application off; fails (the watch trigger) once it wrote
    return conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar_one() < 210
"""


class App:
    """Inserts new items and updates old ones while the application is live."""

    def __init__(self, db: ItemsDb, flag: Path) -> None:
        self.db, self.flag = db, flag
        self.inserted: list[int] = []
        self.updated: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _live(self, engine: sa.Engine) -> bool:
        return not self.flag.exists() and "extra" in sa.inspect(engine).get_table_names()

    def _run(self) -> None:
        engine = get_dialect(self.db.url).create_engine()
        next_id, step = 5_000, 0
        try:
            while not self.stop.is_set() and len(self.inserted) < 30:
                try:
                    if not self._live(engine):
                        time.sleep(0.005)
                        continue
                    with engine.begin() as conn:
                        if step % 3 == 2:  # one update in three: an old row changes
                            target = 1 + step
                            conn.execute(sa.text("UPDATE items SET qty = :q WHERE id = :id"), {"q": 1000 + step, "id": target})
                            self.updated[target] = 1000 + step
                        else:
                            conn.execute(sa.text("INSERT INTO items (id, qty) VALUES (:id, 7)"), {"id": next_id})
                            self.inserted.append(next_id)
                            next_id += 1
                    step += 1
                except Exception:  # the DDL or a lock of the moment: try again, as an application would
                    time.sleep(0.01)
                time.sleep(0.005)
        finally:
            engine.dispose()

    def __enter__(self) -> App:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _run(db: ItemsDb, tmp_path: Path, policy: str, strategy: str = "downgrade-then-restore") -> tuple[Any, App, Path]:
    flag = tmp_path / "maintenance_on"
    plan = items_plan(tmp_path / "plan", WATCHED.format(flag=flag, policy=policy, strategy=strategy))
    (tmp_path / "plan" / "live_checks.py").write_text(LIVE_CHECKS)
    with App(db, flag) as app:
        result = api.run_plan(plan, workdir=tmp_path / "w")
    assert app.inserted, result.message
    return result, app, flag


def _rows(db: ItemsDb) -> dict[int, int]:
    engine = get_dialect(db.url).create_engine()
    try:
        with engine.connect() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(sa.text("SELECT id, qty FROM items"))}
    finally:
        engine.dispose()


def _writes_of(result: Any) -> dict[str, Any]:
    writes = result.to_dict()["rollback"]["writes"]
    assert [t["table"] for t in writes["tables"]] == ["items"], writes
    return dict(writes["tables"][0])


def test_keep_leaves_the_downgraded_database_with_the_writes_and_lists_them(items_db: ItemsDb, tmp_path: Path) -> None:
    result, app, flag = _run(items_db, tmp_path, "keep")
    assert result.exit_code == ExitCode.ROLLED_BACK and result.outcome == "rolled_back", result.message
    assert "kept" in result.message and "proven equal" not in result.message
    rows = _rows(items_db)
    assert all(i in rows for i in app.inserted) and all(rows[i] == q for i, q in app.updated.items())
    items = _writes_of(result)
    assert items["inserted"] == len(app.inserted) and items["updated"] == len(app.updated), items
    assert not flag.exists()  # the rollback is over: maintenance off again
    report = Path(result.report_md or "").read_text()
    assert "Application writes" in report and "kept" in report


def test_restore_and_save_discards_nothing_unsaved(items_db: ItemsDb, tmp_path: Path) -> None:
    result, app, _flag = _run(items_db, tmp_path, "restore-and-save")
    assert result.exit_code == ExitCode.ROLLBACK_FAILED and result.outcome == "writes_saved", result.message
    assert "proven equal" not in result.message and "re-apply" in result.message
    assert sorted(_rows(items_db)) == list(range(1, 201))  # the before-state, restored
    saved = Path(result.to_dict()["rollback"]["writes"]["saved_to"])
    assert saved.parent == Path(result.report_md or "").parent  # next to the report
    # the file re-applies every discarded row
    engine = get_dialect(items_db.url).create_engine()
    try:
        with engine.begin() as conn:
            for line in saved.read_text().splitlines():
                if line and not line.startswith("--"):
                    conn.exec_driver_sql(line.split(";  --")[0].rstrip(";"))
    finally:
        engine.dispose()
    rows = _rows(items_db)
    assert all(i in rows for i in app.inserted) and all(rows[i] == q for i, q in app.updated.items())


def test_keep_without_a_downgrade_restores_and_saves(items_db: ItemsDb, tmp_path: Path) -> None:
    """strategy = "restore": there is no downgraded database to keep, so the writes are saved."""
    result, app, _flag = _run(items_db, tmp_path, "keep", strategy="restore")
    assert result.outcome == "writes_saved" and result.exit_code == ExitCode.ROLLBACK_FAILED, result.message
    items = _writes_of(result)
    assert items["inserted"] == len(app.inserted) and items["updated"] == len(app.updated), items
    assert sorted(_rows(items_db)) == list(range(1, 201))


def test_stop_changes_nothing_more_and_keeps_maintenance_on(items_db: ItemsDb, tmp_path: Path) -> None:
    result, app, flag = _run(items_db, tmp_path, "stop")
    assert result.exit_code == ExitCode.ROLLBACK_FAILED and result.outcome == "stopped", result.message
    assert "maintenance stays on" in result.message and flag.exists()
    rows = _rows(items_db)  # as the downgrade left it: the writes are there
    assert all(i in rows for i in app.inserted) and all(rows[i] == q for i, q in app.updated.items())
    assert _writes_of(result)["inserted"] == len(app.inserted)


def _killed_then_recovered(db: ItemsDb, tmp_path: Path, policy: str, fault: str) -> tuple[Any, App]:
    """The run dies (like kill -9) at ``fault`` while rolling back the application's writes;
    ``rollback RUN`` then finishes the job."""
    flag = tmp_path / "maintenance_on"
    plan = items_plan(tmp_path / "plan", WATCHED.format(flag=flag, policy=policy, strategy="downgrade-then-restore"))
    (tmp_path / "plan" / "live_checks.py").write_text(LIVE_CHECKS)
    work = tmp_path / "w"
    with App(db, flag) as app:
        killed = subprocess.run(
            [sys.executable, "-m", "safeshift.cli", "run", "--plan", str(plan), "--workdir", str(work)],
            env={**db.env, "SAFESHIFT_FAULT": fault}, capture_output=True, text=True, timeout=180,
        )
    assert killed.returncode == EXIT_CODE, killed.stdout + killed.stderr
    assert app.inserted and flag.exists()  # died with maintenance on
    run_id = next((work / ".safeshift" / "runs").iterdir()).name
    return api.rollback_run(plan, run_id, workdir=work), app


def test_a_kill_during_the_backup_before_the_rollback_keeps_the_writes(items_db: ItemsDb, tmp_path: Path) -> None:
    result, app = _killed_then_recovered(items_db, tmp_path, "keep", "rollback:backup:started")
    assert result.exit_code == ExitCode.ROLLED_BACK and "kept" in result.message, result.message
    assert "proven equal" not in result.message
    rows = _rows(items_db)
    assert all(i in rows for i in app.inserted) and all(rows[i] == q for i, q in app.updated.items())


def test_a_kill_before_the_restore_loses_no_write_unsaved(items_db: ItemsDb, tmp_path: Path) -> None:
    result, app = _killed_then_recovered(items_db, tmp_path, "restore-and-save", "rollback:restore:started")
    assert result.exit_code == ExitCode.ROLLBACK_FAILED and result.outcome == "writes_saved", result.message
    assert "proven equal" not in result.message
    assert sorted(_rows(items_db)) == list(range(1, 201))  # the before-state
    saved = " ".join(p.read_text() for p in Path(result.report_md or "").parent.glob("discarded-writes*.sql"))
    for key in app.inserted + list(app.updated):
        assert f"= {key}" in saved or f"({key}, " in saved, key
    backups = list((tmp_path / "w" / ".safeshift" / "backups").glob("*.before-rollback*"))
    assert len([b for b in backups if not b.name.endswith(".json")]) == 2  # the interrupted one's is kept


def test_the_version_table_is_never_an_application_write(items_db: ItemsDb, tmp_path: Path) -> None:
    """No maintenance (the application counts as live) and a restore: the version table the
    migration moved on is the migrator's bookkeeping, not a write to save (it once made a clean
    restore end "writes_saved", exit 4, with alembic_version's two rows "discarded")."""
    first = api.run_plan(items_plan(tmp_path / "plan"), workdir=tmp_path / "w")
    assert first.exit_code == ExitCode.OK, first.message  # the version table now holds 0001
    plan = items_plan(tmp_path / "plan", FAILS_AFTER_APPLY)
    migrations = plan.parent / "migrations"
    (migrations / "0002_more.up.sql").write_text("CREATE TABLE more_items (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_more.down.sql").write_text("DROP TABLE more_items;\n")
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "rolled_back" and result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert result.to_dict()["rollback"].get("writes") is None and "discarded" not in result.message
    assert not list((tmp_path / "w").rglob("discarded-writes*.sql"))
    assert sorted(_rows(items_db)) == list(range(1, 201))


FAILS_AFTER_APPLY = """
[rollback]
strategy = "restore"

[[checks.post]]
name = "cannot pass"
kind = "row_count"
table = "items"
expect = "== 0"
"""
