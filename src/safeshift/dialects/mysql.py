"""MySQL and MariaDB: mariadb-dump/mysqldump backups, GET_LOCK runs, InnoDB activity.

The tools get their credentials from a 0600 ``--defaults-extra-file`` (always their first
argument, as the clients require), never from the command line. A restore drops and
re-creates the database, so tables a migration added disappear with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from safeshift import faults
from safeshift.dialects import _rowsums, _tools
from safeshift.dialects.base import BackupInfo, Progress, ServerFacts, Session, TableFacts
from safeshift.dialects.server import ServerDialect
from safeshift.errors import BackupError, ConnectError, LockError, causes
from safeshift.secrets import register_url, safe_url

PACKAGE = "mariadb-client"
DUMP_TOOLS = ["mariadb-dump", "mysqldump"]
CLIENT_TOOLS = ["mariadb", "mysql"]
MAX_NAME_CHARS = 64
LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT: row locks and metadata locks alike
# no such column, table, database or function; ambiguous column; a syntax error
SCHEMA_ERRORS = frozenset({1054, 1146, 1049, 1051, 1305, 1052, 1064, 1149})
_QUERY_CHARS = 500
_HOLD_SECONDS = 31_536_000  # how long the label connection waits: "for the whole run"
_LABEL = re.compile(r"safeshift run (\S+) (\S+) key ([0-9a-f]{16})")
_CHARSET = re.compile(r"^[A-Za-z0-9_]+$")


class MySQLDialect(ServerDialect):
    name = "mysql"
    backup_suffix = ".sql"
    asks_lock_classes = True
    driver_modules = ("pymysql", "MySQLdb", "mysql", "mariadb")
    read_only_sql = ("SET SESSION TRANSACTION READ ONLY", "SET SESSION TRANSACTION READ WRITE")
    max_name_chars = MAX_NAME_CHARS
    default_database = "db"

    def __init__(self, url: URL) -> None:
        super().__init__(url)
        self._lock_ids: set[int] = set()  # our run-lock connections: never killed by restore

    # -- connecting -------------------------------------------------------------------
    def driver_url(self) -> URL:
        """PyMySQL, which the error handling and tools here are written for."""
        return _driver_url(self.url)

    def check_tools(self) -> None:
        _tools.find_tool(DUMP_TOOLS, PACKAGE)
        _tools.find_tool(CLIENT_TOOLS, PACKAGE)

    # -- facts ------------------------------------------------------------------------
    def server_facts(self, conn: Connection) -> ServerFacts:
        version, database = conn.execute(text("SELECT VERSION(), DATABASE()")).one()
        rows = conn.execute(
            text(
                "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
            )
        ).all()
        tables = [
            TableFacts(
                name=str(r[0]),
                row_estimate=int(r[1]) if r[1] is not None else None,
                bytes=int(r[2]) if r[2] is not None else None,
                estimate_source="information_schema" if r[1] is not None else None,
            )
            for r in rows
        ]
        self.settle_estimates(conn, tables)
        return ServerFacts(
            dialect=self.name,
            version=_version_text(str(version)),
            database=str(database),
            database_bytes=sum(t.bytes or 0 for t in tables),
            tables=tables,
        )

    def activity(self, conn: Connection, older_than_s: float) -> list[Session]:
        """Sessions of this database with an InnoDB transaction older than the limit, or blocking others.

        Each source is optional: a server without a view (or the right to read it) gives
        fewer facts, not an error.
        """
        blockers = _blocking_ids(conn)
        try:
            rows = conn.execute(
                text(
                    "SELECT p.ID, p.USER, p.COMMAND, p.STATE, LEFT(p.INFO, :chars), p.DB = DATABASE(),"
                    " TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1000000"
                    " FROM information_schema.PROCESSLIST p"
                    " LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID"
                    " WHERE p.ID <> CONNECTION_ID() ORDER BY t.trx_started, p.ID"
                ),
                {"chars": _QUERY_CHARS},
            ).all()
        except SQLAlchemyError:
            rows = conn.execute(
                text(
                    "SELECT ID, USER, COMMAND, STATE, LEFT(INFO, :chars), DB = DATABASE(), NULL"
                    " FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() ORDER BY ID"
                ),
                {"chars": _QUERY_CHARS},
            ).all()
        sessions: list[Session] = []
        for ident, user, command, state, query, same_db, seconds in rows:
            blocking = int(ident) in blockers
            old = seconds is not None and float(seconds) >= older_than_s and bool(same_db)
            if not (blocking or old):
                continue
            shown = "idle in transaction" if command == "Sleep" and seconds is not None else str(command)
            if state and command != "Sleep":
                shown += f": {state}"
            sessions.append(
                Session(
                    id=str(ident),
                    user=user,
                    state=shown,
                    seconds=round(float(seconds), 3) if seconds is not None else None,
                    query=query,
                    blocking=blocking,
                )
            )
        return sessions

    # -- housekeeping -----------------------------------------------------------------
    def recreate_database(self, name: str) -> URL:
        with _admin(self.url) as conn:
            _kill_sessions(conn, name, keep=set())
            quoted = _tools.quote_ident(conn, name)
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
            conn.execute(text(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4"))
        return self.url.set(database=name)

    def database_names(self) -> list[str]:
        with _admin(self.url) as conn:
            return [str(r[0]) for r in conn.execute(text("SHOW DATABASES"))]

    def drop_database(self, name: str) -> None:
        with _admin(self.url) as conn:
            _kill_sessions(conn, name, keep=set())
            conn.execute(text(f"DROP DATABASE IF EXISTS {_tools.quote_ident(conn, name)}"))

    def scratch_copy(self, backup: BackupInfo, label: str, run_id: str) -> URL:
        """A new database loaded from ``backup``, named after the run (its leftovers can be found)."""
        name = _tools.scratch_name(self.url.database or "db", label, run_id, MAX_NAME_CHARS)
        url = self._create_like(self.url, name)
        try:
            _load(url, Path(backup.path), what=f"loading {Path(backup.path).name} into scratch database {name}")
        except BaseException:
            self.drop_database(name)
            raise
        return url

    def schema_only_copy(self, label: str, run_id: str, folder: Path, rows_of: Sequence[str] = ()) -> URL:
        """A new database loaded from ``mariadb-dump --no-data`` of this one (and ``rows_of``'s rows)."""
        name = _tools.scratch_name(self.url.database or "db", label, run_id, MAX_NAME_CHARS)
        url = self._create_like(self.url, name)
        try:
            with tempfile.TemporaryDirectory(prefix="safeshift-") as tmp:
                dump = Path(tmp) / "schema.sql"
                _dump(self.url, dump, ["--no-data"], what=f"dumping the schema of {self.url.database}")
                _load(url, dump, what=f"loading the schema of {self.url.database} into scratch database {name}")
            self.copy_rows(url, rows_of)
        except BaseException:
            self.drop_database(name)
            raise
        return url

    def drop_scratch_copy(self, url: URL) -> None:
        if url.database:
            self.drop_database(url.database)

    def rows_same_as_backup(self, engine: Engine, backup: Path, tables: list[str], scratch: Path) -> set[str]:
        """The backup's INSERT rows against a dump of the live database by the same tool and options."""
        sums = _rowsums.mysql_sums(backup, lambda dest: self.backup(engine, dest), scratch)
        return _rowsums.equal_tables(sums, tables)

    # -- apply session ----------------------------------------------------------------
    def session_settings(self, lock_timeout_s: float) -> list[str]:
        """Both timeouts: lock_wait_timeout covers metadata locks (DDL), InnoDB's covers rows."""
        seconds = max(1, math.ceil(lock_timeout_s))
        return [
            f"SET SESSION lock_wait_timeout = {seconds}",
            f"SET SESSION innodb_lock_wait_timeout = {seconds}",
        ]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return any(_errno(e) == LOCK_WAIT_TIMEOUT for e in causes(exc))

    def is_schema_error(self, exc: BaseException) -> bool:
        return any(_errno(e) in SCHEMA_ERRORS for e in causes(exc))

    # -- backup and restore -----------------------------------------------------------
    def backup(self, engine: Engine, dest: Path, progress: Progress | None = None) -> BackupInfo:
        """One database, consistent for InnoDB (--single-transaction), with routines and triggers."""
        url = engine.url
        started = time.perf_counter()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        try:
            _dump(url, tmp, [], what=f"{Path(_tools.find_tool(DUMP_TOOLS, PACKAGE)).name} of {url.database or ''}", progress=progress)
            _tools.commit_file(tmp, dest)
        except OSError as exc:
            raise BackupError(f"backup to {dest} failed: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return BackupInfo(path=str(dest), bytes=dest.stat().st_size, seconds=_tools.elapsed(started))

    def _check_backup_file(self, path: Path) -> None:
        _check_complete(path)

    def _create_empty(self, name: str) -> URL:
        return self._create_like(self.url, name)

    def _load_backup(self, url: URL, path: Path, name: str, progress: Progress | None = None) -> None:
        _load(url, path, what=f"loading {path.name} into scratch database {name}", progress=progress)

    def _scan_counts(self, path: Path) -> dict[str, int]:
        return scan_dump_counts(path)

    def restore(self, engine: Engine, backup_path: Path, progress: Progress | None = None) -> None:
        """Empty the database (its tables, views, routines and events), then load the backup.

        The database itself is never dropped: a kill at any moment leaves a database that
        exists (perhaps half loaded), which the next ``rollback RUN`` restores again; with
        DROP + CREATE DATABASE a kill in between left no database at all. A dump without
        the tool's closing line is refused before anything is dropped. Other sessions of the
        database are killed first (except this process's run lock): one idle transaction
        holding a metadata lock would make the DROPs wait.
        """
        _check_complete(backup_path)  # before anything is dropped, not after
        engine.dispose()
        url = engine.url
        database = url.database or ""
        with _admin(url) as conn:
            _kill_sessions(conn, database, keep=self._lock_ids)
            _empty_database(conn, database)
        faults.hit("restore:emptied")
        _load(url, backup_path, what=f"restoring {backup_path.name} into {database}", progress=progress)
        engine.dispose()

    def _create_like(self, source: URL, name: str) -> URL:
        """An empty database with ``source``'s character set and collation."""
        with _admin(source) as conn:
            charset = _charset(conn, source.database or "")
            quoted = _tools.quote_ident(conn, name)
            try:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
                conn.execute(text(f"CREATE DATABASE {quoted}{charset}"))
            except SQLAlchemyError as exc:
                raise BackupError(
                    f"cannot create scratch database {name} to check the backup: {_tools.db_error(exc)} "
                    f"(grant CREATE and DROP on `{name.split('_safeshift_')[0]}_safeshift_%`.*, or set backup.verify = \"scan\")"
                ) from None
        return source.set(database=name)

    # -- one run per database ---------------------------------------------------------
    @contextlib.contextmanager
    def run_lock(self, engine: Engine, run_id: str, started: str) -> Iterator[None]:
        """``GET_LOCK`` on a dedicated connection, plus a label other runs can read.

        MySQL keeps no note with a user lock, and MariaDB's performance_schema (where
        connection attributes live) is off by default. So a second connection waits on a
        private lock for the whole run with the label in its query text, which
        PROCESSLIST shows to anyone looking: that is how a refused run names the holder.
        Both connections end with the run; if the process dies, the server frees both.
        """
        database = engine.url.database or ""
        main, info = _lock_names(database)
        key = _key(database)
        label = f"safeshift run {_token(run_id)} {_token(started)} key {key}"
        lock_engine = create_engine(_driver_url(engine.url.set(database=None)), poolclass=NullPool)
        try:
            conn = lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            lock_engine.dispose()
            raise ConnectError(f"cannot connect to {safe_url(engine.url)}: {_tools.db_error(exc)}") from None
        labeller: threading.Thread | None = None
        label_ids: list[int] = []
        try:
            got = conn.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": main}).scalar()
            if got != 1:
                raise LockError(_holder_message(conn, main, key, database))
            own_id = int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())
            holder = [conn]  # the lock's session; a new one once taken again after a restart
            taken_at = time.time() - _uptime(conn)  # when the server started, by its clock
            self._lock_check = lambda: holder[0].execute(
                text("SELECT IS_USED_LOCK(:name) = CONNECTION_ID()"), {"name": main}
            ).scalar() == 1
            self._restarted = lambda: _restarted_since(lock_engine, taken_at)
            self._relock = lambda: _take_again(lock_engine, main, holder, self._lock_ids)
            # a long run must not lose its lock to the server's idle-connection timeout
            conn.execute(text("SET SESSION wait_timeout = GREATEST(@@global.wait_timeout, 86400)"))
            self._lock_ids.add(own_id)
            if conn.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": info}).scalar() == 1:
                ready = threading.Event()
                labeller = threading.Thread(
                    target=_wait_with_label,
                    args=(lock_engine, info, label, ready, label_ids),
                    name="safeshift-lock-label",
                    daemon=True,
                )
                labeller.start()
                ready.wait(5)
                self._lock_ids.update(label_ids)
            try:
                yield
            finally:
                with contextlib.suppress(SQLAlchemyError):
                    conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": info})
                if labeller is not None:
                    labeller.join(5)
                    if labeller.is_alive():  # should not happen; do not leave it waiting
                        for ident in label_ids:
                            with contextlib.suppress(SQLAlchemyError):
                                conn.execute(text(f"KILL {int(ident)}"))
                with contextlib.suppress(SQLAlchemyError):
                    conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": main})
                self._lock_ids.difference_update({own_id, *label_ids})
                self._lock_check = self._relock = self._restarted = None
                if holder[0] is not conn:
                    with contextlib.suppress(SQLAlchemyError):
                        holder[0].execute(text("SELECT RELEASE_LOCK(:name)"), {"name": main})
                        holder[0].close()
        finally:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
            lock_engine.dispose()


# -- helpers --------------------------------------------------------------------------
def _driver_url(url: URL) -> URL:
    """Plain ``mysql://``/``mariadb://`` means PyMySQL, the driver safeshift installs."""
    if url.drivername in ("mysql", "mariadb"):
        return url.set(drivername=f"{url.drivername}+pymysql")
    return url


@contextlib.contextmanager
def _admin(url: URL) -> Iterator[Connection]:
    """An autocommit connection to the server (no default database) for DDL on databases."""
    engine = create_engine(
        _driver_url(url.set(database=None)), poolclass=NullPool, connect_args={"connect_timeout": 10}
    )
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SET SESSION lock_wait_timeout = 60"))
            yield conn
    except SQLAlchemyError as exc:
        raise BackupError(f"database {url.database} on {url.host or 'localhost'}: {_tools.db_error(exc)}") from None
    finally:
        engine.dispose()


def _charset(conn: Connection, database: str) -> str:
    """`` CHARACTER SET x COLLATE y`` of ``database``, or "" when unknown."""
    row = conn.execute(
        text(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = :name"
        ),
        {"name": database},
    ).first()
    if row is None or not all(isinstance(v, str) and _CHARSET.match(v) for v in row):
        return " CHARACTER SET utf8mb4"
    return f" CHARACTER SET {row[0]} COLLATE {row[1]}"


def _uptime(conn: Connection) -> float:
    value = conn.execute(
        text("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'")
    ).scalar()
    return float(value or 0)


def _restarted_since(engine: Engine, started_at: float) -> bool | None:
    """Has the server started again since ``started_at`` (its start then)? None: no answer now."""
    try:
        with engine.connect() as conn:
            return time.time() - _uptime(conn) > started_at + 5  # seconds of clock slack
    except SQLAlchemyError:
        return None


def _take_again(engine: Engine, name: str, holder: list[Connection], ours: set[int]) -> bool:
    """After a restart every session is gone and the lock is free: take it on a new session."""
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar() != 1:
            conn.close()
            return False
        conn.execute(text("SET SESSION wait_timeout = GREATEST(@@global.wait_timeout, 86400)"))
        ours.add(int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one()))
    except SQLAlchemyError:
        return False
    holder[0] = conn
    return True


def _empty_database(conn: Connection, database: str) -> None:
    """Drop everything inside ``database`` but the database: views, tables (foreign keys
    off, so in any order), routines and events. Names come from the catalog and are quoted."""
    quoted_db = _tools.quote_ident(conn, database)

    def names(query: str) -> list[tuple[str, str]]:
        return [(str(a), str(b)) for a, b in conn.execute(text(query), {"db": database})]

    views = names("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = :db AND TABLE_TYPE = 'VIEW'")
    tables = names(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = :db AND TABLE_TYPE <> 'VIEW'"
    )
    routines = names("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = :db")
    events = names("SELECT EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE EVENT_SCHEMA = :db")
    conn.execute(text("SET SESSION FOREIGN_KEY_CHECKS = 0"))
    try:
        for name, _ in views:
            conn.execute(text(f"DROP VIEW IF EXISTS {quoted_db}.{_tools.quote_ident(conn, name)}"))
        for name, kind in tables:
            what = "SEQUENCE" if kind == "SEQUENCE" else "TABLE"
            conn.execute(text(f"DROP {what} IF EXISTS {quoted_db}.{_tools.quote_ident(conn, name)}"))
        for name, kind in [*routines, *events]:
            what = kind if kind in ("PROCEDURE", "FUNCTION", "EVENT") else "PROCEDURE"
            conn.execute(text(f"DROP {what} IF EXISTS {quoted_db}.{_tools.quote_ident(conn, name)}"))
    finally:
        conn.execute(text("SET SESSION FOREIGN_KEY_CHECKS = 1"))


def _kill_sessions(conn: Connection, database: str, keep: set[int]) -> None:
    """End other sessions using ``database`` (best effort: some may not be ours to end)."""
    ids = conn.execute(
        text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :name AND ID <> CONNECTION_ID()"),
        {"name": database},
    ).scalars()
    for ident in list(ids):
        if int(ident) in keep:
            continue
        with contextlib.suppress(SQLAlchemyError):
            conn.execute(text(f"KILL {int(ident)}"))


def _check_complete(path: Path) -> None:
    """mariadb-dump/mysqldump end a finished dump with "-- Dump completed"; a cut-off one has none."""
    try:
        with open(path, "rb") as dump:
            dump.seek(max(0, path.stat().st_size - 4096))
            tail = dump.read()
    except OSError as exc:
        raise BackupError(f"backup {path} cannot be read: {exc.strerror}") from None
    if b"-- Dump completed" not in tail:
        raise BackupError(f"backup {path} is incomplete: it lacks the dump tool's closing 'Dump completed' line")


_CREATE_TABLE = re.compile(rb"^CREATE TABLE `((?:[^`]|``)+)` \(")
_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` VALUES\s*")
# a quoted value as the dump tools write it: backslash escapes, '' for a quote in it
_QUOTED = re.compile(rb"'(?:[^'\\]|\\.)*'", re.DOTALL)


def _dump_name(match: re.Match[bytes]) -> str:
    """A table name as the dump quotes it (backticks doubled inside), as text."""
    return match.group(1).replace(b"``", b"`").decode("utf-8", "replace")


def scan_dump_counts(path: Path) -> dict[str, int]:
    """Rows per table in a mariadb-dump/mysqldump file, counted without loading it.

    Tables are the ``CREATE TABLE`` statements at the start of a line (a view's placeholder
    is wrapped in a ``/*!50001`` comment, so it is not one). Rows are the value tuples of
    each ``INSERT``, whether on its line (mysqldump) or one per line (mariadb-dump 10.x):
    with quoted values blanked, every "(" opens a tuple, so text holding "),(" is no row.
    The tools escape newlines inside values, so no value spans two lines.
    """
    counts: dict[str, int] = {}
    table: str | None = None  # inside this table's INSERT statement
    try:
        with open(path, "rb") as dump:
            for line in dump:
                if table is None:
                    if line.startswith(b"INSERT INTO "):
                        match = _INSERT.match(line)
                        if match is None:
                            continue
                        table = _dump_name(match)
                        line = line[match.end():]
                    else:
                        if line.startswith(b"CREATE TABLE "):
                            match = _CREATE_TABLE.match(line)
                            if match is not None:
                                counts.setdefault(_dump_name(match), 0)
                        continue
                if line.startswith(b"(") and line.count(b"(") == 1:  # one tuple, no "(" in its text
                    counts[table] = counts.get(table, 0) + 1
                    values = line
                else:
                    values = _QUOTED.sub(b"''", line)
                    counts[table] = counts.get(table, 0) + values.count(b"(")
                if values.endswith((b";\n", b";")):
                    table = None
    except OSError as exc:
        raise BackupError(f"backup {path} cannot be read: {exc.strerror}") from None
    if table is not None:
        raise BackupError(f"backup {path} is incomplete: the rows of table {table} do not end")
    return counts


def _dump(url: URL, dest: Path, extra: list[str], what: str, progress: Progress | None = None) -> None:
    """The dump tool's output for ``url``'s database written to ``dest`` (``extra``: e.g. --no-data)."""
    dump = _tools.find_tool(DUMP_TOOLS, PACKAGE)
    options = [
        "--single-transaction", "--routines", "--triggers", "--hex-blob", "--no-tablespaces",
        "--default-character-set=utf8mb4",
        "--comments",  # the closing "Dump completed" line proves a dump is whole
        *extra,
    ]
    if not _is_mariadb_tool(dump):
        options.append("--set-gtid-purged=OFF")  # GTID lines would make the dump unloadable elsewhere
    with _defaults_file(url) as defaults, open(dest, "wb") as out:
        _tools.run_tool(
            [dump, f"--defaults-extra-file={defaults}", *options, "--", url.database or ""],
            what=what,
            stdout=out,
            watch=dest,
            progress=progress,
        )


def _load(url: URL, backup_path: Path, what: str, progress: Progress | None = None) -> None:
    """Play a dump into ``url``'s (existing, empty) database with the command-line client
    (``progress``: how much of the dump it has read)."""
    client = _tools.find_tool(CLIENT_TOOLS, PACKAGE)
    with _defaults_file(url) as defaults, open(backup_path, "rb") as dump:
        _tools.run_tool(
            [client, f"--defaults-extra-file={defaults}", "--batch", f"--database={url.database}"],
            what=what,
            stdin=dump,
            tick=_tools.input_read(dump, progress),
        )


@contextlib.contextmanager
def _defaults_file(url: URL) -> Iterator[Path]:
    """A 0600 option file with the connection settings; the password lives only here."""
    register_url(url)
    query = {k: (v if isinstance(v, str) else v[-1]) for k, v in url.query.items()}
    lines = ["[client]"]
    if url.username:
        lines.append(f"user={_option_value(url.username)}")
    password = url.password or query.get("password")
    if password:
        lines.append(f"password={_option_value(str(password))}")
    socket = query.get("unix_socket")
    if socket:
        lines.append(f"socket={_option_value(socket)}")
    else:  # like PyMySQL, use TCP even for "localhost"
        lines.append(f"host={_option_value(url.host or 'localhost')}")
        lines.append(f"port={int(url.port or 3306)}")
        lines.append("protocol=TCP")
    for ours, theirs in (("ssl_ca", "ssl-ca"), ("ssl_cert", "ssl-cert"), ("ssl_key", "ssl-key")):
        if query.get(ours):
            lines.append(f"{theirs}={_option_value(query[ours])}")
    lines.append("default-character-set=utf8mb4")
    with _tools.private_file("\n".join(lines) + "\n", ".cnf") as path:
        yield path


def _option_value(value: str) -> str:
    """A double-quoted option-file value: quotes, backslashes and '#' survive."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@cache
def _is_mariadb_tool(path: str) -> bool:
    """Whether a mysqldump is MariaDB's (Debian links mysqldump to mariadb-dump)."""
    if Path(path).name.startswith("mariadb"):
        return True
    with tempfile.TemporaryFile() as out:
        try:
            proc = _tools.spawn([path, "--version"], stdout=out, stderr=subprocess.DEVNULL)
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return True
        return "mariadb" in _tools.read_back(out).lower()


def _lock_names(database: str) -> tuple[str, str]:
    """The run lock and the label lock; names are server-wide, so they carry the database."""
    key = _key(database)
    main, info = f"safeshift:{database}", f"safeshift-label:{database}"
    if len(info) > MAX_NAME_CHARS:
        main, info = f"safeshift:{key}", f"safeshift-label:{key}"
    return main, info


def _key(database: str) -> str:
    return hashlib.blake2b(f"safeshift:{database}".encode(), digest_size=8).hexdigest()


def _token(value: str) -> str:
    """A run id or time as one label word, safe inside a quoted SQL string."""
    return re.sub(r"[^A-Za-z0-9_.:+-]", "_", value) or "?"


def _wait_with_label(engine: Engine, name: str, label: str, ready: threading.Event, ids: list[int]) -> None:
    """Wait on ``name`` (held by the lock connection) with ``label`` in the query text."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            ids.append(int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one()))
            ready.set()
            conn.execute(
                text("SELECT GET_LOCK(:name, :seconds), :label"),
                {"name": name, "seconds": _HOLD_SECONDS, "label": label},
            )
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
    except Exception:  # noqa: BLE001 - the label is a courtesy; the lock does not depend on it
        pass
    finally:
        ready.set()


def _holder_message(conn: Connection, main: str, key: str, database: str) -> str:
    holder = conn.execute(text("SELECT IS_USED_LOCK(:name)"), {"name": main}).scalar()
    if holder is None:
        return f"another safeshift run holds database {database}; try again"
    try:
        infos = conn.execute(
            text(
                "SELECT INFO FROM information_schema.PROCESSLIST "
                "WHERE ID <> CONNECTION_ID() AND INFO LIKE :pattern"
            ),
            {"pattern": f"%key {key}%"},
        ).scalars()
        for info in infos:
            match = _LABEL.search(str(info))
            if match and match.group(3) == key:
                return (
                    f"another safeshift run holds database {database}: run {match.group(1)} "
                    f"started {match.group(2)} (connection id {holder})"
                )
    except SQLAlchemyError:
        pass
    return f"another safeshift run holds database {database} (connection id {holder})"


def _blocking_ids(conn: Connection) -> set[int]:
    """Connection ids holding a lock someone waits for: InnoDB row locks, then metadata locks."""
    found: set[int] = set()
    sources = [
        # MariaDB and MySQL 5.7
        "SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_LOCK_WAITS w"
        " JOIN information_schema.INNODB_TRX t ON t.trx_id = w.blocking_trx_id",
        # MySQL 8
        "SELECT t.trx_mysql_thread_id FROM performance_schema.data_lock_waits w"
        " JOIN information_schema.INNODB_TRX t ON t.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID",
        # metadata locks (DDL waiting behind an open transaction) where performance_schema is on
        "SELECT th.PROCESSLIST_ID FROM performance_schema.metadata_locks g"
        " JOIN performance_schema.metadata_locks w ON w.OBJECT_TYPE = g.OBJECT_TYPE"
        "  AND w.OBJECT_SCHEMA <=> g.OBJECT_SCHEMA AND w.OBJECT_NAME <=> g.OBJECT_NAME"
        "  AND w.OWNER_THREAD_ID <> g.OWNER_THREAD_ID"
        " JOIN performance_schema.threads th ON th.THREAD_ID = g.OWNER_THREAD_ID"
        " WHERE g.OBJECT_TYPE = 'TABLE' AND g.LOCK_STATUS = 'GRANTED' AND w.LOCK_STATUS = 'PENDING'",
    ]
    for sql in sources:
        try:
            found.update(int(i) for i in conn.execute(text(sql)).scalars() if i is not None)
        except SQLAlchemyError:
            continue
    return found


def _version_text(version: str) -> str:
    if "mariadb" in version.lower():
        return f"MariaDB {version.split('-')[0]} ({version})"
    return f"MySQL {version}"


def _errno(exc: BaseException) -> int | None:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return args[0] if args and isinstance(args[0], int) else None
