"""Shared fixtures: an engine for every reachable database.

Most tests take ``db_url``/``db_engine`` and so run on SQLite, PostgreSQL and MariaDB.
A server that is down makes its tests skip on a laptop and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from safeshift.demo import server_url
from safeshift.dialects import get_dialect

DATABASES = ["sqlite", "postgresql", "mysql"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@cache
def server_problem(kind: str) -> str | None:
    """None when the server answers, else why not."""
    if kind == "sqlite":
        return None
    url = server_url(kind)
    args = {"connect_timeout": 3}
    try:
        engine = create_engine(url, connect_args=args)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"{kind} server at {url.render_as_string(hide_password=True)} is not reachable: {exc}"
    return None


def require_server(kind: str) -> None:
    problem = server_problem(kind)
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)


def scratch_url(kind: str, tmp_path: Path, prefix: str = "ss_test") -> URL:
    """A new empty database of ``kind`` (the caller drops server databases)."""
    if kind == "sqlite":
        path = tmp_path / f"{prefix}.sqlite3"
        path.touch()
        return make_url(f"sqlite:///{path}")
    require_server(kind)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    return get_dialect(server_url(kind)).recreate_database(name)


def server_databases(kind: str) -> set[str]:
    """Names of the databases on a server (to see that a scratch copy was dropped)."""
    engine = create_engine(server_url(kind))
    try:
        with engine.connect() as conn:
            sql = "SELECT datname FROM pg_database" if kind == "postgresql" else "SHOW DATABASES"
            return {str(r[0]) for r in conn.execute(text(sql))}
    finally:
        engine.dispose()


def drop_scratch(kind: str, url: URL) -> None:
    if kind != "sqlite" and url.database:
        get_dialect(server_url(kind)).drop_database(url.database)


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path) -> Iterator[URL]:
    url = scratch_url(db_kind, tmp_path)
    try:
        yield url
    finally:
        drop_scratch(db_kind, url)


@pytest.fixture
def db_engine(db_url: URL) -> Iterator[Engine]:
    engine = get_dialect(db_url).create_engine()
    try:
        yield engine
    finally:
        engine.dispose()


APP_SIDE = "# --- the application side"


def family_plan(
    folder: Path, extra: str = "", edit: Callable[[str], str] | None = None, *, app: bool = False
) -> Path:
    """A copy of the family example's plan in ``folder`` (its Alembic config by absolute path,
    its Python checks beside it), optionally edited, with ``extra`` TOML appended.

    Without ``app`` the application side (maintenance, smoke, watch) is left out: most tests
    are about the database and start no application.
    """
    folder.mkdir(parents=True, exist_ok=True)
    source = EXAMPLES / "family"
    text = (source / "safeshift.toml").read_text()
    if not app:
        text = text.split(APP_SIDE)[0]
    text = text.replace('config = "alembic.ini"', 'config = "ALEMBIC_INI"')
    if edit is not None:
        text = edit(text)
    text = text.replace("ALEMBIC_INI", str(source / "alembic.ini"))
    for module in source.glob("*.py"):
        shutil.copy(module, folder / module.name)
    plan = folder / "safeshift.toml"
    plan.write_text(text + extra)
    return plan
