"""The corpus labels that depend on server behaviour, checked against the real servers.

A case's ``-- verify:`` header says what the server does with it:

- PostgreSQL 15: ``rewrite`` / ``no-rewrite`` (a table's relfilenode changes or not; run in a
  transaction that is rolled back), ``refused`` (the server raises on a table with rows).
- MariaDB 10.11: ``not-online`` (refused with ALGORITHM=INSTANT and with ALGORITHM=INPLACE,
  LOCK=NONE: it needs a copy or a write-blocking lock), ``online`` (accepted with one of them).
- SQLite: ``refused`` / ``accepted``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from helpers import drop_scratch, scratch_url
from safeshift.dialects import get_dialect
from safeshift.lint import probe_lock_class, split_script
from test_lint_corpus import CASES, Case

pytestmark = pytest.mark.server

_BASE = {
    "postgresql": [
        "CREATE TABLE families (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255), name varchar(100), age int, family_id bigint, bio text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total numeric, status varchar(20))",
        "INSERT INTO families VALUES (1, 'a')",
        "INSERT INTO users VALUES (1, 'a@x', 'a', 30, 1, 'hi'), (2, 'b@x', 'b', 40, 1, NULL)",
        "INSERT INTO orders VALUES (1, 1, 9.5, 'new')",
    ],
    "mysql": [
        "CREATE TABLE families (id BIGINT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255), name VARCHAR(60), age INT, family_id BIGINT, bio TEXT, KEY ix_users_email (email)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT, total DECIMAL(10,2), status VARCHAR(20)) ENGINE=InnoDB",
        "INSERT INTO families VALUES (1, 'a')",
        "INSERT INTO users VALUES (1, 'a@x', 'a', 30, 1, 'hi'), (2, 'b@x', 'b', 40, 1, NULL)",
        "INSERT INTO orders VALUES (1, 1, 9.5, 'new')",
    ],
    "sqlite": [
        "CREATE TABLE families (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, age INTEGER, family_id INTEGER, bio TEXT)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL, status TEXT)",
        "INSERT INTO families VALUES (1, 'a')",
        "INSERT INTO users VALUES (1, 'a@x', 'a', 30, 1, 'hi'), (2, 'b@x', 'b', 40, 1, NULL)",
        "INSERT INTO orders VALUES (1, 1, 9.5, 'new')",
    ],
}


def _verified(dialect: str) -> list[Case]:
    return [c for c in CASES if c.dialect == dialect and c.verify]


def _ids(cases: list[Case]) -> list[str]:
    return [c.path.name for c in cases]


def _statements(case: Case) -> list[str]:
    body = "\n".join(line for line in case.sql.splitlines() if not line.startswith("-- "))
    return [s.strip().rstrip(";") for s in split_script(body, case.dialect)]


def test_every_dialect_has_verified_labels() -> None:
    for dialect in ("postgresql", "mysql", "sqlite"):
        assert len(_verified(dialect)) >= 8, dialect


@contextlib.contextmanager
def _base_database(kind: str, folder: Path) -> Iterator[Engine]:
    """A scratch database of ``kind`` holding the corpus's base tables, dropped after."""
    url = scratch_url(kind, folder, "ss_corpus")
    engine = get_dialect(url).create_engine()
    try:
        with engine.begin() as conn:
            for sql in _BASE[kind]:
                conn.exec_driver_sql(sql)
        yield engine
    finally:
        engine.dispose()
        drop_scratch(kind, url)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with _base_database("postgresql", tmp_path_factory.mktemp("pg")) as engine:
        yield engine


@pytest.mark.parametrize("case", _verified("postgresql"), ids=_ids(_verified("postgresql")))
def test_postgresql_label(postgres: Engine, case: Case) -> None:
    nodes = sa.text("SELECT relname, relfilenode FROM pg_class WHERE relname IN ('users', 'orders')")
    with postgres.connect() as conn:
        before = {name: node for name, node in conn.execute(nodes)}
        try:
            for sql in _statements(case):
                conn.exec_driver_sql(sql)
        except sa.exc.DBAPIError:
            conn.rollback()
            assert case.verify == "refused", f"{case.path.name}: the server refused it"
            return
        after = {name: node for name, node in conn.execute(nodes)}
        conn.rollback()
    assert case.verify != "refused", f"{case.path.name}: the server accepted it"
    rewritten = before != after
    assert rewritten == (case.verify == "rewrite"), f"{case.path.name}: relfilenode {before} → {after}"
    if case.verify == "no-rewrite":
        assert case.label == "safe"


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[Engine]:
    with _base_database("mysql", tmp_path) as engine:
        yield engine


@pytest.mark.parametrize("case", _verified("mysql"), ids=_ids(_verified("mysql")))
def test_mariadb_label(mariadb: Engine, case: Case) -> None:
    [statement] = _statements(case)
    with mariadb.connect() as conn:
        lock_class = probe_lock_class(conn, statement)
    if case.verify == "not-online":
        assert lock_class == "copy", f"{case.path.name}: MariaDB ran it {lock_class}"
        assert case.label == "hazard"
    else:
        assert case.verify == "online"
        assert lock_class in ("instant", "inplace"), f"{case.path.name}: MariaDB needs a copy"
        assert case.label == "safe"


@pytest.mark.parametrize("case", _verified("sqlite"), ids=_ids(_verified("sqlite")))
def test_sqlite_label(tmp_path: Path, case: Case) -> None:
    db = sqlite3.connect(tmp_path / "corpus.sqlite3")
    try:
        for sql in _BASE["sqlite"]:
            db.execute(sql)
        db.commit()
        try:
            for sql in _statements(case):
                db.execute(sql)
        except sqlite3.Error as exc:
            assert case.verify == "refused", f"{case.path.name}: SQLite refused it: {exc}"
            assert case.label == "hazard"
            return
        assert case.verify == "accepted", f"{case.path.name}: SQLite accepted it"
    finally:
        db.close()
