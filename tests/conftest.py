"""Shared fixtures (one definition each) and the ``server`` marker's bookkeeping.

Most tests take ``db_url``/``db_engine`` and so run on SQLite, PostgreSQL and MariaDB.
Every test that needs a server carries the ``server`` marker: added here to each test
parametrized with a server kind, written out on the tests that reach a server otherwise.
Helpers that are not fixtures live in helpers.py.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

import helpers
from checks_support import md
from helpers import (
    DATABASES,
    SERVER_KINDS,
    ItemsDb,
    drop_database,
    drop_scratch,
    require_server,
    scratch_url,
)
from safeshift.dialects import get_dialect

# Parameters whose value is a database kind: a test with "postgresql" or "mysql" there needs that
# server. (A parameter that only names a SQL dialect, with no database behind it, is "dialect".)
KIND_PARAMS = ("db_kind", "server_kind", "kind", "demo_db", "tool_db")


def pytest_configure(config: pytest.Config) -> None:
    # Started as a background job (`make test &`), the shell leaves SIGINT ignored, and every
    # child inherits that: the Ctrl-C tests' `safeshift` would never see their SIGINT. A handler
    # (not SIG_IGN) here is reset to the default in each child, which Python turns into KeyboardInterrupt.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(params.get(name) in SERVER_KINDS for name in KIND_PARAMS):
            item.add_marker(pytest.mark.server)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # require_server fails a test that reaches a server without the marker
    helpers.server_allowed = item.get_closest_marker("server") is not None


# -- a scratch database of every kind ----------------------------------------------------------
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


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    """A fresh database with the check tests' schema (checks_support.py) and no rows."""
    md.create_all(db_engine)
    return db_engine


@pytest.fixture
def items_rows() -> int:
    """How many rows ``items_db`` holds (a module overrides this fixture to change it)."""
    return 200


@pytest.fixture
def items_db(
    db_kind: str, items_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ItemsDb]:
    """A database of ``db_kind`` holding ``items(id, qty)``, its URL in ``SS_ITEMS_URL``."""
    url = scratch_url(db_kind, tmp_path, prefix="ss_items")
    try:
        engine = get_dialect(url).create_engine()
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)"))
                conn.execute(
                    sa.text("INSERT INTO items (id, qty) VALUES (:id, :qty)"),
                    [{"id": i, "qty": i % 97} for i in range(1, items_rows + 1)],
                )
        finally:
            engine.dispose()
        rendered = url.render_as_string(hide_password=False)
        monkeypatch.setenv(helpers.ITEMS_URL_ENV, rendered)
        monkeypatch.delenv("SAFESHIFT_FAULT", raising=False)
        yield ItemsDb(db_kind, url, {**os.environ, helpers.ITEMS_URL_ENV: rendered})
    finally:
        drop_scratch(db_kind, url)


# -- the family example's database -------------------------------------------------------------
@pytest.fixture
def family_users() -> int:
    """How many users ``family`` generates (a module overrides this fixture to change it)."""
    return 1500


@pytest.fixture
def family(
    db_kind: str, family_users: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[URL]:
    """The family example's "before" database (revision 0001 and generated data) of ``db_kind``,
    its URL in ``FAMILY_DATABASE_URL`` as the family plan reads it."""
    from safeshift.demo import prepare_family_database  # the demo is what builds it

    require_server(db_kind)
    name = f"ss_fam_{uuid.uuid4().hex[:8]}"
    url, _ = prepare_family_database(db_kind, tmp_path, family_users, name=name)  # type: ignore[arg-type]
    monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        yield url
    finally:
        drop_database(db_kind, name)


# -- HTTP --------------------------------------------------------------------------------------
@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c
