"""Shared test helpers that are not fixtures (the fixtures live in conftest.py).

Test modules import from here (``from helpers import ...``: pyproject puts tests/ on the
path), never from conftest and never test infrastructure from ``safeshift.demo``.

The test servers are read from ``SAFESHIFT_PG_URL`` and ``SAFESHIFT_MYSQL_URL`` (the same
variables the demo reads, so a demo started by a test lands on the same server). Point them
at a closed port to see that ``-m "not server"`` needs no server.

A test that needs a server carries the ``server`` marker (conftest adds it to every test
parametrized with a server kind); a server that is down makes such a test skip on a laptop
and fail in CI (``CI=true``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, make_url

from safeshift.dialects import get_dialect

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

SERVER_KINDS = ("postgresql", "mysql")
DATABASES = ["sqlite", *SERVER_KINDS]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# kind -> (environment variable, default): the servers tests create scratch databases on
SERVER_URLS: dict[str, tuple[str, str]] = {
    "postgresql": ("SAFESHIFT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mysql": ("SAFESHIFT_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}

# Set by conftest around each test: may this test reach a server (does it carry ``server``)?
server_allowed = True


def server_url(kind: str) -> URL:
    """The admin URL of the test server of ``kind`` (``postgresql`` or ``mysql``)."""
    env, default = SERVER_URLS[kind]
    return make_url(os.environ.get(env) or default)


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
    """Skip (fail in CI) when the server of ``kind`` does not answer; nothing for SQLite.

    A test that gets here for a server without the ``server`` marker fails: it would
    otherwise slip into ``-m "not server"`` runs.
    """
    if kind == "sqlite":
        return
    if not server_allowed:
        pytest.fail(f"this test needs the {kind} server but is not marked server (@pytest.mark.server)")
    problem = server_problem(kind)
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)


def scratch_url(kind: str, tmp_path: Path, prefix: str = "ss_test") -> URL:
    """A new empty database of ``kind`` (drop server databases with :func:`drop_scratch`)."""
    if kind == "sqlite":
        path = tmp_path / f"{prefix}.sqlite3"
        path.touch()
        return make_url(f"sqlite:///{path}")
    require_server(kind)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    return get_dialect(server_url(kind)).recreate_database(name)


def drop_scratch(kind: str, url: URL) -> None:
    if kind != "sqlite" and url.database:
        drop_database(kind, url.database)


def drop_database(kind: str, name: str) -> None:
    """Drop database ``name`` on the test server of ``kind`` (nothing for SQLite)."""
    if kind != "sqlite":
        get_dialect(server_url(kind)).drop_database(name)


def server_databases(kind: str) -> set[str]:
    """Names of the databases on a server (to see that a scratch copy was dropped)."""
    require_server(kind)
    engine = create_engine(server_url(kind))
    try:
        with engine.connect() as conn:
            sql = "SELECT datname FROM pg_database" if kind == "postgresql" else "SHOW DATABASES"
            return {str(r[0]) for r in conn.execute(text(sql))}
    finally:
        engine.dispose()


ITEMS_URL_ENV = "SS_ITEMS_URL"  # where the ``items_db`` fixture puts its database's URL


@dataclass
class ItemsDb:
    """What the ``items_db`` fixture yields: a database holding ``items(id, qty)``."""

    kind: str
    url: URL
    env: dict[str, str]  # os.environ with ITEMS_URL_ENV set, for subprocesses


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


EXTRA_UP = "CREATE TABLE extra (id INTEGER PRIMARY KEY);\n"
EXTRA_DOWN = "DROP TABLE extra;\n"


def items_plan(folder: Path, extra: str = "", *, verify: str = "scan") -> Path:
    """A plan on the ``items_db`` database whose one migration (0001) adds table ``extra``.

    ``extra`` is TOML appended to ``[database]``, ``[migration]`` (engine "sql") and ``[backup]``.
    """
    migrations = folder / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / "0001_extra.up.sql").write_text(EXTRA_UP)
    (migrations / "0001_extra.down.sql").write_text(EXTRA_DOWN)
    plan = folder / "safeshift.toml"
    plan.write_text(
        f'[database]\nurl = "${{{ITEMS_URL_ENV}}}"\n\n[migration]\nengine = "sql"\n\n[backup]\nverify = "{verify}"\n{extra}'
    )
    return plan


# -- an Alembic project as `alembic init` writes it (tests/test_init.py, tests/test_baseline.py) --

ALEMBIC_FIRST = '''"""owners and items

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "owners",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(50), nullable=False, unique=True),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id")),
    )


def downgrade():
    op.drop_table("items")
    op.drop_table("owners")
'''

ALEMBIC_SECOND = '''"""a note on items

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("items", sa.Column("note", sa.String(50)))


def downgrade():
    with op.batch_alter_table("items") as batch:
        batch.drop_column("note")
'''

# the rows of items at 0001 (owners 1 and 2 exist)
ALEMBIC_ITEMS = [(1, "one", 1), (2, "two", 2), (3, "three", None)]


def alembic_project(folder: Path) -> Path:
    """What `alembic init migrations` writes (the real CLI, generic template), plus two revisions."""
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=folder, check=True, capture_output=True)
    versions = folder / "migrations" / "versions"
    (versions / "0001_owners_items.py").write_text(ALEMBIC_FIRST)
    (versions / "0002_note.py").write_text(ALEMBIC_SECOND)
    return folder


FAILING_REVISION = '''"""appended by the test: fails while upgrading

Revision ID: zz_fails
Revises: {head}
"""
from alembic import context, op
import sqlalchemy as sa

revision = "zz_fails"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("{table}", sa.Column("note", sa.String(20)))
    if not context.is_offline_mode():
        raise RuntimeError("this release's migration is broken")


def downgrade():
    op.drop_column("{table}", "note")
'''


def failing_revision(head: str, table: str) -> str:
    """A revision to append to a real project's history: adds a column to ``table``, then fails
    (online only, so the lint can still render it)."""
    return FAILING_REVISION.format(head=head, table=table)


# -- reading a database back, on the test's own connection (never through safeshift's checks) --
@contextlib.contextmanager
def _reading(url: URL) -> Iterator[Connection]:
    """A connection of an engine of its own, disposed after."""
    engine = get_dialect(url).create_engine()
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def table_names(url: URL) -> set[str]:
    """The tables the database at ``url`` has now."""
    with _reading(url) as conn:
        return set(inspect(conn).get_table_names())


def column_names(url: URL, table: str) -> set[str]:
    """The columns ``table`` has now."""
    with _reading(url) as conn:
        return {str(c["name"]) for c in inspect(conn).get_columns(table)}


def query(url: URL, sql: str) -> list[Any]:
    """Every row ``sql`` returns, as tuples."""
    with _reading(url) as conn:
        return [tuple(r) for r in conn.execute(text(sql))]
