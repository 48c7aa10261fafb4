"""External migration tools safeshift drives as ``engine = "command"``, known by their version table.

Each tool keeps its own history in the database (Prisma ``_prisma_migrations``, Django
``django_migrations``, Flyway ``flyway_schema_history``, dbmate and golang-migrate
``schema_migrations``). The command engine asks ``current`` and ``pending`` commands what
the database is at; ``safeshift revisions TOOL`` is that command for these tools: it reads
the version table (with the URL the command engine puts in ``$DATABASE_URL``) and the
tool's migration folder, and prints one line per answer. ``up`` stays the tool's own CLI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.errors import ConfigError

# folders never searched for migrations (virtualenvs, dependencies, VCS)
SKIP_DIRS = frozenset({".git", ".hg", ".venv", "venv", "env", "node_modules", "site-packages", "__pycache__", ".safeshift", ".tox"})

Pending = list[tuple[str, str]]  # (id, description), oldest first


@dataclass(frozen=True)
class Tool:
    """One external tool: how to recognise it, read it, and run it."""

    name: str
    label: str
    table: str
    folders: tuple[str, ...]  # where its migrations usually live, relative to the project
    up: str  # the tool's own command that applies every pending migration
    stamp: str | None  # the tool's own command that marks {revision} applied (safeshift baseline)
    current: Callable[[Connection], str | None]
    pending: Callable[[Connection, Path], Pending]
    files: Callable[[Path], bool]  # does this folder hold the tool's migrations?
    notes: tuple[str, ...] = field(default=())
    up_comment: str = "the tool's own CLI: applies every pending migration"

    def has_files(self, project: Path) -> Path | None:
        """The first of the tool's usual folders under ``project`` that holds its migrations."""
        for folder in self.folders:
            path = project / folder
            if path.is_dir() and self.files(path):
                return path
        return None


def _rows(conn: Connection, table: str, *columns: str, where: Any = None) -> list[Any]:
    core = sa.table(table, *(sa.column(c) for c in columns))
    query = sa.select(*(core.c[c] for c in columns))
    if where is not None:
        query = query.where(where(core))
    return list(conn.execute(query).all())


def _words(text: str) -> str:
    return text.replace("_", " ").strip()


# -- Prisma ------------------------------------------------------------------------------------


def _prisma_applied(conn: Connection) -> set[str]:
    rows = _rows(
        conn, "_prisma_migrations", "migration_name", "finished_at", "rolled_back_at",
        where=lambda t: sa.and_(t.c.finished_at.is_not(None), t.c.rolled_back_at.is_(None)),
    )
    return {str(r[0]) for r in rows}


def _prisma_current(conn: Connection) -> str | None:
    applied = _prisma_applied(conn)
    return max(applied) if applied else None  # names start with a timestamp: the latest sorts last


def _prisma_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "migration.sql").is_file())


def _prisma_pending(conn: Connection, folder: Path) -> Pending:
    applied = _prisma_applied(conn)
    return [(name, _words(name.partition("_")[2])) for name in _prisma_folders(folder) if name not in applied]


# -- Django ------------------------------------------------------------------------------------

_DJANGO_FILE = re.compile(r"^\d{4}_\w+\.py$")


def _django_rows(conn: Connection) -> list[Any]:
    core = sa.table("django_migrations", sa.column("id"), sa.column("app"), sa.column("name"))
    return list(conn.execute(sa.select(core.c.app, core.c.name).order_by(core.c.id)).all())


def _django_current(conn: Connection) -> str | None:
    rows = _django_rows(conn)
    return f"{rows[-1][0]}.{rows[-1][1]}" if rows else None  # the last one applied


def _walk(folder: Path) -> Iterator[Path]:
    """Folders under ``folder`` (itself included), skipping virtualenvs and dependencies."""
    yield folder
    for child in sorted(folder.iterdir()):
        if child.is_dir() and child.name not in SKIP_DIRS and not child.name.startswith("."):
            yield from _walk(child)


def _django_files(folder: Path) -> list[tuple[str, str]]:
    """(app label, migration name) of every ``<app>/migrations/NNNN_name.py`` under ``folder``."""
    found = []
    for path in _walk(folder):
        if path.name == "migrations" and path.parent != path:
            found += [(path.parent.name, f.stem) for f in path.iterdir() if _DJANGO_FILE.match(f.name)]
    return sorted(found)


def _django_pending(conn: Connection, folder: Path) -> Pending:
    applied = {(str(a), str(n)) for a, n in _django_rows(conn)}
    return [(f"{app}.{name}", _words(name[5:])) for app, name in _django_files(folder) if (app, name) not in applied]


# -- Flyway ------------------------------------------------------------------------------------

_FLYWAY_FILE = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<description>.+)\.sql$")


def _flyway_version(text: str) -> str:
    """``1_1`` and ``1.01`` name Flyway version 1.1."""
    return ".".join(str(int(part)) for part in re.split(r"[._]", text))


def _flyway_applied(conn: Connection) -> list[str]:
    core = sa.table(
        "flyway_schema_history", sa.column("installed_rank"), sa.column("version"), sa.column("success")
    )
    query = sa.select(core.c.version, core.c.success).where(core.c.version.is_not(None)).order_by(core.c.installed_rank)
    return [_flyway_version(str(v)) for v, ok in conn.execute(query).all() if ok]


def _flyway_current(conn: Connection) -> str | None:
    applied = _flyway_applied(conn)
    return applied[-1] if applied else None


def _flyway_pending(conn: Connection, folder: Path) -> Pending:
    applied = set(_flyway_applied(conn))
    found = []
    for path in folder.iterdir():
        match = _FLYWAY_FILE.match(path.name)
        if match:
            version = _flyway_version(match["version"])
            if version not in applied:
                found.append((version, _words(match["description"])))
    return sorted(found, key=lambda item: [int(p) for p in item[0].split(".")])


# -- dbmate and golang-migrate (both call their table schema_migrations) -----------------------

_DBMATE_FILE = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.sql$")
_GOLANG_FILE = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.up\.sql$")


def _dbmate_current(conn: Connection) -> str | None:
    versions = [str(r[0]) for r in _rows(conn, "schema_migrations", "version")]
    return max(versions, key=lambda v: (len(v), v)) if versions else None


def _dbmate_pending(conn: Connection, folder: Path) -> Pending:
    applied = {str(r[0]) for r in _rows(conn, "schema_migrations", "version")}
    found = [m for p in folder.iterdir() if (m := _DBMATE_FILE.match(p.name)) and not p.name.endswith((".up.sql", ".down.sql"))]
    return sorted(((m["version"], _words(m["name"])) for m in found if m["version"] not in applied), key=lambda i: int(i[0]))


def _golang_current(conn: Connection) -> str | None:
    rows = _rows(conn, "schema_migrations", "version", "dirty")
    if not rows:
        return None
    version, dirty = rows[0]
    if dirty:
        raise ConfigError(
            f"schema_migrations: version {version} is dirty (a migration failed halfway); "
            "repair it and run `migrate force VERSION` first"
        )
    return str(version)


def _golang_pending(conn: Connection, folder: Path) -> Pending:
    current = _golang_current(conn)
    floor = int(current) if current is not None else -1
    found = [m for p in folder.iterdir() if (m := _GOLANG_FILE.match(p.name))]
    # ids as `current` prints them (the version number, without the file name's zero padding)
    return sorted(((str(int(m["version"])), _words(m["name"])) for m in found if int(m["version"]) > floor), key=lambda i: int(i[0]))


def _matches(pattern: re.Pattern[str]) -> Callable[[Path], bool]:
    return lambda folder: any(pattern.match(p.name) for p in folder.iterdir())


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "prisma", "Prisma", "_prisma_migrations", ("prisma/migrations",),
            up="npx prisma migrate deploy",
            stamp="npx prisma migrate resolve --applied {revision}",
            current=_prisma_current, pending=_prisma_pending, files=lambda f: bool(_prisma_folders(f)),
            notes=("Prisma has no down migrations: a rollback restores the backup.",),
        ),
        Tool(
            "django", "Django", "django_migrations", (".",),
            up="python manage.py migrate --noinput",
            stamp=None,
            current=_django_current, pending=_django_pending, files=lambda f: bool(_django_files(f)),
            notes=(
                "manage.py migrate connects with the project's settings.DATABASES: make it read $DATABASE_URL "
                "(e.g. dj-database-url), or it migrates the database the settings name.",
                "Django's own baseline is `manage.py migrate --fake APP NAME`.",
            ),
        ),
        Tool(
            "flyway", "Flyway", "flyway_schema_history", ("sql", "db/migration", "src/main/resources/db/migration", "migrations"),
            up="flyway migrate",
            stamp="flyway baseline -baselineVersion={revision}",
            current=_flyway_current, pending=_flyway_pending, files=_matches(_FLYWAY_FILE),
            notes=(
                "flyway reads its connection from flyway.conf or FLYWAY_URL/FLYWAY_USER/FLYWAY_PASSWORD (JDBC), "
                "not $DATABASE_URL: make them name the plan's database.",
            ),
        ),
        Tool(
            "dbmate", "dbmate", "schema_migrations", ("db/migrations", "migrations"),
            up="dbmate --no-dump-schema --migrations-dir {folder} up",
            stamp=None,
            current=_dbmate_current, pending=_dbmate_pending, files=_matches(_DBMATE_FILE),
            notes=("dbmate rolls back one migration at a time: a rollback restores the backup.",),
        ),
        Tool(
            "golang-migrate", "golang-migrate", "schema_migrations", ("migrations", "db/migrations"),
            up="./migrate-up",
            stamp=None,
            current=_golang_current, pending=_golang_pending, files=_matches(_GOLANG_FILE),
            up_comment="a script of yours that runs golang-migrate's up (see the note below)",
            notes=(
                "golang-migrate takes the database URL only on its command line (-database), where `ps` shows "
                "the password, and safeshift never puts it there: write ./migrate-up, a script that runs "
                'migrate -path {folder} -database "$DATABASE_URL" up, or use engine = "sql" on the same files '
                "(after `safeshift baseline <version>`).",
            ),
        ),
    )
}


def detect_tool(conn: Connection) -> Tool | None:
    """The tool whose version table the database holds (golang-migrate's has a ``dirty`` column)."""
    inspector = sa.inspect(conn)
    names = {t.casefold() for t in inspector.get_table_names()}
    for tool in TOOLS.values():
        if tool.table.casefold() not in names:
            continue
        if tool.table == "schema_migrations":
            columns = {str(c["name"]).casefold() for c in inspector.get_columns(tool.table)}
            if ("dirty" in columns) != (tool.name == "golang-migrate"):
                continue
        return tool
    return None


def get_tool(name: str) -> Tool:
    tool = TOOLS.get(name)
    if tool is None:
        raise ConfigError(f"unknown tool {name!r} (known: {', '.join(TOOLS)})")
    return tool


def version_tables() -> set[str]:
    """Every external tool's version table: bookkeeping, never the application's."""
    return {tool.table for tool in TOOLS.values()}
