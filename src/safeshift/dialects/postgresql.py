"""PostgreSQL: pg_dump/pg_restore backups, advisory-lock runs, pg_stat_activity.

Restores are atomic: pg_restore renders the backup as SQL and psql plays it, after a
prelude that empties the schemas, in ONE transaction. If anything fails the database
stays exactly as it was, rather than half restored.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from safeshift import faults
from safeshift.dialects import _rowsums, _tools
from safeshift.dialects.base import BackupInfo, Progress, ServerFacts, Session, TableFacts
from safeshift.dialects.observe import LockObserver
from safeshift.dialects.postgresql_lock import (
    MAX_IDENTIFIER_BYTES,
    AdvisoryLock,
    lock_key,
    run_label,
)
from safeshift.dialects.server import ServerDialect
from safeshift.errors import BackupError, causes
from safeshift.secrets import register_url

PACKAGE = "postgresql-client"
LOCK_NOT_AVAILABLE = "55P03"
_QUERY_CHARS = 500

# Run by psql in the restore transaction before the backup's own SQL: removes everything
# the migration may have added so the backup can be recreated on an empty slate. Schemas
# other than public are dropped whole (pg_restore recreates them); public is kept, since
# a non-owner may not drop it, and emptied of relations, routines, types and collations.
# Extension members are left to their extension. Statements are collected into an array
# before any runs so a cascade never leaves a stale name behind.
_CASTS = re.compile(
    r"::(?:\"[^\"]+\"|character varying|bit varying|double precision|"
    r"(?:timestamp|time) (?:with|without) time zone|[A-Za-z_][A-Za-z0-9_.]*)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*"
)
_PARENS = re.compile(r"[()]")
_PUNCT = re.compile(r"\s*([\[\],])\s*")

_EMPTY_SCHEMAS = r"""
SET lock_timeout = '60s';
SET client_min_messages = warning;
SET search_path = '';
DO $safeshift$
DECLARE
    stmts text[];
    stmt text;
BEGIN
    SELECT coalesce(array_agg(format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname)), '{}')
      INTO stmts
      FROM pg_namespace n
     WHERE n.nspname NOT IN ('public', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e');
    FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;

    SELECT coalesce(array_agg(format('DROP %s IF EXISTS %I.%I CASCADE',
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
               n.nspname, c.relname) ORDER BY c.relkind = 'S', c.oid), '{}')
      INTO stmts
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
    FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;

    SELECT coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
               CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
               p.oid::regprocedure)), '{}')
      INTO stmts
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');
    FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;

    SELECT coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
               CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)), '{}')
      INTO stmts
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public'
       AND (t.typtype IN ('e', 'd', 'r')
            OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e');
    FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;

    SELECT coalesce(array_agg(format('DROP COLLATION IF EXISTS %I.%I CASCADE', n.nspname, c.collname)), '{}')
      INTO stmts
      FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
     WHERE n.nspname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_collation'::regclass AND d.objid = c.oid AND d.deptype = 'e');
    FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
END
$safeshift$;
RESET search_path;
"""


class PostgreSQLDialect(ServerDialect):
    name = "postgresql"
    backup_suffix = ".dump"
    driver_modules = ("psycopg", "psycopg2", "asyncpg", "pg8000")
    read_only_sql = (
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    )
    max_name_chars = MAX_IDENTIFIER_BYTES
    default_database = "postgres"

    def __init__(self, url: URL) -> None:
        super().__init__(url)
        self._lock_session: AdvisoryLock | None = None  # the run lock's own session, while held

    # -- connecting -------------------------------------------------------------------
    def driver_url(self) -> URL:
        """An engine on psycopg 3, which the error handling and tools here are written for."""
        return _psycopg_url(self.url)

    def check_text(self, sqltext: str) -> str:
        """Without casts and parentheses: pg_dump + restore turns
        ``(ARRAY['a'::varchar, 'b'::varchar])::text[]`` into ``ARRAY[('a'::varchar)::text, ...]``,
        the same constraint spelled otherwise. What is compared, and what is dropped, is the
        spelling only: columns, operators and literals stay."""
        bare = " ".join(_PARENS.sub(" ", _CASTS.sub("", sqltext)).split())
        return _PUNCT.sub(r"\1", bare)

    def check_tools(self) -> None:
        for tool in ("pg_dump", "pg_restore", "psql"):
            _tools.find_tool([tool], PACKAGE)

    # -- facts ------------------------------------------------------------------------
    def server_facts(self, conn: Connection) -> ServerFacts:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
        database, size = conn.execute(
            text("SELECT current_database(), pg_database_size(current_database())")
        ).one()
        rows = conn.execute(
            text(
                "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname"
            )
        ).all()
        tables = [
            # reltuples is -1 (PG 14+) or 0 for a table never vacuumed or analyzed: unknown
            TableFacts(
                name=str(r[0]),
                row_estimate=int(r[1]) if r[1] is not None and r[1] > 0 else None,
                bytes=int(r[2]),
                estimate_source="pg_class.reltuples" if r[1] is not None and r[1] > 0 else None,
            )
            for r in rows
        ]
        self.settle_estimates(conn, tables)
        return ServerFacts(
            dialect=self.name,
            version=f"PostgreSQL {version}",
            database=str(database),
            database_bytes=int(size),
            tables=tables,
        )

    def activity(self, conn: Connection, older_than_s: float) -> list[Session]:
        """Other sessions of this database in a transaction older than the limit, or blocking one."""
        rows = conn.execute(
            text(
                "WITH blockers AS ("
                "  SELECT DISTINCT unnest(pg_blocking_pids(pid)) AS pid FROM pg_stat_activity"
                "  WHERE datname = current_database() AND wait_event_type = 'Lock')"
                " SELECT a.pid, a.usename, a.state,"
                "  EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start) AS seconds,"
                "  left(a.query, :chars) AS query, b.pid IS NOT NULL AS blocking"
                " FROM pg_stat_activity a LEFT JOIN blockers b ON b.pid = a.pid"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
                "  AND a.backend_type = 'client backend'"
                "  AND (b.pid IS NOT NULL OR (a.xact_start IS NOT NULL"
                "       AND a.xact_start < clock_timestamp() - make_interval(secs => :older)))"
                " ORDER BY a.xact_start NULLS LAST, a.pid"
            ),
            {"chars": _QUERY_CHARS, "older": float(older_than_s)},
        ).all()
        return [
            Session(
                id=str(r[0]),
                user=r[1],
                state=r[2],
                seconds=round(float(r[3]), 3) if r[3] is not None else None,
                query=r[4],
                blocking=bool(r[5]),
            )
            for r in rows
        ]

    # -- housekeeping -----------------------------------------------------------------
    def recreate_database(self, name: str) -> URL:
        with _admin(_maintenance_url(self.url, name)) as conn:
            _drop_database(conn, name)
            conn.execute(text(f"CREATE DATABASE {_tools.quote_ident(conn, name)}"))
        return self.url.set(database=name)

    def database_names(self) -> list[str]:
        with _admin(self.url) as conn:
            return [str(r[0]) for r in conn.execute(text("SELECT datname FROM pg_database"))]

    def drop_database(self, name: str) -> None:
        with _admin(_maintenance_url(self.url, name)) as conn:
            _drop_database(conn, name)

    def scratch_copy(self, backup: BackupInfo, label: str, run_id: str) -> URL:
        """A new database restored from ``backup``, named after the run (its leftovers can be found)."""
        database = self.url.database or "postgres"
        name = _tools.scratch_name(database, label, run_id, MAX_IDENTIFIER_BYTES)
        url = self._create_scratch(name)
        try:
            _restore_sql(url, Path(backup.path))
        except BaseException:
            self.drop_database(name)
            raise
        return url

    def schema_only_copy(self, label: str, run_id: str, folder: Path, rows_of: Sequence[str] = ()) -> URL:
        """A new database holding ``pg_dump --schema-only`` of this one (and ``rows_of``'s rows)."""
        name = _tools.scratch_name(self.url.database or "postgres", label, run_id, MAX_IDENTIFIER_BYTES)
        url = self._create_scratch(name)
        try:
            _copy_schema(self.url, url, what=f"copying the schema of {self.url.database} into {name}")
            self.copy_rows(url, rows_of)
        except BaseException:
            self.drop_database(name)
            raise
        return url

    def drop_scratch_copy(self, url: URL) -> None:
        if url.database:
            self.drop_database(url.database)

    def rows_same_as_backup(self, engine: Engine, backup: Path, tables: list[str], scratch: Path) -> set[str]:
        """The backup's COPY text (pg_restore, no server) against the live database's (pg_dump
        with the same settings: the same text for the same value), summed per table."""
        with engine.connect() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        before = [_tools.find_tool(["pg_restore"], PACKAGE), "--data-only", "--file=-", str(backup)]
        dbname = f"--dbname={_conninfo(engine.url)}"
        now = [_tools.find_tool(["pg_dump"], PACKAGE), "--no-password", "--data-only", "--file=-", dbname]
        return _rowsums.equal_tables(_rowsums.postgresql_sums(before, now, _tool_env(engine.url), schema), tables)

    def after_bulk_load(self, conn: Connection, tables: list[str]) -> None:
        """Move each serial/identity sequence past the largest id inserted explicitly."""
        for table_name in tables:
            quoted = _tools.quote_ident(conn, table_name)
            columns = conn.execute(
                text(
                    "SELECT a.attname, pg_get_serial_sequence(:tbl, a.attname) FROM pg_attribute a "
                    "WHERE a.attrelid = CAST(:tbl AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
                ),
                {"tbl": quoted},
            ).all()
            for column, sequence in columns:
                if sequence is None:
                    continue
                col = _tools.quote_ident(conn, str(column))
                conn.execute(
                    text(f"SELECT setval(:seq, coalesce((SELECT max({col}) FROM {quoted}), 0) + 1, false)"),  # noqa: S608
                    {"seq": sequence},
                )

    # -- apply session ----------------------------------------------------------------
    def session_settings(self, lock_timeout_s: float) -> list[str]:
        millis = max(1, round(lock_timeout_s * 1000))
        value = f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
        return [f"SET lock_timeout = '{value}'"]

    def lock_observer(self) -> LockObserver:
        """pg_locks from a second session while each statement's transaction is open, and
        relfilenodes before and after it (a rewrite)."""
        from safeshift.dialects.postgresql_observe import PgLockObserver

        return PgLockObserver(self.driver_url())

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return any(_sqlstate(e) == LOCK_NOT_AVAILABLE for e in causes(exc))

    def is_schema_error(self, exc: BaseException) -> bool:
        """SQLSTATE class 42 (undefined table or column, syntax error...), not a missing privilege."""
        return any((code := _sqlstate(e)) is not None and code.startswith("42") and code != "42501" for e in causes(exc))

    # -- backup and restore -----------------------------------------------------------
    def backup(self, engine: Engine, dest: Path, progress: Progress | None = None) -> BackupInfo:
        pg_dump = _tools.find_tool(["pg_dump"], PACKAGE)
        started = time.perf_counter()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        try:
            _tools.run_tool(
                [pg_dump, "--no-password", "--format=custom", f"--file={tmp}", f"--dbname={_conninfo(engine.url)}"],
                what=f"pg_dump of {engine.url.database}",
                env=_tool_env(engine.url),
                watch=tmp,
                progress=progress,
            )
            _tools.commit_file(tmp, dest)
        except OSError as exc:
            raise BackupError(f"backup to {dest} failed: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return BackupInfo(path=str(dest), bytes=dest.stat().st_size, seconds=_tools.elapsed(started))

    def _create_empty(self, name: str) -> URL:
        return self._create_scratch(name)

    def _load_backup(self, url: URL, path: Path, name: str, progress: Progress | None = None) -> None:
        _restore_sql(url, path, what=f"restoring {path.name} into scratch database {name}", progress=progress)

    def _scan_counts(self, path: Path) -> dict[str, int]:
        engine = create_engine(self.driver_url(), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        except SQLAlchemyError as exc:
            raise BackupError(f"cannot read the current schema to check the backup: {_tools.db_error(exc)}") from None
        finally:
            engine.dispose()
        return scan_archive_counts(path).get(schema, {})

    def restore(self, engine: Engine, backup_path: Path, progress: Progress | None = None) -> None:
        """Replace the database's content with the backup's, atomically.

        Our pooled connections are closed and other sessions of the database are
        terminated (except this process's run lock), so nothing keeps writing to, or holds
        locks on, what is about to be replaced.
        """
        engine.dispose()
        url = engine.url
        with _admin(url) as conn:
            keep = [self._lock_pid] if self._lock_pid else []
            for pid in conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                    "AND application_name NOT LIKE 'safeshift %'"
                )
            ).scalars():
                if pid in keep:
                    continue
                with contextlib.suppress(SQLAlchemyError):  # not ours to end: the restore may wait on it
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        _restore_sql(url, backup_path, progress=progress)
        engine.dispose()

    def _create_scratch(self, name: str) -> URL:
        """An empty database like this one (same encoding and locale), created from template0."""
        with _admin(self.url) as conn:
            _drop_database(conn, name)
            encoding, collate, ctype = conn.execute(
                text(
                    "SELECT pg_encoding_to_char(encoding), datcollate, datctype "
                    "FROM pg_database WHERE datname = current_database()"
                )
            ).one()
            quoted = _tools.quote_ident(conn, name)
            like_source = (
                f"CREATE DATABASE {quoted} TEMPLATE template0 ENCODING {_tools.sql_literal(conn, encoding)} "
                f"LC_COLLATE {_tools.sql_literal(conn, collate)} LC_CTYPE {_tools.sql_literal(conn, ctype)}"
            )
            try:
                conn.execute(text(like_source))
            except SQLAlchemyError:
                try:  # e.g. an ICU-provider database: settle for the server's defaults
                    conn.execute(text(f"CREATE DATABASE {quoted} TEMPLATE template0"))
                except SQLAlchemyError as exc:
                    raise BackupError(
                        f"cannot create scratch database {name} to check the backup: {_tools.db_error(exc)} "
                        "(grant CREATEDB, or set backup.verify = \"scan\")"
                    ) from None
        return self.url.set(database=name)

    # -- one run per database ---------------------------------------------------------
    @contextlib.contextmanager
    def run_lock(self, engine: Engine, run_id: str, started: str) -> Iterator[None]:
        """A session-level advisory lock on a dedicated connection, labelled with the run
        (application_name: what a second run reads to say who holds the lock)."""
        session = AdvisoryLock(engine.url, lock_key(engine.url.database or ""), run_label(run_id, started))
        session.take()
        self._lock_session = session
        self._lock_check, self._relock, self._restarted = session.held, session.take_again, session.restarted
        try:
            yield
        finally:
            self._lock_session = None
            self._lock_check = self._relock = self._restarted = None
            session.release()

    @property
    def _lock_pid(self) -> int | None:
        """Our lock connection's backend: never terminated by a restore."""
        return self._lock_session.pid if self._lock_session is not None else None


# -- helpers --------------------------------------------------------------------------
def _psycopg_url(url: URL) -> URL:
    """Plain ``postgresql://`` means psycopg 3 here, not SQLAlchemy's default psycopg2."""
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _maintenance_url(url: URL, dropping: str) -> URL:
    """A database to connect to while dropping ``dropping`` (one cannot drop one's own)."""
    if url.database != dropping:
        return url
    return url.set(database="postgres")


@contextlib.contextmanager
def _admin(url: URL) -> Iterator[Connection]:
    """An autocommit connection for CREATE/DROP DATABASE and other non-transactional work."""
    engine = create_engine(_psycopg_url(url), poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError as exc:
        raise BackupError(f"database {url.database} on {url.host or 'localhost'}: {_tools.db_error(exc)}") from None
    finally:
        engine.dispose()


def _drop_database(conn: Connection, name: str) -> None:
    quoted = _tools.quote_ident(conn, name)
    if conn.dialect.server_version_info and conn.dialect.server_version_info >= (13,):
        conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        return
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
        {"name": name},
    )
    conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))


_COPY = re.compile(rb'^COPY (?:("(?:[^"]|"")+"|[^ ."]+)\.)?("(?:[^"]|"")+"|[^ ("]+) ')


def _unquote(name: bytes) -> str:
    if name.startswith(b'"'):
        name = name[1:-1].replace(b'""', b'"')
    return name.decode("utf-8", "replace")


def scan_archive_counts(path: Path) -> dict[str, dict[str, int]]:
    """Rows per schema and table in a pg_dump archive, read by pg_restore (no server involved).

    pg_restore decompresses every data section and writes it as COPY text, one row per line
    (newlines inside values are escaped), ending each table with a backslash and a dot: so a truncated or
    corrupt archive fails here, and the line counts are the row counts.
    """
    pg_restore = _tools.find_tool(["pg_restore"], PACKAGE)
    if not path.is_file():
        raise BackupError(f"backup {path} does not exist")
    counts: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryFile() as err:
        proc = _tools.spawn([pg_restore, "--data-only", "--file=-", str(path)], stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        current: tuple[str, str] | None = None
        rows = 0
        try:
            for line in proc.stdout:
                if current is not None:
                    if line == b"\\.\n":
                        schema, table = current
                        counts.setdefault(schema, {})[table] = rows
                        current = None
                    else:
                        rows += 1
                elif line.startswith(b"COPY "):
                    match = _COPY.match(line)
                    if match is not None and line.rstrip().endswith(b"FROM stdin;"):
                        current, rows = (_unquote(match.group(1) or b"public"), _unquote(match.group(2))), 0
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            detail = _tools.one_line(err.read().decode("utf-8", "replace"), f"exit code {code}")
            raise BackupError(f"backup {path} cannot be read by pg_restore: {detail}")
    if current is not None:
        raise BackupError(f"backup {path} is incomplete: the data of table {current[1]} does not end")
    return counts


def _restore_sql(url: URL, backup_path: Path, what: str | None = None, progress: Progress | None = None) -> None:
    """Play the backup into ``url``'s database in one transaction, after emptying its schemas
    (pg_restore writes the backup as SQL; it needs no connection for that)."""
    pg_restore = _tools.find_tool(["pg_restore"], PACKAGE)
    what = what or f"restoring {backup_path.name} into {url.database}"
    if not backup_path.is_file():
        raise BackupError(f"{what} failed: {backup_path} does not exist")
    with _tools.private_file(_EMPTY_SCHEMAS, ".sql") as prelude:
        _play(
            [pg_restore, "--no-owner", "--file=-", str(backup_path)], _tool_env(url), url, what,
            prelude=prelude, progress=progress,
        )


def _copy_schema(source: URL, target: URL, what: str) -> None:
    """``pg_dump --schema-only`` of ``source`` played into ``target`` by psql in one transaction."""
    pg_dump = _tools.find_tool(["pg_dump"], PACKAGE)
    argv = [pg_dump, "--no-password", "--schema-only", "--no-owner", "--no-privileges", f"--dbname={_conninfo(source)}"]
    _play(argv, _tool_env(source), target, what, fault="schema-copy:before-commit")


def _play(
    producer: list[str],
    producer_env: dict[str, str],
    target: URL,
    what: str,
    *,
    prelude: Path | None = None,
    progress: Progress | None = None,
    fault: str = "restore:before-commit",
) -> None:
    """Pump the SQL a tool writes (pg_restore, pg_dump) into psql on ``target``, in one transaction.

    Python opens the transaction and writes the COMMIT only after the producer succeeded and
    psql took the whole stream: if safeshift dies (kill -9, the OOM killer), psql sees the end
    of its input inside the open transaction and the server rolls everything back (psql's
    ``--single-transaction`` would COMMIT at that end). A truncated input makes the producer
    fail, so it never commits either. Both tools die with safeshift (parent-death signal).
    """
    psql = _tools.find_tool(["psql"], PACKAGE)
    name = Path(producer[0]).name
    files = [f"--file={prelude}"] if prelude is not None else []
    with tempfile.TemporaryFile() as make_err, tempfile.TemporaryFile() as play_err:
        make = _tools.spawn(producer, env=producer_env, stdout=subprocess.PIPE, stderr=make_err)
        play = _tools.spawn(
            [
                psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1",
                f"--dbname={_conninfo(target)}", "--command=BEGIN", *files, "--file=-",
            ],
            env=_tool_env(target),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=play_err,
        )
        assert make.stdout is not None and play.stdin is not None
        try:
            whole = _pump(make.stdout, play.stdin, progress)
            make.stdout.close()
            if not whole:  # psql gave up (its error says why); the producer must not wait on a full pipe
                make.kill()
            make.wait()
            if whole and make.returncode != 0:
                play.kill()  # before psql sees the end of its input
                play.wait()
                raise BackupError(f"{what} failed: {_tools.one_line(_tools.read_back(make_err), f'{name} failed')}")
            with contextlib.suppress(BrokenPipeError):
                if whole:
                    faults.hit(fault)
                    play.stdin.write(b"\nCOMMIT;\n")
                play.stdin.close()
            play.wait()
        except BaseException:
            for proc in (make, play):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            raise
        if play.returncode != 0:
            raise BackupError(f"{what} failed: {_tools.one_line(_tools.read_back(play_err), 'psql failed')}")


def _pump(source: Any, sink: Any, progress: Progress | None = None) -> bool:
    """Copy pg_restore's output into psql; False if psql stopped reading first. ``progress``
    hears the bytes of SQL played so far (their total is not known before the end)."""
    done = 0
    while chunk := source.read(1 << 20):
        try:
            sink.write(chunk)
        except BrokenPipeError:
            return False
        done += len(chunk)
        if progress is not None:
            progress(done, None)
    return True


def _conninfo(url: URL) -> str:
    """A libpq connection string without the password (which goes in the environment)."""
    params: dict[str, str] = {}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    for key, value in url.query.items():
        if key != "password":
            params[key] = value if isinstance(value, str) else value[-1]
    return " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _tool_env(url: URL) -> dict[str, str]:
    """The tools' environment: the password travels here, never on a command line."""
    register_url(url)
    env = dict(os.environ)
    password = url.password or url.query.get("password")
    if password:
        env["PGPASSWORD"] = str(password if isinstance(password, str) else password[-1])
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "safeshift"
    return env


def _sqlstate(exc: BaseException) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return str(code) if code else None
