"""``engine = "sql"``: a folder of numbered SQL files, applied in order and recorded with checksums.

Files are ``NNNN_name.up.sql`` and ``NNNN_name.down.sql``. A sub-folder named after a
database (``postgresql/``, ``sqlite/``, ``mysql/``; ``mariadb/`` before ``mysql/``) holds files
that override the generic ones of the same version where that database's SQL differs.

Applied files are recorded in ``safeshift_versions`` with the SHA-256 of the file that ran;
a file changed after it was applied is refused (as Flyway's validate does), because what runs
in production must be what was reviewed. Each file runs in one transaction where DDL is
transactional (PostgreSQL, SQLite); on MySQL/MariaDB DDL commits by itself, so statements run
one by one and the rollback relies on the down file or the backup.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect
from sqlalchemy.exc import SQLAlchemyError

from safeshift.errors import ConfigError, SafeshiftError
from safeshift.migrators.base import MIGRATORS, Migrator, Output, Revision, attach_output
from safeshift.secrets import first_line, redact

VERSION_TABLE = "safeshift_versions"
versions_table = sa.Table(
    VERSION_TABLE,
    sa.MetaData(),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

# Sub-folders searched for a database, most specific first; the generic file comes last.
DIALECT_FOLDERS: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgresql",),
    "sqlite": ("sqlite",),
    "mysql": ("mysql",),
    "mariadb": ("mariadb", "mysql"),
}
TRANSACTIONAL_DDL = frozenset({"postgresql", "sqlite"})
# SQLAlchemy dialects that compile the bookkeeping INSERT for --dry-run (no driver needed).
_COMPILERS: dict[str, SqlDialect] = {
    name: sa.engine.URL.create(name).get_dialect()() for name in ("postgresql", "sqlite", "mysql", "mariadb")
}
_FILE = re.compile(r"^(?P<version>\d+)_(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$")
_TX_CONTROL = re.compile(r"^(?:BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION)\b", re.IGNORECASE)
Direction = Literal["up", "down"]


class SqlFileError(SafeshiftError):
    """A statement of a migration file failed; the message names the file and line."""

    orig: BaseException | None = None  # the driver's error, so lock-timeout detection still sees it


# -- splitting ------------------------------------------------------------------------


class SplitError(ValueError):
    """The SQL text cannot be split (an unterminated string or comment)."""


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the statement's first character


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def is_migration_file(name: str) -> bool:
    """Whether a file name is one this engine reads (``NNNN_name.up.sql`` / ``.down.sql``)."""
    return _FILE.match(name) is not None


def split_statements(sql: str, dialect: str = "") -> list[str]:
    """Statements of a SQL script, without their delimiters; comment-only parts are dropped."""
    return [s.text for s in split_script(sql, dialect)]


def split_script(sql: str, dialect: str = "") -> list[Statement]:
    """Split on top-level ``;`` the way the database's own client would.

    Quotes, ``--``/``/* */`` comments (nested on PostgreSQL), PostgreSQL dollar quotes and
    ``BEGIN ATOMIC`` bodies, SQLite trigger bodies, MySQL ``#`` comments, backticks,
    backslash escapes and ``DELIMITER`` lines are respected, so a ``;`` inside them never
    splits a statement.
    """
    return _Splitter(sql.lstrip("\ufeff"), dialect).run()


@dataclass
class _Splitter:
    sql: str
    dialect: str
    out: list[Statement] = field(default_factory=list)
    code_at: int | None = None  # where the current statement's first non-comment char is
    code_end: int = 0  # just after its last non-comment char (trailing comments are dropped)
    delimiter: str = ";"  # MySQL's DELIMITER line changes it
    words: list[str] = field(default_factory=list)  # upper-cased words of the current statement
    depth: int = 0  # open BEGIN/CASE blocks inside a trigger or BEGIN ATOMIC body
    block: bool = False  # the statement has a body whose ';' do not end it

    def __post_init__(self) -> None:
        self.newlines = [i for i, ch in enumerate(self.sql) if ch == "\n"]
        self.mysql = self.dialect in ("mysql", "mariadb")
        self.pg = self.dialect == "postgresql"

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def run(self) -> list[Statement]:
        sql, n, i = self.sql, len(self.sql), 0
        while i < n:
            ch = sql[i]
            if ch == "-" and sql.startswith("--", i) and (not self.mysql or sql[i + 2 : i + 3] in ("", " ", "\t", "\n", "\r")):
                i = self._line_end(i)
            elif ch == "#" and self.mysql:
                i = self._line_end(i)
            elif ch == "/" and sql.startswith("/*", i):
                end = self._block_comment(i)
                if self.mysql and sql.startswith("/*!", i):  # MySQL runs the body of /*! ... */
                    self._code(i, end)
                i = end
            elif ch in "'\"" or (ch == "`" and self.mysql):
                end = self._quoted(i)
                self._code(i, end)
                i = end
            elif ch == "$" and self.pg and (m := _DOLLAR.match(sql, i)) and (i == 0 or sql[i - 1] not in _IDENT_CHARS):
                close = sql.find(m.group(), m.end())
                if close < 0:
                    raise SplitError(f"line {self.line(i)}: unterminated dollar-quoted string {m.group()}")
                self._code(i, close + len(m.group()))
                i = close + len(m.group())
            elif self.mysql and self.code_at is None and (m := _DELIMITER.match(sql, i)):
                self.delimiter = m.group(1)
                i = m.end()
            elif sql.startswith(self.delimiter, i) and self.depth == 0:
                self._flush()
                i += len(self.delimiter)
            elif ch.isalpha() or ch == "_":
                m = _WORD.match(sql, i)
                assert m is not None
                end = m.end()
                cut = m.group().find(self.delimiter)  # "END$$" with DELIMITER $$
                if cut > 0:
                    end = i + cut
                self._code(i, end)
                self._word(sql[i:end].upper())
                i = end
            else:
                if not ch.isspace():
                    self._code(i, i + 1)
                i += 1
        self._flush()
        return self.out

    def _code(self, start: int, end: int) -> None:
        if self.code_at is None:
            self.code_at = start
        self.code_end = end

    def _flush(self) -> None:
        if self.code_at is not None:
            self.out.append(Statement(self.sql[self.code_at : self.code_end].strip(), self.line(self.code_at)))
        self.code_at, self.words, self.depth, self.block = None, [], 0, False

    def _word(self, word: str) -> None:
        previous = self.words[-1] if self.words else ""
        self.words.append(word)
        if not self.block:
            if self.dialect == "sqlite" and len(self.words) <= 4 and self.words[0] == "CREATE" and word == "TRIGGER":
                self.block = True
            elif self.pg and word == "ATOMIC" and previous == "BEGIN":
                self.block, self.depth = True, 1
            return
        if word in ("BEGIN", "CASE") and not (self.pg and word == "BEGIN"):
            self.depth += 1
        elif word == "END" and self.depth > 0:
            self.depth -= 1

    def _line_end(self, i: int) -> int:
        end = self.sql.find("\n", i)
        return len(self.sql) if end < 0 else end + 1

    def _block_comment(self, i: int) -> int:
        sql, level, j = self.sql, 1, i + 2
        while level:
            close = sql.find("*/", j)
            if close < 0:
                raise SplitError(f"line {self.line(i)}: unterminated /* comment")
            opened = sql.find("/*", j, close) if self.pg else -1  # PostgreSQL nests block comments
            if opened >= 0:
                level, j = level + 1, opened + 2
            else:
                level, j = level - 1, close + 2
        return j

    def _quoted(self, i: int) -> int:
        sql, quote, j = self.sql, self.sql[i], i + 1
        backslash = quote != "`" and (
            self.mysql
            or (self.pg and quote == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or sql[i - 2] not in _IDENT_CHARS))
        )
        while j < len(sql):
            ch = sql[j]
            if backslash and ch == "\\":
                j += 2
            elif ch == quote:
                if sql.startswith(quote, j + 1):  # a doubled quote is the quote itself
                    j += 2
                else:
                    return j + 1
            else:
                j += 1
        what = "quoted identifier" if quote in '"`' else "string"
        raise SplitError(f"line {self.line(i)}: unterminated {what} starting with {quote}")


# -- the folder -----------------------------------------------------------------------


@dataclass
class Migration:
    """One version: its up and down files, generic (key "") and per database folder."""

    version: str
    number: int
    name: str
    up: dict[str, Path] = field(default_factory=dict)
    down: dict[str, Path] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"

    def file(self, direction: Direction, dialect: str) -> Path | None:
        """The file that runs on ``dialect``: its own folder's, else the generic one."""
        files = self.up if direction == "up" else self.down
        for folder in (*DIALECT_FOLDERS.get(dialect, (dialect,)), ""):
            if folder in files:
                return files[folder]
        return None


@dataclass(frozen=True)
class Applied:
    version: str
    name: str
    checksum: str
    applied_at: datetime | None


def _with_suppressions(path: Path, statements: list[Statement]) -> list[str]:
    """Statement texts with the ``-- safeshift: allow …`` lines right above each kept, for the lint."""
    lines = path.read_text(encoding="utf-8").splitlines()
    texts: list[str] = []
    for stmt in statements:
        notes: list[str] = []
        above = stmt.line - 2  # the line before the statement's first line, 0-based
        while 0 <= above < len(lines) and lines[above].strip().lower().startswith("-- safeshift:"):
            notes.insert(0, lines[above].strip())
            above -= 1
        texts.append("\n".join([*notes, stmt.text]))
    return texts


def checksum(path: Path) -> str:
    """SHA-256 of a file with CRLF read as LF, so a Windows checkout is not a 'change'."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


@contextlib.contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """One transaction that really includes DDL on SQLite, whichever engine made ``conn``."""
    with conn.begin():
        if conn.dialect.name == "sqlite":
            driver = conn.connection.driver_connection
            # pysqlite's default mode starts transactions only before DML; the dialect's
            # engine (isolation_level None) already emitted BEGIN itself.
            if getattr(driver, "isolation_level", None) is not None and not getattr(driver, "in_transaction", True):
                conn.exec_driver_sql("BEGIN")
        yield


def _end_read(conn: Connection, began: bool) -> None:
    """Close the transaction a read opened, so no lock is held while waiting for the next step."""
    if began and conn.in_transaction():
        conn.rollback()


@MIGRATORS.register
class SqlFilesMigrator(Migrator):
    name = "sql"
    version_tables = (VERSION_TABLE,)
    # -- files --------------------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.plan.resolve(self.plan.migration.directory)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.plan.base_dir))
        except ValueError:
            return str(path)

    def _where(self, key: str) -> str:
        return f"{self.plan.source.name}: migration.{key}"

    def migrations(self) -> list[Migration]:
        """Every version in the folder, oldest first (ConfigError for a misnamed file)."""
        folder = self.directory
        if not folder.is_dir():
            raise ConfigError(f"{self._where('directory')}: folder {folder} not found")
        found: dict[int, Migration] = {}
        for sub, path in self._sql_files(folder):
            match = _FILE.match(path.name)
            if match is None:
                raise ConfigError(
                    f"{self._rel(path)}: not a migration file name; expected NNNN_name.up.sql or NNNN_name.down.sql"
                )
            number = int(match["version"])
            mig = found.setdefault(number, Migration(match["version"], number, match["name"]))
            if (mig.version, mig.name) != (match["version"], match["name"]):
                raise ConfigError(f"{self._rel(path)}: version {number} is already {mig.label}; a version has one name")
            (mig.up if match["direction"] == "up" else mig.down)[sub] = path
        for mig in found.values():
            if not mig.up:
                raise ConfigError(f"{self._rel(next(iter(mig.down.values())))}: has no matching {mig.label}.up.sql")
        return [found[n] for n in sorted(found)]

    def _sql_files(self, folder: Path) -> Iterator[tuple[str, Path]]:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix == ".sql":
                yield "", entry
            elif entry.is_dir():
                inner = sorted(p for p in entry.iterdir() if p.is_file() and p.suffix == ".sql")
                if inner and entry.name not in DIALECT_FOLDERS:
                    known = ", ".join(DIALECT_FOLDERS)
                    raise ConfigError(f"{self._rel(entry)}: unknown database folder {entry.name!r} (expected {known})")
                for path in inner:
                    yield entry.name, path

    def files(self) -> list[Path]:
        return sorted(p for m in self.migrations() for files in (m.up, m.down) for p in files.values())

    def _find(self, migrations: list[Migration], target: str) -> Migration:
        if not migrations:
            raise ConfigError(f"{self._where('directory')}: no NNNN_name.up.sql files in {self.directory}")
        if target == "head":
            return migrations[-1]
        for mig in migrations:
            if target in (mig.version, mig.label) or (target.isdigit() and int(target) == mig.number):
                return mig
        known = ", ".join(m.version for m in migrations)
        raise ConfigError(f"{self._where('target')}: no migration {target!r} (known: {known}, or head)")

    def _number(self, revision: str) -> int:
        head = revision.split("_", 1)[0]
        if not head.isdigit():
            raise ConfigError(f"{self._where('target')}: {revision!r} is not a migration version such as 0002")
        return int(head)

    def _file(self, mig: Migration, direction: Direction, dialect: str) -> Path:
        path = mig.file(direction, dialect)
        if path is None:
            if direction == "down":
                raise ConfigError(
                    f"{self._rel(self.directory / (mig.label + '.down.sql'))} is missing: cannot downgrade "
                    f"{mig.version} ({mig.name}); write the down file or use rollback.strategy = \"restore\""
                )
            raise ConfigError(
                f"{self._rel(self.directory)}: version {mig.label} has no up file for {dialect} "
                f"(add {dialect}/{mig.label}.up.sql or a generic one)"
            )
        return path

    def statements(self, path: Path, dialect: str) -> list[Statement]:
        """The file's statements (ConfigError naming the file when it cannot be split)."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{self._rel(path)}: not UTF-8 text") from None
        try:
            found = split_script(text, dialect)
        except SplitError as exc:
            raise ConfigError(f"{self._rel(path)}: {exc}") from None
        for stmt in found:
            if _TX_CONTROL.match(stmt.text):
                raise ConfigError(
                    f"{self._rel(path)}: line {stmt.line}: {stmt.text.split()[0]} — safeshift runs each file "
                    "in its own transaction; remove BEGIN/COMMIT from the file"
                )
        return found

    # -- the database's side ------------------------------------------------------------
    def _applied(self, conn: Connection) -> dict[int, Applied]:
        began = not conn.in_transaction()
        try:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return {}
            rows = conn.execute(sa.select(versions_table)).all()
        finally:
            _end_read(conn, began)
        applied: dict[int, Applied] = {}
        for row in rows:
            version = str(row.version)
            head = version.split("_", 1)[0]
            if head.isdigit():
                applied[int(head)] = Applied(version, str(row.name), str(row.checksum), row.applied_at)
        return applied

    def _validate(self, migrations: list[Migration], applied: dict[int, Applied], dialect: str) -> None:
        """Refuse a changed applied file, an applied version with no file, or a skipped one."""
        by_number = {m.number: m for m in migrations}
        for number, row in sorted(applied.items()):
            mig = by_number.get(number)
            if mig is None:
                raise ConfigError(
                    f"{VERSION_TABLE}: version {row.version} ({row.name}) was applied but "
                    f"{self._rel(self.directory)} has no {row.version}_{row.name}.up.sql; restore the file"
                )
            path = self._file(mig, "up", dialect)
            now = checksum(path)
            if now != row.checksum:
                when = f" on {row.applied_at:%Y-%m-%d}" if row.applied_at else ""
                raise ConfigError(
                    f"{self._rel(path)}: changed after it was applied{when} (sha256 {row.checksum[:12]}… "
                    f"recorded, {now[:12]}… now); add a new migration instead of editing an applied one"
                )
        if applied:
            latest = max(applied)
            for mig in migrations:
                if mig.number < latest and mig.number not in applied:
                    raise ConfigError(
                        f"{self._rel(self._file(mig, 'up', dialect))}: older than the applied version "
                        f"{applied[latest].version} but never applied; give it a number after {applied[latest].version}"
                    )

    # -- Migrator -----------------------------------------------------------------------
    def current(self, conn: Connection) -> str | None:
        applied = self._applied(conn)
        return applied[max(applied)].version if applied else None

    def resolve_target(self, target: str) -> str:
        return self._find(self.migrations(), target).version

    def _todo(self, conn: Connection, target: str) -> list[Migration]:
        migrations = self.migrations()
        goal = self._find(migrations, target).number
        applied = self._applied(conn)
        self._validate(migrations, applied, conn.dialect.name)
        return [m for m in migrations if m.number <= goal and m.number not in applied]

    def pending(self, conn: Connection, target: str) -> list[Revision]:
        return [Revision(id=m.version, message=m.name.replace("_", " ")) for m in self._todo(conn, target)]

    def upgrade(self, conn: Connection, target: str) -> Output | None:
        """Run the pending up files; the output lists them file by file (JSON-ready, for the journal)."""
        if conn.in_transaction():
            conn.commit()
        todo = self._todo(conn, target)
        output: Output = {"engine": self.name, "direction": "up", "files": []}
        try:
            for index, mig in enumerate(todo):
                self._run_file(conn, mig, "up", output["files"], create_table=index == 0)
        except BaseException as exc:
            attach_output(exc, output)
            raise
        return output

    def downgrade(self, conn: Connection, revision: str | None) -> Output | None:
        if conn.in_transaction():
            conn.commit()
        keep = -1 if revision is None else self._number(revision)
        by_number = {m.number: m for m in self.migrations()}
        applied = self._applied(conn)
        undo: list[tuple[Migration, Applied]] = []
        for number in sorted((n for n in applied if n > keep), reverse=True):
            row = applied[number]
            mig = by_number.get(number)
            if mig is None:
                raise ConfigError(
                    f"{self._rel(self.directory / (row.version + '_' + row.name + '.down.sql'))} is missing: "
                    f"cannot downgrade {row.version} ({row.name})"
                )
            self._file(mig, "down", conn.dialect.name)  # every down file must exist before any runs
            undo.append((mig, row))
        output: Output = {"engine": self.name, "direction": "down", "files": []}
        try:
            for mig, row in undo:
                self._run_file(conn, mig, "down", output["files"], recorded=row.version)
            if revision is None:
                _drop_empty_table(conn)
        except BaseException as exc:
            attach_output(exc, output)
            raise
        return output

    def stamp(self, conn: Connection, revision: str, *, force: bool = False) -> list[Revision]:
        return stamp_versions(self, conn, revision, force=force)

    def _run_file(
        self,
        conn: Connection,
        mig: Migration,
        direction: Direction,
        records: list[dict[str, Any]],
        *,
        create_table: bool = False,
        recorded: str = "",
    ) -> None:
        """Run one file in its own transaction (where DDL has one); its record is appended to ``records``."""
        dialect = conn.dialect.name
        path = self._file(mig, direction, dialect)
        statements = self.statements(path, dialect)
        record: dict[str, Any] = {"file": self._rel(path), "statements": len(statements), "ok": False}
        records.append(record)
        started = time.perf_counter()
        done = 0

        def bookkeeping() -> None:
            if direction == "up":
                if create_table:
                    versions_table.create(conn, checkfirst=True)
                now = datetime.now(UTC).replace(tzinfo=None)
                conn.execute(
                    versions_table.insert().values(version=mig.version, name=mig.name, checksum=checksum(path), applied_at=now)
                )
            else:
                conn.execute(versions_table.delete().where(versions_table.c.version == recorded))

        try:
            if dialect in TRANSACTIONAL_DDL:
                with _transaction(conn):
                    for stmt in statements:
                        conn.exec_driver_sql(stmt.text, execution_options={"no_parameters": True}).close()
                        done += 1
                    bookkeeping()
            else:  # DDL commits implicitly: run and commit statement by statement
                for stmt in statements:
                    conn.exec_driver_sql(stmt.text, execution_options={"no_parameters": True}).close()
                    conn.commit()
                    done += 1
                bookkeeping()
                conn.commit()
        except SQLAlchemyError as exc:
            if conn.in_transaction():
                conn.rollback()
            record["seconds"] = round(time.perf_counter() - started, 4)
            where = (
                f"statement {done + 1} (line {statements[done].line})" if done < len(statements) else "bookkeeping"
            )
            message = redact(f"{self._rel(path)}: {where} failed: {first_line(exc)}")
            record["error"] = message
            error = SqlFileError(message)
            error.orig = getattr(exc, "orig", None) or exc
            raise error from exc
        record["ok"] = True
        record["seconds"] = round(time.perf_counter() - started, 4)

    def _span(self, start: str | None, target: str) -> list[Migration]:
        """The migrations after ``start`` up to ``target``, in order."""
        migrations = self.migrations()
        low = -1 if start is None else self._number(start)
        high = self._find(migrations, target).number
        return [mig for mig in migrations if low < mig.number <= high]

    def check_files(self, start: str | None, target: str, dialect_name: str, *, downgrade: bool) -> None:
        for mig in self._span(start, target):
            for direction in ("up", "down") if downgrade else ("up",):
                self.statements(self._file(mig, direction, dialect_name), dialect_name)

    def render(self, start: str | None, target: str, dialect_name: str) -> list[str]:
        compiler = _COMPILERS.get(dialect_name, _COMPILERS["sqlite"])
        out: list[str] = []
        for mig in self._span(start, target):
            path = self._file(mig, "up", dialect_name)
            texts = _with_suppressions(path, self.statements(path, dialect_name))
            insert = versions_table.insert().values(
                version=mig.version, name=mig.name, checksum=checksum(path), applied_at=sa.func.current_timestamp()
            )
            texts.append(str(insert.compile(dialect=compiler, compile_kwargs={"literal_binds": True})))
            texts[0] = f"-- {self._rel(path)}\n{texts[0]}"
            out.extend(texts)
        return out


def _drop_empty_table(conn: Connection) -> None:
    """Back at base, the bookkeeping table goes too: the schema is as before the first upgrade."""
    with _transaction(conn):
        if sa.inspect(conn).has_table(VERSION_TABLE):
            if not conn.execute(sa.select(sa.func.count()).select_from(versions_table)).scalar():
                versions_table.drop(conn)


def stamp_versions(migrator: SqlFilesMigrator, conn: Connection, revision: str, *, force: bool = False) -> list[Revision]:
    """Rows in the version table for ``revision`` and every version before it, each with the
    checksum of the file that would have run here, as :meth:`upgrade` writes them; with
    ``force``, rows of later versions go."""
    if conn.in_transaction():
        conn.commit()
    migrations = migrator.migrations()
    goal = migrator._find(migrations, revision)
    applied = migrator._applied(conn)
    dialect = conn.dialect.name
    if applied and not force:
        latest = applied[max(applied)].version
        if max(applied) >= goal.number:
            raise ConfigError(
                f"{VERSION_TABLE}: the database is already at {latest}, at or beyond {goal.version}; "
                f"nothing was recorded (--force records {goal.version} as the latest version anyway)"
            )
        migrator._validate(migrations, applied, dialect)
    todo = [m for m in migrations if m.number <= goal.number and m.number not in applied]
    later = [applied[n].version for n in applied if n > goal.number]
    sums = {m.number: checksum(migrator._file(m, "up", dialect)) for m in todo}
    now = datetime.now(UTC).replace(tzinfo=None)
    with _transaction(conn):
        versions_table.create(conn, checkfirst=True)
        if later:
            conn.execute(versions_table.delete().where(versions_table.c.version.in_(later)))
        for mig in todo:
            conn.execute(
                versions_table.insert().values(version=mig.version, name=mig.name, checksum=sums[mig.number], applied_at=now)
            )
    if conn.in_transaction():
        conn.commit()
    return [Revision(id=m.version, message=m.name.replace("_", " ")) for m in todo]
