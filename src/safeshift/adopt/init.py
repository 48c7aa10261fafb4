"""``safeshift init``: a first plan for an existing project, from its files and its live database.

The migrator is found from the project (:mod:`safeshift.adopt.project`); with the database
URL in the environment the schema is read and checks are inferred from it
(:mod:`safeshift.adopt.schema`). The plan is validated by loading it before it is written,
and an existing file is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.adopt.plan_text import render_plan
from safeshift.adopt.project import Project, detect, env_py_advice
from safeshift.adopt.schema import Inferred, infer_checks
from safeshift.adopt.tools import version_tables
from safeshift.config.env import interpolate_url
from safeshift.config.models import DEFAULT_PLAN, Plan
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ConnectError, SafeshiftError
from safeshift.loading import parse_plan
from safeshift.migrators import MIGRATORS, get_migrator
from safeshift.secrets import first_line, register_url, safe_url

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class InitResult:
    """The plan written (or shown), what it was built from, and what a person should do next."""

    path: str
    written: bool
    engine: str
    found: str
    database: str | None
    tables: list[str]
    checks: int
    current: str | None
    pending: list[str]
    env_py: list[str] = field(default_factory=list)  # lines to add to env.py, with why first
    notes: list[str] = field(default_factory=list)
    plan: str = ""
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "written": self.written,
            "engine": self.engine,
            "found": self.found,
            "database": self.database,
            "tables": self.tables,
            "checks": self.checks,
            "current": self.current,
            "pending": self.pending,
            "env_py": self.env_py,
            "notes": self.notes,
            "plan": self.plan,
        }


@contextlib.contextmanager
def _database(url_env: str) -> Iterator[tuple[str, Connection] | None]:
    """A connection to the database ``$url_env`` names, or None when it is not set."""
    raw = os.environ.get(url_env)
    if not raw:
        yield None
        return
    url = interpolate_url("${" + url_env + "}", f"${url_env}", allow_inline_secrets=True)
    register_url(url)
    dialect = get_dialect(url)
    dialect.check_reachable()
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            yield safe_url(url), conn
    except SafeshiftError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise ConnectError(f"cannot read {safe_url(url)}: {first_line(exc)}") from None
    finally:
        engine.dispose()


def init_project(folder: Path, *, url_env: str = "DATABASE_URL", write: bool = True) -> InitResult:
    """Detect the project in ``folder``, infer checks from ``$url_env``'s database, write ``safeshift.toml``.

    ``write=False`` shows the plan only. An existing plan file is never overwritten (ConfigError).
    """
    from safeshift import __version__

    if not _ENV_NAME.match(url_env):
        raise ConfigError(f"--url-env: expected an environment variable name such as DATABASE_URL, got {url_env!r}")
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder")
    folder = folder.resolve()
    path = folder / DEFAULT_PLAN
    if write and path.exists():
        raise ConfigError(f"{path}: already exists; init never overwrites a plan (move it away, or see the new one with --print)")
    with _database(url_env) as db:
        conn = db[1] if db is not None else None
        tables = {t.casefold(): t for t in sa.inspect(conn).get_table_names()} if conn is not None else {}
        if conn is not None and conn.in_transaction():
            conn.rollback()
        project = detect(folder, conn, set(tables))
        ignore = version_tables() | {t for _, cls in MIGRATORS.items() for t in cls.version_tables}
        inferred: Inferred | None = infer_checks(conn, ignore) if conn is not None else None
        text = render_plan(project, url_env=url_env, inferred=inferred, version=__version__)
        plan = parse_plan(tomllib.loads(text), path)  # what init writes, loads
        result = InitResult(
            path=str(path),
            written=False,
            engine=project.engine,
            found=project.found,
            database=db[0] if db is not None else None,
            tables=[t.table for t in inferred.tables] if inferred is not None else [],
            checks=inferred.count if inferred is not None else 0,
            current=None,
            pending=[],
            env_py=env_py_advice(project.env_py, folder) if project.env_py is not None else [],
            notes=list(project.notes),
            plan=text,
        )
        if conn is not None:
            _database_state(result, project, plan, conn, set(tables) - {t.casefold() for t in ignore})
    if inferred is None:
        result.notes.append(f"${url_env} is not set: no checks were inferred from the live schema")
    if write:
        with open(path, "x", encoding="utf-8") as fh:  # never over a file that appeared meanwhile
            fh.write(text)
        result.written = True
    return result


def _database_state(result: InitResult, project: Project, plan: Plan, conn: Connection, user_tables: set[str]) -> None:
    """Where the database stands: its revision, what is pending, and whether it needs a baseline."""
    if project.tool is not None:
        result.current = project.tool.current(conn)
    else:
        migrator = get_migrator(plan)
        try:
            result.current = migrator.current(conn)
            result.pending = [r.id for r in migrator.pending(conn, "head")]
        except SafeshiftError as exc:
            result.notes.append(f"cannot tell what is pending: {exc.message}")
        if result.current is None and user_tables:
            result.notes.append(
                f"the database has {len(user_tables)} tables but no revision recorded: if its schema is already at a "
                "revision, record it before the first run with `safeshift baseline <rev>` (a run refuses to "
                "create tables that exist)"
            )
    if conn.in_transaction():
        conn.rollback()
