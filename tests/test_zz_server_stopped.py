"""The database server stops in the middle of a run and comes back: the rollback waits for it,
restores, and proves the database equal to its snapshot. (Named to run last: it restarts the
local MariaDB server.)"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import IN_CI, family_plan, require_server, server_problem, server_url
from safeshift.demo import prepare_family_database
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan
from safeshift.run import run_plan

STOP = ["mariadb-admin", "--protocol=tcp", "-h", "127.0.0.1", "-uroot", "shutdown"]
pytestmark = [pytest.mark.server, pytest.mark.slow]  # it stops and restarts the shared MariaDB

START = ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]


def _up() -> bool:
    return subprocess.run(["mariadb-admin", "--protocol=tcp", "-h", "127.0.0.1", "-uroot", "ping"],
                          capture_output=True).returncode == 0


def _start_and_wait(timeout: float = 60) -> None:
    subprocess.run(START, capture_output=True)
    deadline = time.monotonic() + timeout
    while not _up():
        if time.monotonic() > deadline:
            raise RuntimeError("MariaDB did not come back")
        time.sleep(0.3)


@pytest.fixture
def family_on_mariadb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.engine.URL]:
    require_server("mysql")
    if not IN_CI and subprocess.run(["which", "start-stop-daemon"], capture_output=True).returncode != 0:
        pytest.skip("cannot restart MariaDB here")
    name = f"ss_stop_{uuid.uuid4().hex[:8]}"
    url, _ = prepare_family_database("mysql", tmp_path, 1500, name=name)
    monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        yield url
    finally:
        if not _up():
            _start_and_wait()
        server_problem.cache_clear()
        get_dialect(server_url("mysql")).drop_database(name)


def test_server_stopped_during_apply_is_waited_for_and_rolled_back(
    family_on_mariadb: sa.engine.URL, tmp_path: Path
) -> None:
    restarted = threading.Event()

    class StopServerAtApply:
        def phase_started(self, name: str) -> None:
            if name == "apply":
                subprocess.run(STOP, capture_output=True, check=True)
                while _up():
                    time.sleep(0.1)

                def later() -> None:
                    time.sleep(3)
                    _start_and_wait()
                    restarted.set()

                threading.Thread(target=later, daemon=True).start()

        def phase_finished(self, phase: Any) -> None:
            pass

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

    plan = load_plan(family_plan(tmp_path / "plan"))
    result = run_plan(plan, observer=StopServerAtApply())
    assert restarted.wait(60)
    assert result.outcome == "rolled_back", result.message
    assert int(result.exit_code) == 3
    assert result.rollback.proof.equal is True
    journal = Path(result.journal or "").read_text()
    assert "waiting_for_database" in journal
    engine = get_dialect(family_on_mariadb).create_engine()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()


def test_server_gone_longer_than_the_wait_exits_4_then_rollback_again(
    family_on_mariadb: sa.engine.URL, tmp_path: Path
) -> None:
    """Past [rollback] wait_for_database the run ends unproven (exit 4) and blocks new runs;
    once the server is back, `rollback RUN` finishes the job and proves it."""
    from safeshift.run import rollback_run

    class StopServerAtApply:
        def phase_started(self, name: str) -> None:
            if name == "apply":
                subprocess.run(STOP, capture_output=True, check=True)
                while _up():
                    time.sleep(0.1)

        def phase_finished(self, phase: Any) -> None:
            pass

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

    wait_briefly = 'strategy = "downgrade-then-restore"\nwait_for_database = 1'
    plan = load_plan(family_plan(tmp_path / "plan", edit=lambda t: t.replace('strategy = "downgrade-then-restore"', wait_briefly)))
    try:
        failed = run_plan(plan, observer=StopServerAtApply())
    finally:
        _start_and_wait()
    assert failed.outcome == "failed" and int(failed.exit_code) == 4, failed.message
    assert "a person must act" in failed.message
    refused = run_plan(plan)
    assert refused.outcome == "blocked" and failed.run_id in refused.message
    again = rollback_run(plan, failed.run_id)
    assert again.outcome == "rolled_back", again.message
    assert again.rollback.proof.equal is True
    assert run_plan(plan).outcome == "succeeded"
