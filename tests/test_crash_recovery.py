"""Fault injection: the process dies (os._exit) at every phase boundary and inside apply;
`safeshift resume` or `safeshift rollback` then leaves the database fully migrated with every
check passing, or equal to its snapshot. Nothing is ever lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from helpers import family_plan
from safeshift.dialects import get_dialect

BEFORE_APPLY = ["preflight:started", "preflight:finished", "snapshot:started", "snapshot:finished",
                "backup:started", "backup:finished"]
INSIDE_APPLY = ["apply:started", "apply:statement:1", "apply:statement:4", "apply:statement:9"]
AFTER_APPLY = ["apply:finished", "verify:started", "verify:finished"]
POINTS = BEFORE_APPLY + INSIDE_APPLY + AFTER_APPLY
# Every point on SQLite; on a server one point in each part where its own behaviour is at stake
# (its backup, its DDL inside and outside a transaction, resuming after apply), to keep the suite short:
# the points before the backup change nothing on any database, and test_random_kills.py kills
# at random points on all three as well.
SERVER_POINTS = ["backup:finished", "apply:statement:4", "verify:started"]
CASES = [("sqlite", p) for p in POINTS] + [(kind, p) for kind in ("postgresql", "mysql") for p in SERVER_POINTS]


def cli(plan: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safeshift.cli", *args, "--plan", str(plan), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def family_cli(family: URL, tmp_path: Path) -> tuple[URL, Path, dict[str, str]]:
    """The family database, its plan, and the environment a CLI subprocess runs the plan with."""
    plan = family_plan(tmp_path / "plan")
    env = {**os.environ, "FAMILY_DATABASE_URL": family.render_as_string(hide_password=False)}
    env.pop("SAFESHIFT_FAULT", None)
    return family, plan, env


def database_state(url: URL) -> dict[str, Any]:
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            return {
                "revision": conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar(),
                "shape": dialect.schema_shape(conn),
                "counts": dialect.row_counts(conn),
            }
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(("db_kind", "point"), CASES)
def test_killed_run_recovers(family_cli: tuple[URL, Path, dict[str, str]], point: str) -> None:
    url, plan, env = family_cli
    before = database_state(url)
    killed = cli(plan, "run", env={**env, "SAFESHIFT_FAULT": point})
    assert killed.returncode == 137, killed.stdout + killed.stderr
    runs = list((plan.parent / ".safeshift" / "runs").iterdir())
    assert len(runs) == 1
    run_id = runs[0].name
    assert not (runs[0] / "report.json").exists()

    status = json.loads(cli(plan, "status", env=env).stdout)
    assert status["runs"][0]["outcome"] == "interrupted"

    if point in INSIDE_APPLY + AFTER_APPLY:  # a new run must not start on top of it
        refused = cli(plan, "run", env=env)
        assert refused.returncode == 2 and run_id in json.loads(refused.stdout)["message"]

    if point in AFTER_APPLY:
        resumed = cli(plan, "resume", run_id, env=env)
        data = json.loads(resumed.stdout)
        assert resumed.returncode == 0, data["message"]
        assert data["outcome"] == "succeeded"
        assert all(c["passed"] for c in data["checks"] if c["phase"] == "post")
        after = database_state(url)
        assert after["revision"] == "0002"
        assert after["counts"]["users"] == before["counts"]["users"]
        assert after["counts"]["chores"] == before["counts"]["chores"]
    else:
        if point in INSIDE_APPLY:
            wrong = cli(plan, "resume", run_id, env=env)
            assert wrong.returncode == 2 and "rollback" in wrong.stderr
        rolled = cli(plan, "rollback", run_id, env=env)
        data = json.loads(rolled.stdout)
        assert data["outcome"] in ("rolled_back", "noop"), data["message"]
        if data["outcome"] == "rolled_back":
            assert rolled.returncode == 3 and data["rollback"]["proof"]["equal"] is True
        assert database_state(url) == before
    assert (runs[0] / "report.json").exists()
    # the run is closed: a fresh run now goes through
    final = cli(plan, "run", env=env)
    assert final.returncode == 0 or json.loads(final.stdout)["outcome"] == "noop", final.stdout
    assert database_state(url)["revision"] == "0002"


def test_status_tells_a_running_run_from_a_dead_one(family_cli: tuple[URL, Path, dict[str, str]]) -> None:
    """A run without a report holding the database's lock is running; without the lock it is dead."""
    import threading
    import time

    from safeshift.api import status
    from safeshift.loading import load_plan
    from safeshift.run import run_plan

    url, plan_path, env = family_cli
    os.environ["FAMILY_DATABASE_URL"] = env["FAMILY_DATABASE_URL"]
    plan = load_plan(plan_path)
    inside, release = threading.Event(), threading.Event()

    class Pause:
        def phase_started(self, name: str) -> None:
            if name == "snapshot":
                inside.set()
                release.wait(30)

        def phase_finished(self, phase: Any) -> None:
            pass

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

    thread = threading.Thread(target=lambda: run_plan(plan, observer=Pause()))
    thread.start()
    try:
        assert inside.wait(30)
        time.sleep(0.1)
        runs = status(plan).runs
        assert runs[0]["outcome"] == "running", runs[0]
    finally:
        release.set()
        thread.join()
    assert status(plan).runs[0]["outcome"] == "succeeded"


@pytest.mark.slow
def test_force_starts_anew_over_a_dead_run(family_cli: tuple[URL, Path, dict[str, str]]) -> None:
    url, plan, env = family_cli
    killed = cli(plan, "run", env={**env, "SAFESHIFT_FAULT": "apply:started"})
    assert killed.returncode == 137
    refused = cli(plan, "run", env=env)
    assert refused.returncode == 2 and "--force" in json.loads(refused.stdout)["message"]
    forced = subprocess.run(
        [sys.executable, "-m", "safeshift.cli", "run", "--force", "--plan", str(plan), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    runs = json.loads(cli(plan, "status", env=env).stdout)["runs"]
    assert [r["outcome"] for r in runs] == ["succeeded", "blocked", "abandoned"]  # forced, refused, dead
    assert database_state(url)["revision"] == "0002"
