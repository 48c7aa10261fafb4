"""The dialects on real databases: backup → verify → restore, run locks, activity, lock
timeouts, facts, and the rule that a password never reaches a command line or an error.

Most tests run on SQLite, PostgreSQL and MariaDB (``db_kind``); server-only behaviour
is parametrized over the two servers.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from helpers import drop_scratch, require_server, scratch_url, server_databases, server_url
from safeshift.dialects import _tools, get_dialect, mysql
from safeshift.dialects.base import BackupInfo, Dialect
from safeshift.errors import BackupError, ConfigError, ConnectError, LockError

SERVERS = ["postgresql", "mysql"]
CANARY = "canary-Pw-7c1f"
RUN_ID = "20240101T000000Z-abc123"
STARTED = "2024-01-01T00:00:00.000Z"


def make_items(engine: Engine, rows: int = 5) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)"))
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(40))"))
        conn.execute(
            sa.text("INSERT INTO items (id, name) VALUES (:id, :name)"),
            [{"id": i, "name": f"item {i}"} for i in range(1, rows + 1)],
        )
        conn.execute(sa.text("INSERT INTO notes (id, body) VALUES (1, 'a')"))


def state(dialect: Dialect, engine: Engine) -> tuple[dict[str, list[str]], dict[str, int]]:
    with engine.connect() as conn:
        return dialect.schema_shape(conn), dialect.row_counts(conn)


def backup(dialect: Dialect, engine: Engine, tmp_path: Path) -> BackupInfo:
    return dialect.backup(engine, tmp_path / "backups" / f"b{dialect.backup_suffix}")


def session_id(conn: Connection, kind: str) -> str:
    sql = "SELECT pg_backend_pid()" if kind == "postgresql" else "SELECT CONNECTION_ID()"
    return str(conn.execute(sa.text(sql)).scalar_one())


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    kind = str(request.param)
    require_server(kind)
    return kind


@pytest.fixture
def server_db(server_kind: str, tmp_path: Path) -> Iterator[tuple[str, URL, Engine]]:
    url = scratch_url(server_kind, tmp_path)
    engine = get_dialect(url).create_engine()
    try:
        yield server_kind, url, engine
    finally:
        engine.dispose()
        drop_scratch(server_kind, url)


# -- backup, verify, restore ------------------------------------------------------------
def test_backup_verify_restore_round_trip(db_url: URL, db_engine: Engine, tmp_path: Path) -> None:
    dialect = get_dialect(db_url)
    make_items(db_engine)
    shape, counts = state(dialect, db_engine)
    info = backup(dialect, db_engine, tmp_path)
    assert Path(info.path).is_file() and info.bytes > 0
    assert not Path(info.path + ".part").exists()
    detail = dialect.verify_backup(info, counts, RUN_ID)
    assert detail["row_counts_equal"] is True

    with db_engine.begin() as conn:  # what a migration might do
        conn.execute(sa.text("CREATE TABLE added (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO added (id) VALUES (1), (2)"))
        conn.execute(sa.text("DELETE FROM items WHERE id = 1"))
        conn.execute(sa.text("INSERT INTO notes (id, body) VALUES (2, 'b')"))
    assert state(dialect, db_engine) != (shape, counts)

    dialect.restore(db_engine, Path(info.path))
    assert state(dialect, db_engine) == (shape, counts)
    with db_engine.connect() as conn:  # the data itself came back, not only the counts
        names = conn.execute(sa.text("SELECT name FROM items ORDER BY id")).scalars().all()
    assert names == [f"item {i}" for i in range(1, 6)]


@pytest.mark.parametrize("db_kind", SERVERS)
def test_verify_drops_its_scratch_database(db_kind: str, db_url: URL, db_engine: Engine, tmp_path: Path) -> None:
    dialect = get_dialect(db_url)
    make_items(db_engine)
    _, counts = state(dialect, db_engine)
    detail = dialect.verify_backup(backup(dialect, db_engine, tmp_path), counts, "Run:ID/With Odd-Chars_01")
    name = detail["scratch_database"]
    assert name.startswith(f"{db_url.database}_safeshift_verify_")
    assert set(name[len(str(db_url.database)):]) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")
    assert detail["tables_compared"] == 2
    assert name not in server_databases(db_kind)


def test_verify_backup_rejects_a_snapshot_that_differs(db_url: URL, db_engine: Engine, tmp_path: Path) -> None:
    dialect = get_dialect(db_url)
    make_items(db_engine)
    _, counts = state(dialect, db_engine)
    info = backup(dialect, db_engine, tmp_path)
    with pytest.raises(BackupError, match="table items has 5 rows, expected 6") as err:
        dialect.verify_backup(info, {**counts, "items": 6}, RUN_ID)
    assert "\n" not in str(err.value)
    with pytest.raises(BackupError, match="ghost"):
        dialect.verify_backup(info, {**counts, "ghost": 0}, RUN_ID)
    if db_url.get_backend_name() != "sqlite":
        assert not [d for d in server_databases(db_url.get_backend_name()) if "_safeshift_verify_" in d]


def test_verify_backup_fails_on_a_broken_backup(server_db: tuple[str, URL, Engine], tmp_path: Path) -> None:
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    _, counts = state(dialect, engine)
    info = backup(dialect, engine, tmp_path)
    Path(info.path).write_bytes(Path(info.path).read_bytes()[: info.bytes // 3])
    with pytest.raises(BackupError, match="failed" if kind == "postgresql" else "incomplete") as err:
        dialect.verify_backup(info, counts, RUN_ID)
    assert "\n" not in str(err.value)


TRICKY_TEXT = ["a),(b", "it's", "back\\slash'),('x", "line\nbreak", "", None, "'", "\\"]


def test_scan_verification_counts_rows_without_loading(server_db: tuple[str, URL, Engine], tmp_path: Path) -> None:
    """``scan`` reads the file: values holding "),(" or quotes are one row each; an empty table counts 0."""
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE empty_one (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE VIEW item_names AS SELECT name FROM items"))
        conn.execute(
            sa.text("INSERT INTO notes (id, body) VALUES (:id, :body)"),
            [{"id": 10 + i, "body": text} for i, text in enumerate(TRICKY_TEXT)],
        )
    _, counts = state(dialect, engine)
    assert counts["notes"] == 1 + len(TRICKY_TEXT) and counts["empty_one"] == 0
    info = backup(dialect, engine, tmp_path)
    before = server_databases(kind)
    detail = dialect.verify_backup(info, counts, RUN_ID, method="scan")
    assert detail == {"method": "scan", "tables_compared": 3, "row_counts_equal": True}
    assert server_databases(kind) == before  # nothing was created to check it
    with pytest.raises(BackupError, match="table notes has 9 rows, expected 10"):
        dialect.verify_backup(info, {**counts, "notes": 10}, RUN_ID, method="scan")


def test_scan_verification_fails_on_a_broken_backup(server_db: tuple[str, URL, Engine], tmp_path: Path) -> None:
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    _, counts = state(dialect, engine)
    info = backup(dialect, engine, tmp_path)
    data = Path(info.path).read_bytes()
    if kind == "mysql":  # rows lost but the closing line kept: only counting notices
        kept = [line for line in data.splitlines(keepends=True) if not line.startswith(b"INSERT INTO `items`")]
        Path(info.path).write_bytes(b"".join(kept))
        expected = "table items has 0 rows, expected 5"
    else:
        Path(info.path).write_bytes(data[: info.bytes // 3])
        expected = "cannot be read by pg_restore"
    with pytest.raises(BackupError, match=expected) as err:
        dialect.verify_backup(info, counts, RUN_ID, method="scan")
    assert "\n" not in str(err.value)


@pytest.mark.server
def test_postgresql_restore_removes_what_the_migration_added(tmp_path: Path) -> None:
    url = scratch_url("postgresql", tmp_path)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        make_items(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA kept"))
            conn.execute(sa.text("CREATE TABLE kept.t (id serial PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO kept.t DEFAULT VALUES"))
            conn.execute(sa.text("CREATE TYPE mood AS ENUM ('ok')"))
        shape, counts = state(dialect, engine)
        info = backup(dialect, engine, tmp_path)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA added"))
            conn.execute(sa.text("CREATE TABLE added.t (id int)"))
            conn.execute(sa.text("CREATE TYPE added_kind AS ENUM ('a', 'b')"))
            conn.execute(sa.text("ALTER TABLE items ADD COLUMN kind added_kind"))
            conn.execute(sa.text("CREATE FUNCTION added_f(x int) RETURNS int LANGUAGE sql AS 'SELECT x'"))
            conn.execute(sa.text("CREATE VIEW added_v AS SELECT id FROM items"))
            conn.execute(sa.text("CREATE SEQUENCE added_seq"))
            conn.execute(sa.text("DROP TABLE kept.t"))
        dialect.restore(engine, Path(info.path))
        assert state(dialect, engine) == (shape, counts)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM kept.t")).scalar_one() == 1
            leftovers = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = 'added' "
                    "UNION ALL SELECT count(*) FROM pg_type WHERE typname IN ('added_kind') "
                    "UNION ALL SELECT count(*) FROM pg_proc WHERE proname = 'added_f' "
                    "UNION ALL SELECT count(*) FROM pg_class WHERE relname IN ('added_v', 'added_seq')"
                )
            ).scalars().all()
            assert leftovers == [0, 0, 0, 0]
            assert conn.execute(sa.text("SELECT count(*) FROM pg_type WHERE typname = 'mood'")).scalar_one() == 1
    finally:
        engine.dispose()
        drop_scratch("postgresql", url)


@pytest.mark.server
def test_postgresql_failed_restore_changes_nothing(tmp_path: Path) -> None:
    """The restore is one transaction: a broken backup leaves the database as it was."""
    url = scratch_url("postgresql", tmp_path)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        make_items(engine)
        info = backup(dialect, engine, tmp_path)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE added (id int)"))
        before = state(dialect, engine)
        broken = tmp_path / "broken.dump"
        broken.write_bytes(Path(info.path).read_bytes()[: info.bytes // 2])
        with pytest.raises(BackupError, match="restoring broken.dump"):
            dialect.restore(engine, broken)
        assert state(dialect, engine) == before
    finally:
        engine.dispose()
        drop_scratch("postgresql", url)


@pytest.mark.server
def test_postgresql_restore_reports_psql_failing_midway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """psql stopping early (here: in its prelude) must neither hang on a full pipe nor commit."""
    from safeshift.dialects import postgresql

    url = scratch_url("postgresql", tmp_path)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.begin() as conn:  # a few MB, more than a pipe holds
            conn.execute(sa.text("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 60000) g"))
        info = backup(dialect, engine, tmp_path)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM big WHERE id > 10"))
        monkeypatch.setattr(postgresql, "_EMPTY_SCHEMAS", "DELETE FROM big; SELECT 1/0;")
        started = time.perf_counter()
        with pytest.raises(BackupError, match="division by zero"):
            dialect.restore(engine, Path(info.path))
        assert time.perf_counter() - started < 30
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM big")).scalar_one() == 10
    finally:
        engine.dispose()
        drop_scratch("postgresql", url)


def test_backup_failure_is_one_line_and_leaves_no_part_file(server_kind: str, tmp_path: Path) -> None:
    url = server_url(server_kind).set(database="ss_no_such_database_here")
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    dest = tmp_path / f"x{dialect.backup_suffix}"
    try:
        with pytest.raises(BackupError, match="ss_no_such_database_here") as err:
            dialect.backup(engine, dest)
    finally:
        engine.dispose()
    assert "\n" not in str(err.value)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_scratch_copy_is_a_restorable_copy(server_db: tuple[str, URL, Engine], tmp_path: Path) -> None:
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    expected = state(dialect, engine)
    copy = dialect.scratch_copy(backup(dialect, engine, tmp_path), "rehearsal", "20260101T000000000Z-abcdef")
    try:
        assert copy.database != url.database
        copy_engine = get_dialect(copy).create_engine()
        try:
            assert state(get_dialect(copy), copy_engine) == expected
        finally:
            copy_engine.dispose()
    finally:
        get_dialect(copy).drop_scratch_copy(copy)
    assert copy.database not in server_databases(kind)


# -- run lock ---------------------------------------------------------------------------
def test_second_run_lock_is_refused_naming_the_first(db_url: URL, db_engine: Engine) -> None:
    first, second = get_dialect(db_url), get_dialect(db_url)
    with first.run_lock(db_engine, RUN_ID, STARTED):
        started = time.perf_counter()
        with pytest.raises(LockError) as err, second.run_lock(db_engine, "20240101T000001Z-def456", STARTED):
            pass
        assert time.perf_counter() - started < 5, "a busy lock must be refused at once"
        assert RUN_ID in str(err.value) and STARTED in str(err.value)
        assert "\n" not in str(err.value)
    with second.run_lock(db_engine, "20240101T000001Z-def456", STARTED):
        pass


def test_run_lock_is_released_when_the_run_fails(db_url: URL, db_engine: Engine) -> None:
    dialect = get_dialect(db_url)
    with pytest.raises(RuntimeError), dialect.run_lock(db_engine, RUN_ID, STARTED):
        raise RuntimeError("the run failed")
    with dialect.run_lock(db_engine, "again", STARTED):
        pass


def test_run_lock_survives_a_restore(server_db: tuple[str, URL, Engine], tmp_path: Path) -> None:
    """Restore ends other sessions, but never the run's own lock."""
    _, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    info = backup(dialect, engine, tmp_path)
    with dialect.run_lock(engine, RUN_ID, STARTED):
        dialect.restore(engine, Path(info.path))
        with pytest.raises(LockError, match=RUN_ID), get_dialect(url).run_lock(engine, "other", STARTED):
            pass


def test_lock_connections_are_not_reported_as_activity(server_db: tuple[str, URL, Engine]) -> None:
    _, url, engine = server_db
    dialect = get_dialect(url)
    with dialect.run_lock(engine, RUN_ID, STARTED), engine.connect() as conn:
        time.sleep(0.2)
        assert dialect.activity(conn, 0) == []


# -- activity and lock timeouts -----------------------------------------------------------
def test_activity_lists_idle_transaction_and_flags_the_blocker(server_db: tuple[str, URL, Engine]) -> None:
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    waiter_done = threading.Event()
    with engine.connect() as idle, engine.connect() as observer:
        holder = session_id(idle, kind)
        idle.execute(sa.text("UPDATE items SET name = 'held' WHERE id = 1"))
        time.sleep(1.2)  # MariaDB keeps trx_started in whole seconds
        sessions = dialect.activity(observer, 0.5)
        observer.rollback()
        mine = [s for s in sessions if s.id == holder]
        assert mine, sessions
        assert mine[0].state == "idle in transaction"
        assert mine[0].seconds is not None and mine[0].seconds >= 0.5
        assert not mine[0].blocking
        assert session_id(observer, kind) not in {s.id for s in sessions}
        assert dialect.activity(observer, 3600) == []
        observer.rollback()

        def wait_for_row() -> None:
            with engine.connect() as conn:
                dialect.prepare_apply_session(conn, 10)
                conn.execute(sa.text("UPDATE items SET name = 'waiter' WHERE id = 1"))
                conn.rollback()
            waiter_done.set()

        waiter = threading.Thread(target=wait_for_row)
        waiter.start()
        try:
            blocking: list[str] = []
            for _ in range(50):
                blocking = [s.id for s in dialect.activity(observer, 3600) if s.blocking]
                observer.rollback()
                if blocking:
                    break
                time.sleep(0.1)
            assert blocking == [holder]
        finally:
            idle.rollback()
            waiter.join(15)
    assert waiter_done.is_set()


def test_is_lock_timeout_recognizes_a_real_lock_timeout(server_db: tuple[str, URL, Engine]) -> None:
    kind, url, engine = server_db
    dialect = get_dialect(url)
    make_items(engine)
    with engine.connect() as holder, engine.connect() as migrator:
        if kind == "postgresql":
            holder.execute(sa.text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        else:  # an open transaction that read the table holds its metadata lock
            holder.execute(sa.text("SELECT * FROM items")).all()
        statements = dialect.prepare_apply_session(migrator, 1.0)
        migrator.commit()
        assert statements == (
            ["SET lock_timeout = '1s'"]
            if kind == "postgresql"
            else ["SET SESSION lock_wait_timeout = 1", "SET SESSION innodb_lock_wait_timeout = 1"]
        )
        started = time.perf_counter()
        with pytest.raises(sa.exc.DBAPIError) as err:
            migrator.execute(sa.text("ALTER TABLE items ADD COLUMN extra INTEGER"))
        assert time.perf_counter() - started < 5
        migrator.rollback()
        holder.rollback()
        assert dialect.is_lock_timeout(err.value)
        assert dialect.is_lock_timeout(err.value.orig)  # type: ignore[arg-type]
        try:  # chained the way the runner may wrap it
            raise RuntimeError("apply failed") from err.value
        except RuntimeError as wrapped:
            assert dialect.is_lock_timeout(wrapped)
        with pytest.raises(sa.exc.DBAPIError) as other:
            migrator.execute(sa.text("SELECT * FROM no_such_table"))
        migrator.rollback()
        assert not dialect.is_lock_timeout(other.value)
        assert not dialect.is_lock_timeout(ValueError("lock"))


# -- facts --------------------------------------------------------------------------------
def test_server_facts(db_kind: str, db_url: URL, db_engine: Engine) -> None:
    dialect = get_dialect(db_url)
    make_items(db_engine)
    with db_engine.connect() as conn:
        if db_kind == "postgresql":
            conn.execute(sa.text("ANALYZE items"))
        facts = dialect.server_facts(conn)
    assert facts.dialect == dialect.name and facts.version
    assert facts.database_bytes and facts.database_bytes > 0
    assert [t.name for t in facts.tables] == ["items", "notes"]
    if db_kind != "sqlite":
        assert facts.database == db_url.database
        assert {"PostgreSQL": "postgresql", "MariaDB": "mysql", "MySQL": "mysql"}[facts.version.split()[0]] == db_kind
        items = facts.tables[0]
        assert items.bytes and items.bytes > 0
        assert items.row_estimate is not None and items.row_estimate >= 0


def test_table_names_and_shape_are_stable(db_url: URL, db_engine: Engine) -> None:
    dialect = get_dialect(db_url)
    make_items(db_engine)
    with db_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE aaa (z INTEGER, a INTEGER, m INTEGER)"))
        conn.execute(sa.text("CREATE VIEW items_view AS SELECT id FROM items"))
    with db_engine.connect() as conn:
        assert dialect.table_names(conn) == ["aaa", "items", "notes"]
        shape = dialect.schema_shape(conn)
        assert list(shape) == ["aaa", "items", "notes"]
        assert [line.split()[1] for line in shape["aaa"] if line.startswith("column ")] == ["z", "a", "m"]
        assert shape["aaa"][0].startswith("column z INT")  # with its type and nullability
        assert dialect.schema_shape(conn) == shape


@pytest.mark.server
def test_postgresql_after_bulk_load_moves_sequences(tmp_path: Path) -> None:
    url = scratch_url("postgresql", tmp_path)
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE s (id serial PRIMARY KEY, v int)"))
            conn.execute(sa.text("CREATE TABLE i (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v int)"))
            conn.execute(sa.text('CREATE TABLE "Odd Name" (v int)'))
            for name in ("s", "i"):
                conn.execute(sa.text(f"INSERT INTO {name} (id, v) VALUES (1, 1), (7, 7)"))  # noqa: S608
            dialect.after_bulk_load(conn, ["s", "i", "Odd Name"])
            for name in ("s", "i"):
                new_id = conn.execute(sa.text(f"INSERT INTO {name} (v) VALUES (8) RETURNING id")).scalar_one()  # noqa: S608
                assert new_id == 8
    finally:
        engine.dispose()
        drop_scratch("postgresql", url)


# -- connecting, drivers, tools --------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mariadb+pymysql"),
    ],
)
def test_create_engine_uses_the_installed_drivers(given: str, driver: str) -> None:
    engine = get_dialect(make_url(given)).create_engine()
    assert engine.url.drivername == driver
    engine.dispose()


@pytest.mark.parametrize("dialect", SERVERS)  # a URL of each server kind, no server needed
def test_check_reachable_is_one_line_without_password(dialect: str) -> None:
    url = server_url(dialect).set(port=1, password=CANARY)  # nothing listens on port 1
    with pytest.raises(ConnectError) as err:
        get_dialect(url).check_reachable()
    assert CANARY not in str(err.value) and "\n" not in str(err.value)
    assert "***" in str(err.value)


def test_check_reachable_names_a_missing_database(server_kind: str) -> None:
    url = server_url(server_kind).set(database="ss_missing_" + uuid.uuid4().hex[:6])
    with pytest.raises(ConnectError, match=str(url.database)):
        get_dialect(url).check_reachable()


@pytest.mark.parametrize(
    ("dialect", "missing", "package"),
    [
        ("postgresql", {"pg_dump"}, "postgresql-client"),
        ("postgresql", {"psql"}, "postgresql-client"),
        ("mysql", {"mariadb-dump", "mysqldump"}, "mariadb-client"),
        ("mysql", {"mariadb", "mysql"}, "mariadb-client"),
    ],
)
def test_check_tools_names_the_package(
    dialect: str, missing: set[str], package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name in missing else real(name))
    with pytest.raises(ConfigError, match=package):
        get_dialect(server_url(dialect)).check_tools()


def test_check_tools_accepts_either_mysql_dump_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the mariadb-* tools the mysql* ones are found and accepted: no ConfigError."""
    asked: list[str] = []

    def which(name: str) -> str | None:
        asked.append(name)
        return None if name.startswith("mariadb") else f"/usr/bin/{name}"

    monkeypatch.setattr(shutil, "which", which)
    assert get_dialect(server_url("mysql")).check_tools() is None
    assert asked == ["mariadb-dump", "mysqldump", "mariadb", "mysql"]  # each fallback was looked for
    assert _tools.find_tool(mysql.DUMP_TOOLS, mysql.PACKAGE) == "/usr/bin/mysqldump"
    assert _tools.find_tool(mysql.CLIENT_TOOLS, mysql.PACKAGE) == "/usr/bin/mysql"


def test_scratch_names_fit_the_servers() -> None:
    long_name = "d" * 70
    for limit in (63, 64):
        name = _tools.scratch_name(long_name, "verify", RUN_ID, limit)
        assert len(name.encode()) <= limit and "_safeshift_verify_" in name
    name = _tools.scratch_name("é" * 40, "verify", RUN_ID, 63)
    assert len(name.encode()) <= 63
    assert _tools.scratch_name("app", "verify", "20240101T000000Z-ABC/12", 63) == "app_safeshift_verify_0000z_abc_12"


# -- secrets ----------------------------------------------------------------------------------
@pytest.fixture
def canary(server_kind: str, tmp_path: Path) -> Iterator[tuple[str, URL]]:
    """A scratch database reached as a user whose password is the canary."""
    url = scratch_url(server_kind, tmp_path, prefix="ss_canary")
    user = f"ss_canary_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server_url(server_kind))
    hosts = ("localhost", "127.0.0.1", "%")
    with admin.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if server_kind == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN CREATEDB PASSWORD '{CANARY}'"))
            conn.execute(sa.text(f'ALTER DATABASE "{url.database}" OWNER TO {user}'))
        else:
            for host in hosts:
                conn.execute(sa.text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{CANARY}'"))
                conn.execute(sa.text(f"GRANT ALL ON `{url.database}%`.* TO '{user}'@'{host}'"))
    try:
        yield server_kind, url.set(username=user, password=CANARY)
    finally:
        drop_scratch(server_kind, url)
        with admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if server_kind == "postgresql":
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {user}"))
            else:
                for host in hosts:
                    conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


def test_password_never_on_a_command_line_nor_in_an_error(
    canary: tuple[str, URL], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, url = canary
    launched: list[dict[str, Any]] = []
    real_popen = subprocess.Popen

    def recording_popen(argv: list[str], **kwargs: Any) -> Any:
        record: dict[str, Any] = {"argv": list(argv), "env": kwargs.get("env") or {}}
        for arg in argv:  # the option file must exist, be private, and hold the password
            if arg.startswith("--defaults-extra-file="):
                path = Path(arg.split("=", 1)[1])
                record["defaults_mode"] = stat.S_IMODE(path.stat().st_mode)
                record["defaults_has_password"] = CANARY in path.read_text()
        launched.append(record)
        return real_popen(argv, **kwargs)

    monkeypatch.setattr(_tools, "Popen", recording_popen)
    dialect = get_dialect(url)
    dialect.check_reachable()
    engine = dialect.create_engine()
    errors: list[str] = []
    try:
        make_items(engine)
        _, counts = state(dialect, engine)
        info = backup(dialect, engine, tmp_path)
        dialect.verify_backup(info, counts, RUN_ID)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM items"))
        with dialect.run_lock(engine, RUN_ID, STARTED):
            dialect.restore(engine, Path(info.path))
            try:
                with get_dialect(url).run_lock(engine, "second", STARTED):
                    pass
            except LockError as exc:
                errors.append(str(exc))
        assert state(dialect, engine)[1] == counts
        try:
            dialect.verify_backup(info, {**counts, "items": 99}, RUN_ID)
        except BackupError as exc:
            errors.append(str(exc))
        broken = tmp_path / f"broken{dialect.backup_suffix}"
        broken.write_bytes(b"this is not a backup\n")
        try:
            dialect.restore(engine, broken)
        except BackupError as exc:
            errors.append(str(exc))
        try:
            get_dialect(url.set(port=1)).check_reachable()
        except ConnectError as exc:
            errors.append(str(exc))
    finally:
        engine.dispose()
    assert len(errors) == 4, errors
    assert launched and all(CANARY not in arg for rec in launched for arg in rec["argv"])
    assert not [e for e in errors if CANARY in e]
    if kind == "postgresql":
        assert all(rec["env"].get("PGPASSWORD") == CANARY for rec in launched)
    else:
        tools = [rec for rec in launched if "defaults_mode" in rec]
        assert tools and all(rec["argv"][1].startswith("--defaults-extra-file=") for rec in tools)
        assert all(rec["defaults_mode"] == 0o600 and rec["defaults_has_password"] for rec in tools)
        leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("safeshift-*.cnf")]
        assert not [p for p in leftovers if CANARY in p.read_text()]


def test_dump_scan_reads_both_insert_layouts(tmp_path: Path) -> None:
    """mysqldump puts an INSERT's tuples on one line, mariadb-dump 10.x one per line."""
    from safeshift.dialects.mysql import scan_dump_counts

    dump = tmp_path / "d.sql"
    dump.write_bytes(
        b"CREATE TABLE `a` (\n  `id` int\n);\n"
        b"INSERT INTO `a` VALUES (1,'x),(y'),(2,'it\\'s'),(3,NULL);\n"
        b"INSERT INTO `a` VALUES (4,'\\\\');\n"
        b"CREATE TABLE `b``q` (\n  `id` int\n);\n"
        b"INSERT INTO `b``q` VALUES\n(1,'a\\nb'),\n(2,'(('),\n(3,0x2829);\n"
        b"CREATE TABLE `empty` (\n  `id` int\n);\n"
        b"/*!50001 CREATE TABLE `some_view` (\n  `id` tinyint NOT NULL\n) */;\n"
        b"-- Dump completed\n"
    )
    assert scan_dump_counts(dump) == {"a": 4, "b`q": 3, "empty": 0}
    dump.write_bytes(b"CREATE TABLE `a` (\n  `id` int\n);\nINSERT INTO `a` VALUES\n(1,'a'),\n")
    with pytest.raises(BackupError, match="rows of table a do not end"):
        scan_dump_counts(dump)
