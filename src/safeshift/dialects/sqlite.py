"""SQLite: the embedded default. Backups use SQLite's online backup API."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url

from safeshift.dialects import _rowsums
from safeshift.dialects.base import BackupInfo, Dialect, Progress, ServerFacts, TableFacts
from safeshift.dialects.observe import LockObserver
from safeshift.errors import BackupError, ConnectError, LockError

_PAGES_PER_STEP = 4096
# an execution option on a Connection: its transactions begin IMMEDIATE (see apply_transactions)
_IMMEDIATE = "safeshift_begin_immediate"
# how SQLite words "the schema has no such thing" and "this is not SQL"
_SCHEMA_ERRORS = ("no such table", "no such column", "no such function", "ambiguous column", "near ", "syntax error")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteDialect(Dialect):
    name = "sqlite"
    backup_suffix = ".sqlite3"
    read_only_sql = ("PRAGMA query_only = ON", "PRAGMA query_only = OFF")

    @property
    def path(self) -> Path | None:
        """The database file, or None for an in-memory database."""
        db = self.url.database
        if not db or db == ":memory:" or db.startswith("file::memory:"):
            return None
        return Path(db).expanduser().resolve()

    def create_engine(self) -> Engine:
        """An engine whose transactions really include DDL (pysqlite's default does not)."""
        engine = create_engine(self.url)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let us emit BEGIN ourselves
            dbapi_conn.execute("PRAGMA busy_timeout = 5000")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

        return engine

    def lock_observer(self) -> LockObserver:
        """The database's write lock per statement, and tables replaced by a rebuild."""
        from safeshift.dialects.sqlite_observe import SQLiteLockObserver

        return SQLiteLockObserver()

    @contextlib.contextmanager
    def apply_transactions(self, conn: Connection) -> Iterator[None]:
        """Every transaction begun on ``conn`` meanwhile is ``BEGIN IMMEDIATE``.

        A DEFERRED transaction that reads (a version table, the rows a statement copies) and
        then writes cannot wait for a writer that got in between: SQLite answers "database is
        locked" at once, as waiting could deadlock. IMMEDIATE takes the write lock first,
        waiting up to busy_timeout; the application's writers then wait for the migration on
        their own busy_timeout instead of failing. Reads elsewhere stay DEFERRED, so a long
        check or snapshot never blocks writers. The option lives on this Connection only (not
        its pooled DB-API connection), and is taken off again even when an interrupt
        invalidated the connection.
        """
        before = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.execution_options(**{_IMMEDIATE: True})
        try:
            yield
        finally:
            conn.execution_options(**{_IMMEDIATE: before})

    def approval_name(self) -> str:
        """A SQLite database is named by its file's name."""
        return Path(self.url.database or "").name

    def check_reachable(self) -> None:
        path = self.path
        if path is None:
            return
        if not path.parent.is_dir():
            raise ConnectError(f"cannot open SQLite database {path}: directory {path.parent} does not exist")
        if not path.exists():
            raise ConnectError(f"cannot open SQLite database {path}: file does not exist")
        if not path.is_file():
            raise ConnectError(f"cannot open SQLite database {path}: not a file")
        with open(path, "rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":  # an empty file is a new, empty database
            raise ConnectError(f"database.url: {path} is not a SQLite database (it holds something else)")

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """SQLite's lock wait ends in "database is locked" once busy_timeout has passed."""
        orig = getattr(exc, "orig", exc)
        return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)

    def is_schema_error(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", exc)
        return isinstance(orig, sqlite3.OperationalError) and str(orig).startswith(_SCHEMA_ERRORS)

    def server_facts(self, conn: Connection) -> ServerFacts:
        page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
        page_count = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        tables = [TableFacts(name=name) for name in self.table_names(conn)]
        try:  # dbstat is compiled in most builds; sizes are a bonus, not a requirement
            rows = conn.exec_driver_sql(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"
            ).all()
            sizes = {str(r[0]): int(r[1]) for r in rows}
            for facts in tables:
                facts.bytes = sizes.get(facts.name)
        except Exception:
            conn.rollback()
        for facts, analyzed in zip(tables, _stat1_rows(conn, [t.name for t in tables]), strict=True):
            if analyzed is not None:
                facts.row_estimate, facts.estimate_source = analyzed, "sqlite_stat1"
        self.settle_estimates(conn, tables)
        return ServerFacts(
            dialect=self.name,
            version=f"SQLite {sqlite3.sqlite_version}",
            database=str(self.path or ":memory:"),
            database_bytes=page_size * page_count,
            tables=tables,
        )

    # -- backup -----------------------------------------------------------------------
    def backup(self, engine: Engine, dest: Path, progress: Progress | None = None) -> BackupInfo:
        started = time.perf_counter()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            target = sqlite3.connect(tmp)
            try:

                def step(_status: int, remaining: int, total: int) -> None:
                    if progress:
                        progress(total - remaining, total)

                source.backup(target, pages=_PAGES_PER_STEP, progress=step)
            finally:
                target.close()
            _fsync(tmp)
            os.replace(tmp, dest)
        except (sqlite3.Error, OSError) as exc:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"backup to {dest} failed: {exc}") from None
        finally:
            raw.close()
        return BackupInfo(path=str(dest), bytes=dest.stat().st_size, seconds=time.perf_counter() - started)

    def verify_backup(
        self,
        backup: BackupInfo,
        snapshot: dict[str, int],
        run_id: str,
        method: str = "restore",
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """The backup is itself a database: integrity_check and exact counts (both methods)."""
        counts = self.backup_counts(backup, list(snapshot))
        differ = {t: (snapshot[t], counts.get(t)) for t in snapshot if counts.get(t) != snapshot[t]}
        if differ:
            name, (want, got) = next(iter(differ.items()))
            raise BackupError(
                f"backup {backup.path} does not match the snapshot: table {name} has {got} rows, expected {want}"
            )
        return {"integrity_check": "ok", "tables_compared": len(counts), "row_counts_equal": True}

    def backup_counts(self, backup: BackupInfo, tables: list[str] | None = None) -> dict[str, int]:
        """PRAGMA integrity_check, then each table's rows in the backup file (every table by default)."""
        uri = Path(backup.path).resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise BackupError(f"backup {backup.path} cannot be opened: {exc}") from None
        try:
            integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"]:
                raise BackupError(f"backup {backup.path} failed PRAGMA integrity_check: {integrity[0]}")
            if tables is None:
                tables = [
                    str(r[0]) for r in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                    )
                ]
            return {
                name: int(conn.execute(f"SELECT COUNT(*) FROM {_quote(name)}").fetchone()[0])  # noqa: S608
                for name in tables
            }
        except sqlite3.Error as exc:
            raise BackupError(f"backup {backup.path} cannot be read: {exc}") from None
        finally:
            conn.close()

    def restore(self, engine: Engine, backup_path: Path, progress: Progress | None = None) -> None:
        engine.dispose()  # no pooled connection may hold the file while its pages are replaced
        source = sqlite3.connect(backup_path)
        raw = engine.raw_connection()
        try:
            target = raw.driver_connection
            assert isinstance(target, sqlite3.Connection)
            report = None if progress is None else (lambda _status, remaining, total: progress(total - remaining, total))
            source.backup(target, pages=_PAGES_PER_STEP, progress=report)
        finally:
            source.close()
            raw.close()
        engine.dispose()

    def scratch_copy(self, backup: BackupInfo, label: str, run_id: str) -> URL:
        source = Path(backup.path)
        copy = source.with_name(f"{source.stem}.{label}.scratch.sqlite3")
        shutil.copyfile(source, copy)
        return make_url(f"sqlite:///{copy}")

    def schema_only_copy(self, label: str, run_id: str, folder: Path, rows_of: Sequence[str] = ()) -> URL:
        """A new file in ``folder`` created from the database's ``sqlite_master`` DDL: tables,
        indexes, views and triggers, no rows (but ``rows_of``'s), and the same user_version."""
        source = self.path
        if source is None:
            raise NotImplementedError("an in-memory SQLite database has no schema to copy")
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{run_id}.{label}.scratch.sqlite3"
        self.drop_scratch_copy(make_url(f"sqlite:///{copy}"))
        reader = sqlite3.connect(source.as_uri() + "?mode=ro", uri=True)
        try:
            version = int(reader.execute("PRAGMA user_version").fetchone()[0])
            objects = reader.execute(
                "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid"
            ).fetchall()
        finally:
            reader.close()
        url = make_url(f"sqlite:///{copy}")
        try:
            writer = sqlite3.connect(copy, isolation_level=None)
            try:
                writer.execute("BEGIN")
                for kind, sql in objects:
                    try:
                        writer.execute(sql)
                    except sqlite3.OperationalError as exc:
                        # a virtual table made its shadow tables already (they are listed too)
                        if kind != "table" or "already exists" not in str(exc):
                            raise
                writer.execute(f"PRAGMA user_version = {version}")
                writer.execute("COMMIT")
            finally:
                writer.close()
            self.copy_rows(url, rows_of)
        except BaseException:
            self.drop_scratch_copy(url)
            raise
        return url

    def rows_same_as_backup(self, engine: Engine, backup: Path, tables: list[str], scratch: Path) -> set[str]:
        """The backup file attached read-only beside the database: one join on the key a table."""
        return _rowsums.sqlite_same(engine.url.database, backup, tables)

    def drop_scratch_copy(self, url: URL) -> None:
        if url.database:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(url.database + suffix).unlink(missing_ok=True)

    # -- lock -------------------------------------------------------------------------
    @contextlib.contextmanager
    def run_lock(self, engine: Engine, run_id: str, started: str) -> Iterator[None]:
        path = self.path
        if path is None:
            yield
            return
        lock_path = path.with_name(path.name + ".safeshift-lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                raise LockError(
                    f"another safeshift run holds {path.name}: run {holder.get('run_id', '?')} "
                    f"started {holder.get('started', '?')} (pid {holder.get('pid', '?')})"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"run_id": run_id, "started": started, "pid": os.getpid()}).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _stat1_rows(conn: Connection, tables: list[str]) -> list[int | None]:
    """Per table, the row count ANALYZE left in sqlite_stat1 (the first number of a stat), or None."""
    try:
        rows = conn.exec_driver_sql("SELECT tbl, stat FROM sqlite_stat1").all()
    except Exception:  # no ANALYZE ever ran: no such table
        conn.rollback()
        return [None] * len(tables)
    found: dict[str, int] = {}
    for tbl, stat in rows:
        head = str(stat or "").split(" ", 1)[0]
        if head.isdigit():
            found[str(tbl)] = max(found.get(str(tbl), 0), int(head))
    return [found.get(name) for name in tables]


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
