"""Which migrator a project uses, found from its files (and, for external tools, its database).

Alembic: an ``alembic.ini`` (in the folder or one level down) whose ``script_location``
holds ``env.py``. SQL files: a folder of ``NNNN_name.up.sql`` files (the ``sql`` engine's
naming, per-database sub-folders included). An external tool: its version table in the
live database (:mod:`safeshift.adopt.tools`), driven as ``engine = "command"``.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from safeshift.adopt.tools import SKIP_DIRS, Tool, detect_tool
from safeshift.errors import ConfigError
from safeshift.migrators.sqlfiles import DIALECT_FOLDERS, VERSION_TABLE, is_migration_file

MAX_DEPTH = 3  # how deep a folder of SQL files is looked for


@dataclass
class Project:
    """What was found: the engine, its ``[migration]`` keys (with a comment each), and notes."""

    engine: str
    found: str  # one line: what was recognised, from which files or table
    keys: dict[str, Any]
    comments: dict[str, str] = field(default_factory=dict)
    can_downgrade: bool = True
    tool: Tool | None = None
    env_py: Path | None = None
    notes: list[str] = field(default_factory=list)


def rel(path: Path, folder: Path) -> str:
    """``path`` relative to the plan's folder, as the plan writes paths (``/`` separated)."""
    return Path(os.path.relpath(path, folder)).as_posix()


def find_alembic(folder: Path) -> tuple[Path, Path] | None:
    """(alembic.ini, env.py) of an Alembic project in ``folder`` or one level down."""
    from alembic.config import Config

    for ini in [folder / "alembic.ini", *sorted(folder.glob("*/alembic.ini"))]:
        if not ini.is_file() or any(part in SKIP_DIRS for part in ini.relative_to(folder).parts):
            continue
        try:
            location = Config(str(ini)).get_main_option("script_location")
        except Exception as exc:  # a malformed ini: configparser's errors
            raise ConfigError(f"{rel(ini, folder)}: cannot read: {exc}") from None
        if not location:
            raise ConfigError(f"{rel(ini, folder)}: no script_location (where Alembic's env.py lives)")
        scripts = Path(location)
        if not scripts.is_absolute():
            scripts = ini.parent / scripts  # as safeshift's Alembic engine reads it: from the ini's folder
        env_py = scripts / "env.py"
        if not env_py.is_file():
            raise ConfigError(f"{rel(ini, folder)}: script_location = {location}, but there is no env.py there")
        return ini, env_py
    return None


def find_sql_folder(folder: Path) -> Path | None:
    """The shallowest folder holding ``NNNN_name.up.sql`` files (a per-database sub-folder's parent)."""
    queue: deque[tuple[Path, int]] = deque([(folder, 0)])
    while queue:
        current, depth = queue.popleft()
        try:
            entries = sorted(current.iterdir())
        except OSError:
            continue
        if any(p.is_file() and p.name.endswith(".up.sql") and is_migration_file(p.name) for p in entries):
            return current.parent if current.name in DIALECT_FOLDERS and current != folder else current
        if depth < MAX_DEPTH:
            queue.extend(
                (p, depth + 1) for p in entries if p.is_dir() and p.name not in SKIP_DIRS and not p.name.startswith(".")
            )
    return None


def detect(folder: Path, conn: Connection | None, tables: set[str]) -> Project:
    """The project's migrator: Alembic files first, then an external tool's version table in the
    database (``tables``: the database's table names, folded), then a folder of SQL files."""
    alembic = find_alembic(folder)
    if alembic is not None:
        ini, env_py = alembic
        return Project(
            engine="alembic",
            found=f"Alembic project: {rel(ini, folder)}, {rel(env_py, folder)}",
            keys={"config": rel(ini, folder)},
            comments={"config": "relative to this file"},
            env_py=env_py,
        )
    sql = find_sql_folder(folder)
    tool = detect_tool(conn) if conn is not None and VERSION_TABLE not in tables else None
    if tool is not None:
        return _tool_project(folder, tool)
    if sql is not None:
        count = sum(1 for p in sql.rglob("*.up.sql") if is_migration_file(p.name))
        return Project(
            engine="sql",
            found=f"SQL migration files: {rel(sql, folder)}/ ({count} NNNN_name.up.sql files)",
            keys={"directory": rel(sql, folder)},
            comments={"directory": "NNNN_name.up.sql / .down.sql, relative to this file"},
            can_downgrade=all((p.parent / p.name.replace(".up.sql", ".down.sql")).is_file() for p in sql.rglob("*.up.sql")),
        )
    where = "" if conn is not None else " (set $DATABASE_URL to find an external tool by its version table)"
    raise ConfigError(
        f"{folder}: no migration project found: expected alembic.ini, a folder of NNNN_name.up.sql files, or a "
        f"database with the version table of Prisma, Django, Flyway, dbmate or golang-migrate{where}"
    )


def _tool_project(folder: Path, tool: Tool) -> Project:
    """``engine = "command"`` for an external tool: its own CLI applies, ``safeshift revisions`` reads."""
    found = tool.has_files(folder)
    migrations = rel(found, folder) if found is not None else tool.folders[0]
    reader = f"safeshift revisions {tool.name} --dir {migrations}"
    keys: dict[str, Any] = {
        "up": tool.up.replace("{folder}", migrations),
        "current": reader,
        "pending": f"{reader} --pending",
    }
    comments = {
        "up": tool.up_comment,
        "current": f"reads {tool.table}: the latest migration applied",
        "pending": f"the migrations in {migrations} not in {tool.table} yet, one per line",
    }
    if tool.stamp is not None:
        keys["stamp"] = tool.stamp
        comments["stamp"] = "`safeshift baseline REV` marks REV applied without running it"
    notes = [note.replace("{folder}", migrations) for note in tool.notes]
    if found is None:
        notes.append(f"no {tool.label} migrations found in {', '.join(tool.folders)}: fix --dir in current and pending")
    return Project(
        engine="command",
        found=f"{tool.label}: {tool.table} in the database" + (f", migrations in {migrations}" if found else ""),
        keys=keys,
        comments=comments,
        can_downgrade=False,
        tool=tool,
        notes=notes,
    )


def env_py_advice(env_py: Path, folder: Path) -> list[str]:
    """Lines to add to an env.py that does not use the connection safeshift passes, with why; [] when it does."""
    try:
        text = env_py.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if "attributes" in text and "connection" in text:
        return []
    if "sqlalchemy.url" in text or "engine_from_config" in text:
        why = (
            f"{rel(env_py, folder)} builds its own engine from sqlalchemy.url, which safeshift sets to the plan's "
            "database, so it works as it is; to migrate on safeshift's own connection (its session, lock "
            "timeout and run lock), add at the top of run_migrations_online():"
        )
    else:
        why = (
            f"{rel(env_py, folder)} connects by its own means; a run refuses an env.py that reaches another "
            "database than the plan's. Add at the top of run_migrations_online():"
        )
    return [
        why,
        '    connection = config.attributes.get("connection")',
        "    if connection is not None:  # safeshift passes its own connection",
        "        context.configure(connection=connection, target_metadata=target_metadata)",
        "        with context.begin_transaction():",
        "            context.run_migrations()",
        "        return",
    ]
