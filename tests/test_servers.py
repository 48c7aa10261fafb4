"""Run-level guarantees that matter most on servers: one run per database, lock waits that
never stall writers for long, and no password anywhere. Parametrized over all databases
where the behaviour exists; server cases need PostgreSQL / MariaDB (skip locally, fail in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from helpers import family_plan, server_url
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan
from safeshift.run import run_plan

USERS = 2000


def plan_in(tmp_path: Path, extra: str = "") -> Path:
    return family_plan(tmp_path / f"plan-{uuid.uuid4().hex[:6]}", extra)


@pytest.fixture
def family_users() -> int:
    return USERS  # the family fixture's size here


def revision(url: URL) -> str | None:
    engine = get_dialect(url).create_engine()
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_second_run_is_refused_and_first_completes(family: URL, tmp_path: Path) -> None:
    plan = load_plan(plan_in(tmp_path))
    results: dict[str, Any] = {}
    entered = threading.Event()

    class SlowObserver:
        """Keeps the first run inside its lock long enough for the second to knock."""

        def phase_started(self, name: str) -> None:
            if name == "snapshot":
                entered.set()
                time.sleep(1.5)

        def phase_finished(self, phase: Any) -> None:
            pass

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

    first = threading.Thread(target=lambda: results.setdefault("first", run_plan(plan, observer=SlowObserver())))
    first.start()
    assert entered.wait(30)
    second = run_plan(plan)
    first.join()
    assert second.outcome == "blocked" and int(second.exit_code) == 2
    assert results["first"].run_id in second.message
    assert results["first"].started in second.message
    assert results["first"].outcome == "succeeded", results["first"].message
    assert revision(family) == "0002"


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_alter_behind_open_transaction_times_out_and_never_stalls_writers(
    family: URL, db_kind: str, tmp_path: Path
) -> None:
    lock_timeout = 1.0
    plan = load_plan(
        plan_in(tmp_path, f"\n[apply]\nlock_timeout = {lock_timeout}\nretries = 3\nretry_backoff = 0.3\n")
    )
    engine = get_dialect(family).create_engine()
    holder_started, stop_writer = threading.Event(), threading.Event()
    stalls: list[float] = []

    apply_started = threading.Event()

    class ApplyWatcher:
        def phase_started(self, name: str) -> None:
            if name == "apply":
                apply_started.set()

        def phase_finished(self, phase: Any) -> None:
            pass

        def progress(self, task: str, done: int, total: int | None) -> None:
            pass

    def holder() -> None:  # an open transaction that has read users: the ALTER must wait for it
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT id FROM users WHERE id = 1")).all()
            holder_started.set()
            apply_started.wait(60)
            time.sleep(2.5)  # longer than the lock timeout: the first attempt must give up
            conn.rollback()

    def writer() -> None:  # the application: single-row writes on the table being altered
        with engine.connect() as conn:
            while not stop_writer.is_set():
                started = time.perf_counter()
                conn.execute(sa.text("UPDATE users SET is_active = is_active WHERE id = 2"))
                conn.commit()
                stalls.append(time.perf_counter() - started)
                time.sleep(0.02)

    threads = [threading.Thread(target=holder), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    assert holder_started.wait(10)
    try:
        result = run_plan(plan, observer=ApplyWatcher())
    finally:
        apply_started.set()
        stop_writer.set()
        for t in threads:
            t.join()
        engine.dispose()
    apply = next(p for p in result.phases if p.name == "apply")
    waits = apply.detail["lock_waits"]
    assert waits, apply.detail
    assert all(w["waited_s"] < lock_timeout + 1.0 for w in waits)
    report = json.loads(Path(result.report or "").read_text())
    assert next(p for p in report["phases"] if p["name"] == "apply")["detail"]["lock_waits"]
    assert max(stalls) < lock_timeout + 1.0, f"a writer stalled {max(stalls):.2f}s"
    if db_kind == "postgresql":
        # transactional DDL: nothing was left behind, so the retry goes through
        assert result.outcome == "succeeded", result.message
        assert apply.detail["attempts"] >= 2
        assert revision(family) == "0002"
    else:
        # MariaDB commits each DDL: the half-applied revision is restored from the backup
        assert result.outcome == "rolled_back", result.message
        assert result.rollback.proof.equal is True
        assert revision(family) == "0001"


CANARY = "canary-Pw-7c1f-9e"


@pytest.fixture
def canary_url(db_kind: str, family: URL) -> Iterator[URL]:
    """The family database reached as a user of its own whose password is the canary."""
    if db_kind == "sqlite":
        pytest.skip("SQLite has no passwords")
    admin = get_dialect(server_url(db_kind)).create_engine()
    user = f"ss_canary_{uuid.uuid4().hex[:6]}"
    hosts = ("localhost", "127.0.0.1", "%")
    with admin.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if db_kind == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{CANARY}'"))
        else:
            for host in hosts:
                conn.execute(sa.text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{CANARY}'"))
                conn.execute(sa.text(f"GRANT ALL ON *.* TO '{user}'@'{host}' WITH GRANT OPTION"))
    try:
        yield family.set(username=user, password=CANARY)
    finally:
        if db_kind == "postgresql":  # what the role created lives in the family database
            owner = get_dialect(family).create_engine()
            with owner.connect() as conn:
                conn.execute(sa.text(f"REASSIGN OWNED BY {user} TO postgres"))
                conn.execute(sa.text(f"DROP OWNED BY {user}"))
                conn.commit()
            owner.dispose()
        with admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if db_kind == "postgresql":
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {user}"))
            else:
                for host in hosts:
                    conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
@pytest.mark.parametrize("broken", [False, True])
def test_canary_password_never_leaks(canary_url: URL, tmp_path: Path, broken: bool) -> None:
    plan = plan_in(tmp_path)
    env = {**os.environ, "FAMILY_DATABASE_URL": canary_url.render_as_string(hide_password=False)}
    if broken:
        env["SAFESHIFT_FAMILY_BREAK"] = "apply"  # exercises restore from the backup as well
    seen: set[str] = set()
    done = threading.Event()

    def watch_command_lines() -> None:
        while not done.is_set():
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        seen.add(fh.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.005)

    watcher = threading.Thread(target=watch_command_lines)
    watcher.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "safeshift.cli", "run", "--plan", str(plan), "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )
    finally:
        done.set()
        watcher.join()
    assert proc.returncode == (3 if broken else 0), proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert any("dump" in line for line in seen), "the watcher saw no backup tool run"
    assert not [line for line in seen if CANARY in line]
    assert CANARY not in proc.stdout and CANARY not in proc.stderr
    run_dir = Path(data["journal"]).parent
    for path in run_dir.iterdir():
        assert CANARY.encode() not in path.read_bytes(), path
