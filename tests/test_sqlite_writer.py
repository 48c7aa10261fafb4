"""SQLite with a live writer (issue 15, item 6): apply takes the write lock up front.

A DEFERRED transaction that reads and then writes cannot wait for another connection's
write lock: SQLite answers "database is locked" at once. Apply therefore begins with
``BEGIN IMMEDIATE`` (waiting up to busy_timeout), and the application's writer waits for
the short migration on its own busy_timeout instead of failing, and loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import Pool

from helpers import EXAMPLES, ItemsDb, items_plan
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.loading import load_plan
from safeshift.migrators.alembic import AlembicMigrator
from safeshift.run.context import NullObserver

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])

# reads items first (a SHARED lock), for long enough that the writer queues behind it, then writes:
# under a DEFERRED BEGIN the CREATE fails at once with "database is locked"
READ_THEN_WRITE = """\
SELECT COUNT(*) FROM items, (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500) SELECT x FROM n);
CREATE TABLE extra (id INTEGER PRIMARY KEY);
INSERT INTO extra (id) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000) SELECT x FROM n;
"""
NO_RETRIES = "\n[apply]\nretries = 0\n"


class ApplyStarted(NullObserver):
    def __init__(self) -> None:
        self.apply = threading.Event()

    def phase_started(self, name: str) -> None:
        if name == "apply":
            self.apply.set()


class Writer(threading.Thread):
    """The application: on its own sqlite3 connection, one transaction after another that
    updates a row and (once apply began, so the backup still matches the snapshot) inserts one."""

    def __init__(self, path: str, rows: int, inserting: threading.Event) -> None:
        super().__init__(daemon=True)
        self.path, self.rows, self.inserting = path, rows, inserting
        self.stop = threading.Event()
        self.updated: dict[int, int] = {}  # id -> qty, as committed
        self.inserted: list[int] = []
        self.commits = 0
        self.errors: list[str] = []

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        next_id, n = 100_000, 0
        try:
            while not self.stop.is_set():
                n += 1
                row, qty = n % self.rows + 1, 1000 + n
                insert = self.inserting.is_set()
                try:
                    conn.execute("BEGIN")  # deferred, as an application's would be
                    conn.execute("UPDATE items SET qty = ? WHERE id = ?", (qty, row))
                    if insert:
                        conn.execute("INSERT INTO items (id, qty) VALUES (?, ?)", (next_id, 1))
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self.errors.append(str(exc))
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                else:
                    self.commits += 1
                    self.updated[row] = qty
                    if insert:
                        self.inserted.append(next_id)
                        next_id += 1
                time.sleep(0.002)
        finally:
            conn.close()


def test_apply_waits_for_a_live_writer_and_the_writer_waits_for_apply(
    items_db: ItemsDb, items_rows: int, tmp_path: Path
) -> None:
    plan = items_plan(tmp_path / "plan", NO_RETRIES)
    (tmp_path / "plan" / "migrations" / "0001_extra.up.sql").write_text(READ_THEN_WRITE)
    observer = ApplyStarted()
    writer = Writer(items_db.url.database or "", items_rows, observer.apply)
    writer.start()
    try:
        time.sleep(0.05)
        result = api.run_plan(plan, workdir=tmp_path / "w", observer=observer)
        time.sleep(0.05)  # a few writes after the run, too
    finally:
        writer.stop.set()
        writer.join(10)
    assert result.exit_code == ExitCode.OK, result.message
    apply = next(p for p in result.phases if p.name == "apply")
    assert apply.detail["attempts"] == 1 and not apply.detail["lock_waits"], apply.detail
    assert writer.errors == []
    assert writer.inserted and writer.commits > 10
    with sqlite3.connect(items_db.url.database or "") as conn:
        qty = dict(conn.execute("SELECT id, qty FROM items").fetchall())
        assert conn.execute("SELECT COUNT(*) FROM extra").fetchone()[0] == 100_000
    assert all(qty.get(i) == 1 for i in writer.inserted)
    assert {i: qty.get(i) for i in writer.updated} == writer.updated


def test_ctrl_c_inside_the_immediate_transaction_rolls_back_and_frees_the_writer(
    items_db: ItemsDb, items_rows: int, tmp_path: Path
) -> None:
    """A real SIGINT right after the CREATE (statement 6 on apply's connection: the version
    table's read with its BEGIN IMMEDIATE, the file's BEGIN IMMEDIATE, its long read, the CREATE):
    the transaction is rolled back, the lock released, and the downgrade-based rollback
    finishes while the writer keeps writing."""
    plan = items_plan(tmp_path / "plan", NO_RETRIES + '\n[rollback]\nstrategy = "downgrade"\nprove_contents = false\n')
    (tmp_path / "plan" / "migrations" / "0001_extra.up.sql").write_text(READ_THEN_WRITE)
    writer = Writer(items_db.url.database or "", items_rows, threading.Event())  # updates only: counts hold
    writer.start()
    try:
        time.sleep(0.05)
        done = subprocess.run(
            [sys.executable, "-m", "safeshift.cli", "run", "--plan", str(plan), "--workdir", str(tmp_path / "w"), "--json"],
            env={**items_db.env, "SAFESHIFT_FAULT": "apply:statement:6:sigint"},
            capture_output=True, text=True, timeout=120,
        )
        time.sleep(0.05)
    finally:
        writer.stop.set()
        writer.join(10)
    data = json.loads(done.stdout)
    assert done.returncode == ExitCode.ROLLED_BACK, data["message"]
    assert data["message"].startswith("interrupted (Ctrl-C); rolled back and proven equal"), data["message"]
    assert [s["step"] for s in data["rollback"]["steps"]] == ["downgrade"]
    assert writer.errors == [] and writer.commits > 10
    with sqlite3.connect(items_db.url.database or "") as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
        qty = dict(conn.execute("SELECT id, qty FROM items").fetchall())
    assert {i: qty.get(i) for i in writer.updated} == writer.updated  # no restore undid a write


def test_apply_holds_the_write_lock_from_begin(items_db: ItemsDb, tmp_path: Path) -> None:
    """The migration's first statement touches no table, so only BEGIN IMMEDIATE can be why
    another connection's BEGIN IMMEDIATE (busy_timeout 0) is refused at that moment."""
    path = items_db.url.database or ""
    seen: list[str] = []

    def probe() -> int:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append("got the write lock")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return 1

    def register(dbapi_conn: Any, _record: Any) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            dbapi_conn.create_function("probe_write_lock", 0, probe)

    # the probe asks about this database: only apply may call it (not the observation on a copy)
    plan = items_plan(tmp_path / "plan", NO_RETRIES + "\n[lint]\nobserve = false\n")
    up = tmp_path / "plan" / "migrations" / "0001_extra.up.sql"
    up.write_text("SELECT probe_write_lock();\n" + up.read_text())
    event.listen(Pool, "connect", register)
    try:
        result = api.run_plan(plan, workdir=tmp_path / "w")
    finally:
        event.remove(Pool, "connect", register)
    assert result.exit_code == ExitCode.OK, result.message
    assert seen == ["database is locked"]


@pytest.mark.parametrize("example", ["family", "family-online"])
def test_alembic_runs_its_ddl_inside_the_immediate_transaction(
    example: str, db_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic gets safeshift's connection (``config.attributes``): every statement that writes
    runs in a transaction that began IMMEDIATE, whichever way env.py begins (one transaction,
    one per revision, the online example's autocommit block for its backfill)."""
    url = sa.make_url(f"sqlite:///{tmp_path / 'family.sqlite3'}")
    monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
    dialect = get_dialect(url)
    migrator = AlembicMigrator(load_plan(EXAMPLES / example / "safeshift.toml"))
    engine = dialect.create_engine()
    trace: list[str] = []
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.set_trace_callback(lambda sql: trace.append(" ".join(sql.split())))
            with dialect.apply_transactions(conn):
                migrator.upgrade(conn, "head")
            if conn.in_transaction():
                conn.commit()
            conn.connection.driver_connection.set_trace_callback(None)
            assert migrator.current(conn) is not None
    finally:
        engine.dispose()
    begins = [s for s in trace if s.upper().startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN IMMEDIATE"}, begins
    in_transaction, writes = False, 0
    for sql in trace:
        head = sql.split(" ", 1)[0].upper()
        if head == "BEGIN":
            in_transaction = True
        elif head in ("COMMIT", "ROLLBACK", "END"):
            in_transaction = False
        elif head in ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"):
            writes += 1
            assert in_transaction, f"outside a transaction: {sql}"
    assert writes > 3
