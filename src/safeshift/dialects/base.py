"""The dialect interface: how one kind of database is backed up, restored, locked and read.

Everything that differs between SQLite, PostgreSQL and MySQL/MariaDB lives behind this
interface, one module per database, so the runner never asks which database it is on.
"""

from __future__ import annotations

import contextlib
import glob
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import MetaData, Table, create_engine, event, func, inspect, select, table
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import Pool

from safeshift.dialects.observe import LockObserver

# progress(done, total) for long work such as a backup; total may be None when unknown.
Progress = Callable[[int, int | None], None]


# A table's statistics are replaced by an exact COUNT(*) when they are missing or say fewer rows
# than this (statistics of small and new tables are the least reliable, and counting them is cheap).
EXACT_BELOW = 100_000
# Used when a table has no statistics and is too big to count in preflight: bytes per row assumed
# to turn its size on disk into an estimate (cautious: a 2 GB table is never taken for an empty one).
ASSUMED_ROW_BYTES = 100
COUNT_AT_MOST = 10_000_000  # rows (from size) beyond which a table without statistics is not counted


@dataclass
class TableFacts:
    name: str
    row_estimate: int | None = None
    bytes: int | None = None
    # where row_estimate comes from: "exact" (COUNT(*)), or the statistics read
    # ("pg_class.reltuples", "information_schema", "sqlite_stat1"); None: unknown
    estimate_source: str | None = None


@dataclass
class ServerFacts:
    dialect: str
    version: str
    database: str
    database_bytes: int | None
    tables: list[TableFacts] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BackupInfo:
    path: str
    bytes: int
    seconds: float
    verified: bool = False
    verify_detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Session:
    """A database session seen by the activity check."""

    id: str
    user: str | None
    state: str | None
    seconds: float | None
    query: str | None
    blocking: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SchemaShape = dict[str, list[str]]  # table -> its shape, one line per column, key, index, constraint


def _type_text(column: dict[str, Any], conn: Connection) -> str:
    try:
        return str(column["type"].compile(dialect=conn.dialect))
    except Exception:  # a type this SQLAlchemy cannot render: its repr still tells types apart
        return repr(column["type"])


def _names(values: Any) -> str:
    return ", ".join(str(v) for v in values or [])


def _table_shape(insp: Any, table: str, conn: Connection, check_text: Any = None) -> list[str]:
    lines = []
    for c in insp.get_columns(table):
        default = c.get("default")
        lines.append(
            f"column {c['name']} {_type_text(c, conn)} {'NULL' if c.get('nullable', True) else 'NOT NULL'}"
            + (f" DEFAULT {' '.join(str(default).split())}" if default is not None else "")
        )
    pk = insp.get_pk_constraint(table).get("constrained_columns")
    if pk:
        lines.append(f"primary key ({_names(pk)})")
    parts = []
    for ix in insp.get_indexes(table):
        columns = _names(ix.get("column_names")) if any(ix.get("column_names") or []) else _names(ix.get("expressions"))
        parts.append(f"{'unique ' if ix.get('unique') else ''}index {ix.get('name')} ({columns})")
    for uc in insp.get_unique_constraints(table):
        parts.append(f"unique {uc.get('name')} ({_names(uc.get('column_names'))})")
    for fk in insp.get_foreign_keys(table):
        options = " ".join(f"{k} {v}" for k, v in sorted((fk.get("options") or {}).items()))
        parts.append(
            f"foreign key {fk.get('name')} ({_names(fk.get('constrained_columns'))}) references "
            f"{fk.get('referred_table')} ({_names(fk.get('referred_columns'))}) {options}".rstrip()
        )
    try:
        checks = insp.get_check_constraints(table)
    except NotImplementedError:
        checks = []
    for ck in checks:
        text = " ".join(str(ck.get("sqltext")).split())
        parts.append(f"check {ck.get('name')}: {check_text(text) if check_text is not None else text}")
    return lines + sorted(parts)


class Dialect(ABC):
    """Per-database behaviour. Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str]
    backup_suffix: ClassVar[str] = ".backup"
    # whether the server can be asked which lock class a DDL needs (a rehearsal then asks)
    asks_lock_classes: ClassVar[bool] = False
    # statements that make a session read-only and writable again (checks run read-only)
    read_only_sql: ClassVar[tuple[str, str]]

    def __init__(self, url: URL) -> None:
        self.url = url

    # -- connecting -------------------------------------------------------------------
    def create_engine(self) -> Engine:
        """An engine for the target database."""
        return create_engine(self.url, pool_pre_ping=True)

    @classmethod
    @contextlib.contextmanager
    def read_only(cls, conn: Connection) -> Iterator[None]:
        """Run what follows on ``conn`` in read-only transactions: user checks can read, never write.

        The setting is the session's, so a check that commits (``COMMIT`` in its SQL, a
        Python check's own ``commit()``) is still read-only in the transaction after.
        """
        on, off = cls.read_only_sql
        if conn.in_transaction():
            conn.rollback()
        conn.exec_driver_sql(on)
        conn.commit()
        try:
            yield
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql(off)
            conn.commit()

    def approval_name(self) -> str:
        """What a person types to approve a run: the database's name."""
        return self.url.database or ""

    def check_reachable(self) -> None:
        """Raise ``ConnectError`` with one line when the database cannot be used at all."""

    @contextlib.contextmanager
    def connected(self) -> Iterator[Connection]:
        """A connection of its own engine (disposed after); a driver's failure is one line naming
        the masked URL (``ConnectError``), a SafeshiftError passes as it is."""
        from safeshift.errors import ConnectError, SafeshiftError
        from safeshift.secrets import first_line, safe_url

        engine = self.create_engine()
        try:
            with engine.connect() as conn:
                yield conn
        except SafeshiftError:
            raise
        except Exception as exc:
            raise ConnectError(f"cannot connect to {safe_url(self.url)}: {first_line(exc)}") from None
        finally:
            engine.dispose()

    def check_tools(self) -> None:
        """Raise ``ConfigError`` naming the package when a backup tool is missing."""

    # -- facts ------------------------------------------------------------------------
    @abstractmethod
    def server_facts(self, conn: Connection) -> ServerFacts:
        """Version, database size, per-table row estimates and sizes."""

    def settle_estimates(self, conn: Connection, tables: list[TableFacts]) -> None:
        """Count exactly the tables without statistics (unless their size says they are huge)
        or whose statistics say fewer than :data:`EXACT_BELOW` rows, and say where each number
        comes from (``estimate_source``)."""
        for facts in tables:
            estimate = facts.row_estimate
            if estimate is not None and estimate >= EXACT_BELOW:
                continue
            if estimate is None and facts.bytes is not None and facts.bytes // ASSUMED_ROW_BYTES >= COUNT_AT_MOST:
                continue  # left to the size-based estimate: counting would take too long here
            try:
                counted = conn.execute(select(func.count()).select_from(table(facts.name))).scalar_one()
            except SQLAlchemyError:
                if conn.in_transaction():
                    conn.rollback()
                continue
            facts.row_estimate, facts.estimate_source = int(counted), "exact"

    def table_names(self, conn: Connection) -> list[str]:
        return sorted(inspect(conn).get_table_names())

    def row_counts(self, conn: Connection, tables: list[str] | None = None) -> dict[str, int]:
        """Exact row count of every table (the snapshot)."""
        names = self.table_names(conn) if tables is None else tables
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        return counts

    def schema_shape(self, conn: Connection) -> SchemaShape:
        """Every table's full shape as the database reports it, one comparable line per part.

        Columns in order with type, nullability and default; the primary key; indexes; unique,
        foreign-key and check constraints. A rollback is proven only when every line is back:
        a column left as TEXT that was VARCHAR(5000), or a lost index, is a difference.
        """
        insp = inspect(conn)
        return {name: _table_shape(insp, name, conn, self.check_text) for name in sorted(insp.get_table_names())}

    def check_text(self, sqltext: str) -> str:
        """A CHECK constraint's expression as compared by the proof: the same constraint must
        read the same after a dump and restore (PostgreSQL re-spells its casts)."""
        return sqltext

    def activity(self, conn: Connection, older_than_s: float) -> list[Session]:
        """Sessions with transactions open longer than ``older_than_s`` or blocking others."""
        return []

    # -- housekeeping for demos, tests and scratch copies ------------------------------
    def recreate_database(self, name: str) -> URL:
        """Drop and create database ``name`` on this server; return its URL (server dialects)."""
        raise NotImplementedError(f"{self.name} cannot create databases")

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` on this server if it exists (server dialects)."""
        raise NotImplementedError(f"{self.name} cannot drop databases")

    def scratch_copy(self, backup: BackupInfo, label: str, run_id: str) -> URL:
        """Restore ``backup`` into a new scratch database named after ``run_id`` (rehearsals, the
        proof); drop it with :meth:`drop_scratch_copy`, or after a crash with :meth:`drop_leftovers`."""
        raise NotImplementedError(f"{self.name} cannot make scratch copies")

    def lock_alive(self) -> bool:
        """Does this process still hold the run lock it took? (A file lock cannot be taken away.)"""
        return True

    def check_scratch(self, run_id: str, why: str) -> None:
        """Preflight: can scratch copies be made (``why`` needs them)? Files always can."""

    def schema_only_copy(self, label: str, run_id: str, folder: Path, rows_of: Sequence[str] = ()) -> URL:
        """A new scratch database with this one's schema and no rows, except those of the tables
        ``rows_of`` (the migration's version table: the copy must be at the same revision).

        Named after ``run_id`` like :meth:`scratch_copy` (a file in ``folder`` for SQLite), so
        :meth:`drop_scratch_copy` removes it and, after a crash, :meth:`drop_leftovers`. It takes
        seconds whatever the database's size: no row is read but the version table's.
        """
        raise NotImplementedError(f"{self.name} cannot make schema-only copies")

    def copy_rows(self, copy: URL, tables: Sequence[str]) -> None:
        """Copy every row of ``tables`` (those that exist; small bookkeeping tables) into ``copy``."""
        if not tables:
            return
        source, target = self.create_engine(), type(self)(copy).create_engine()
        try:
            with source.connect() as src, target.begin() as dst:
                present = set(inspect(src).get_table_names())
                for name in tables:
                    if name not in present:
                        continue
                    reflected = Table(name, MetaData(), autoload_with=src)
                    rows = [dict(row._mapping) for row in src.execute(select(reflected))]
                    if rows:
                        dst.execute(reflected.insert(), rows)
        finally:
            source.dispose()
            target.dispose()

    def backup_counts(self, backup: BackupInfo) -> dict[str, int]:
        """Rows per table as the backup file holds them, read from the file itself (so the file
        is complete and readable); BackupError when it is not."""
        raise NotImplementedError

    def drop_leftovers(self, run_id: str, backup_dir: Path) -> list[str]:
        """What a killed run of ``run_id`` left behind, removed: partial backup files and file
        copies in the backup folder (server dialects: its scratch databases too). Returns their names."""
        removed: list[str] = []
        if backup_dir.is_dir():
            for path in sorted(backup_dir.glob(f"{glob.escape(run_id)}*")):
                if path.is_file() and (path.name.endswith((".part", ".tmp")) or ".scratch." in path.name):
                    path.unlink(missing_ok=True)
                    removed.append(str(path))
        return removed

    def rows_same_as_backup(self, engine: Engine, backup: Path, tables: list[str], scratch: Path) -> set[str]:
        """The tables of ``tables`` whose every row equals the backup's, compared without loading
        the backup (the rollback proof's fast path); raises when it cannot tell. ``scratch``: a
        file it may write and must remove. Here: none, so the slow path (a scratch copy) decides."""
        return set()

    def drop_scratch_copy(self, url: URL) -> None:
        """Remove a scratch copy made by :meth:`scratch_copy`."""
        raise NotImplementedError(f"{self.name} cannot make scratch copies")

    def after_bulk_load(self, conn: Connection, tables: list[str]) -> None:
        """Fix what inserting explicit ids leaves behind (PostgreSQL sequences)."""

    # -- apply session ----------------------------------------------------------------
    # the DB-API modules of this database's drivers (which connections a session setting fits)
    driver_modules: ClassVar[tuple[str, ...]] = ()

    def session_settings(self, lock_timeout_s: float) -> list[str]:
        """The statements that put a session's lock/statement timeouts in place."""
        return []

    def prepare_apply_session(self, conn: Connection, lock_timeout_s: float) -> list[str]:
        """Set lock/statement timeouts on the connection that applies the migration.

        Returns the statements run, for the dry run and the report.
        """
        statements = self.session_settings(lock_timeout_s)
        for statement in statements:
            conn.exec_driver_sql(statement)
        return statements

    @contextlib.contextmanager
    def settings_on_every_connection(self, lock_timeout_s: float) -> Iterator[None]:
        """While the migration runs, every connection taken from any pool gets the same settings.

        An ``env.py`` may open connections of its own (``connection.engine.connect()``, its own
        engine): those must not wait on a lock longer than the plan allows either.
        """
        statements = self.session_settings(lock_timeout_s)
        if not statements:
            yield
            return

        def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            if type(dbapi_connection).__module__.split(".")[0] not in self.driver_modules:
                return
            cursor = dbapi_connection.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.close()
            dbapi_connection.commit()  # a setting rolled back with the next transaction would be lost

        event.listen(Pool, "checkout", on_checkout)
        try:
            yield
        finally:
            event.remove(Pool, "checkout", on_checkout)

    @contextlib.contextmanager
    def apply_transactions(self, conn: Connection) -> Iterator[None]:
        """While inside, every transaction begun on ``conn`` is one that changes the database
        (apply, the rehearsal's apply, a downgrade) and may take its write lock when it begins.

        A database with one write lock for the whole file (SQLite) takes it up front, waiting
        for a concurrent writer, instead of failing at the first write after a read. Servers
        lock rows and tables statement by statement: nothing to do here.
        """
        yield

    def lock_observer(self) -> LockObserver:
        """What watches a migration applied to this database (a scratch copy): the locks each
        statement took and the tables it rewrote (see :mod:`safeshift.dialects.observe`). This
        base sees nothing; a database whose server is asked instead sets ``asks_lock_classes``."""
        return LockObserver()

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Whether an error means 'gave up waiting for a lock' (worth a retry)."""
        return False

    def is_schema_error(self, exc: BaseException) -> bool:
        """Whether the database refused a statement for its schema or text: no such table or
        column, a syntax error (a check's SQL on the migrated schema-only copy)."""
        return False

    # -- backup and restore -----------------------------------------------------------
    @abstractmethod
    def backup(self, engine: Engine, dest: Path, progress: Progress | None = None) -> BackupInfo:
        """Write a consistent backup of the whole database to ``dest``."""

    @abstractmethod
    def verify_backup(
        self,
        backup: BackupInfo,
        snapshot: dict[str, int],
        run_id: str,
        method: str = "restore",
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Prove the backup holds the snapshot; raise ``BackupError`` when it does not.

        ``method`` is ``restore`` (load it into a scratch database and count) or ``scan``
        (read the whole file and count the rows it holds per table, loading nothing).
        """

    @abstractmethod
    def restore(self, engine: Engine, backup_path: Path, progress: Progress | None = None) -> None:
        """Replace the database's content with the backup's."""

    # -- one run per database ---------------------------------------------------------
    @abstractmethod
    def run_lock(self, engine: Engine, run_id: str, started: str) -> contextlib.AbstractContextManager[None]:
        """Held for a whole run; a second run is refused at once with ``LockError``."""


@contextlib.contextmanager
def no_lock() -> Iterator[None]:
    yield

