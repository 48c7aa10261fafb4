"""Fenced run locks (issue 19): a run whose lock session is terminated server-side stops at
its next step with its own outcome, changing nothing more; a run whose process is alive is
"running" in status and is never recovered by a second process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift import api, faults
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ExitCode
from safeshift.run.recovery import process_identity


def _kill_lock_session(db: ItemsDb) -> None:
    """What a DBA's pg_terminate_backend / KILL (or a failover) does to the run lock's session."""
    engine = get_dialect(db.url).create_engine()
    try:
        with engine.connect() as conn:
            if db.kind == "postgresql":
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND application_name LIKE 'safeshift %'"
                    ),
                    {"db": db.url.database},
                )
            else:
                from safeshift.dialects.mysql import _lock_names

                holder = conn.execute(sa.text("SELECT IS_USED_LOCK(:n)"), {"n": _lock_names(db.url.database or "")[0]}).scalar()
                assert holder is not None
                conn.execute(sa.text(f"KILL {int(holder)}"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_a_run_that_loses_its_lock_stops_at_its_next_step(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_hit = faults.hit

    def hit(point: str) -> None:
        if point == "preflight:finished":
            _kill_lock_session(items_db)
        real_hit(point)

    monkeypatch.setattr(faults, "hit", hit)
    result = api.run_plan(items_plan(tmp_path / "plan"), workdir=tmp_path / "w")
    assert result.outcome == "lost_lock" and result.exit_code == ExitCode.ROLLBACK_FAILED, result.message
    assert "lost the database's run lock" in result.message
    names = [p.name for p in result.phases]
    assert names == ["preflight"], names  # no snapshot, no backup, no apply after the loss
    engine = get_dialect(items_db.url).create_engine()
    try:
        with engine.connect() as conn:
            assert "extra" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    journal = Path(result.journal or "").read_text().splitlines()
    assert sum('"finished"' in line and '"run"' in line for line in journal) == 1


def test_a_run_whose_process_lives_is_running_and_never_recovered(items_db: ItemsDb, tmp_path: Path) -> None:
    """A journal left open by a process that is alive (here: this one): status says running
    and advises nothing; rollback and resume refuse; a new run refuses even with --force."""
    plan, work = items_plan(tmp_path / "plan"), tmp_path / "w"
    folder = work / ".safeshift" / "runs" / "20261202T000000000Z-a1b2c3"
    folder.mkdir(parents=True)
    database = api.status(plan, workdir=work).database
    event = {"ts": "2026-12-02T00:00:00Z", "phase": "run", "event": "started", "plan": str(plan), "database": database}
    (folder / "journal.jsonl").write_text(json.dumps({**event, **process_identity()}) + "\n")
    runs = api.status(plan, workdir=work).runs
    assert runs[0]["outcome"] == "running" and runs[0]["next"] is None, runs
    for recover in (api.rollback_run, api.resume_run):
        with pytest.raises(ConfigError, match="is still running"):
            recover(plan, folder.name, workdir=work)
    refused = api.run_plan(plan, workdir=work, force=True)
    assert refused.exit_code == ExitCode.USAGE and "still running" in refused.message
    assert os.getpid() == process_identity()["pid"]
