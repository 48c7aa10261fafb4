"""Faults from the environment: the connection killed mid-apply, the disk full while the
backup is written. Each ends with nothing lost: rolled back and proven, or stopped before
any change."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from helpers import family_plan
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan
from safeshift.run import run_plan


def make_plan(tmp_path: Path, extra: str = "") -> Path:
    return family_plan(tmp_path / "plan", extra)


def state(url: URL) -> tuple[str, dict[str, list[str]], dict[str, int]]:
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    with engine.connect() as conn:
        rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        shape, counts = dialect.schema_shape(conn), dialect.row_counts(conn)
    engine.dispose()
    return str(rev), shape, counts


KILL_WAITING = {
    "postgresql": (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
        "SELECT pg_terminate_backend({id})",
    ),
    "mysql": (
        "SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() "
        "AND id <> CONNECTION_ID() AND state LIKE 'Waiting for table metadata lock%'",
        "KILL {id}",
    ),
}


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_connection_killed_mid_apply(family: URL, db_kind: str, tmp_path: Path) -> None:
    """The apply session is killed while its ALTER waits for a lock: rolled back, proven equal."""
    before = state(family)
    engine = get_dialect(family).create_engine()
    find, kill = KILL_WAITING[db_kind]
    killed: list[int] = []
    holding = threading.Event()

    def holder_and_killer() -> None:
        with engine.connect() as holder, engine.connect() as admin:
            holder.execute(sa.text("SELECT id FROM users WHERE id = 1")).all()  # blocks the ALTER
            holding.set()
            deadline = time.monotonic() + 30
            while not killed and time.monotonic() < deadline:
                for (pid,) in admin.execute(sa.text(find)).all():
                    admin.execute(sa.text(kill.format(id=int(pid))))
                    killed.append(int(pid))
                admin.rollback()
                time.sleep(0.05)
            holder.rollback()

    thread = threading.Thread(target=holder_and_killer)
    thread.start()
    assert holding.wait(10)
    try:
        result = run_plan(load_plan(make_plan(tmp_path, "\n[apply]\nlock_timeout = 20\nretries = 0\n")))
    finally:
        thread.join()
        engine.dispose()
    assert killed, "the apply session was never seen waiting"
    assert result.outcome == "rolled_back", result.message
    assert int(result.exit_code) == 3
    assert result.rollback.proof.equal is True
    assert state(family) == before


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_writing_backup(family: URL, tiny_disk: Path, tmp_path: Path) -> None:
    """The preflight disk check is turned off to reach the real ENOSPC: stopped, nothing changed."""
    before = state(family)
    plan = make_plan(tmp_path)
    text = plan.read_text().replace(
        'directory = ".safeshift/backups"', f'directory = "{tiny_disk}/backups"\nmin_free_ratio = 0'
    ) + "\n[preflight]\nschema_copy = false\n"  # the schema-only copy (SQLite: a file there) would hit it first
    plan.write_text(text)
    result = run_plan(load_plan(plan))
    assert result.outcome == "blocked" and int(result.exit_code) == 2, result.message
    assert "backup" in result.message.lower()
    assert state(family) == before
    leftovers = list((tiny_disk / "backups").glob("*")) if (tiny_disk / "backups").exists() else []
    assert leftovers == [], leftovers
