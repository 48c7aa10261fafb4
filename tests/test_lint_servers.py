"""The lint against live servers: MariaDB's own verdict on lock classes, and real table sizes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from helpers import ItemsDb, drop_scratch, scratch_url
from safeshift.dialects import get_dialect
from safeshift.lint import (
    LintSettings,
    annotate,
    lint_statements,
    probe_lock_class,
    table_sizes_from_facts,
)

pytestmark = pytest.mark.server


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[Engine]:
    """A scratch MariaDB database with a small users table and a families table."""
    url = scratch_url("mysql", tmp_path, "ss_lint")
    engine = get_dialect(url).create_engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE families (id INT PRIMARY KEY) ENGINE=InnoDB")
            conn.exec_driver_sql(
                "CREATE TABLE users (id INT PRIMARY KEY, age INT, name VARCHAR(50), family_id INT) ENGINE=InnoDB"
            )
            conn.exec_driver_sql("INSERT INTO users VALUES (1, 30, 'a', NULL), (2, 40, 'b', NULL)")
        yield engine
    finally:
        engine.dispose()
        drop_scratch("mysql", url)


def _column_type(engine: Engine, column: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text(
                    "SELECT COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = :c"
                ),
                {"c": column},
            ).scalar_one()
        )


def test_probe_lock_class_on_mariadb(mariadb: Engine) -> None:
    with mariadb.connect() as conn:
        # a nullable column: metadata only
        assert probe_lock_class(conn, "ALTER TABLE users ADD COLUMN note VARCHAR(20) NULL;") == "instant"
        # an index: built online
        assert probe_lock_class(conn, "CREATE INDEX ix_users_name ON users (name)") == "inplace"
        # a type change: both probes are refused, and the table is left as it was
        assert probe_lock_class(conn, "ALTER TABLE users MODIFY COLUMN age BIGINT") == "copy"
        # a foreign key with foreign_key_checks=1 needs a copy too
        fk = "ALTER TABLE users ADD CONSTRAINT fk_users_family FOREIGN KEY (family_id) REFERENCES families (id)"
        assert probe_lock_class(conn, fk) == "copy"
        # the statement's own ALGORITHM/LOCK clauses are replaced by the probes'
        assert probe_lock_class(conn, "ALTER TABLE users DROP COLUMN note, ALGORITHM=COPY") == "instant"
        with pytest.raises(sa.exc.DBAPIError):  # a real error is not a lock class
            probe_lock_class(conn, "ALTER TABLE no_such_table ADD COLUMN x INT")
        with pytest.raises(ValueError, match="only ALTER TABLE"):
            probe_lock_class(conn, "UPDATE users SET age = 1")
    assert _column_type(mariadb, "age").startswith("int")  # refused probes changed nothing
    with mariadb.connect() as conn:
        columns = [r[0] for r in conn.exec_driver_sql("SHOW COLUMNS FROM users")]
        indexes = {r[2] for r in conn.exec_driver_sql("SHOW INDEX FROM users")}
    assert "note" not in columns and "ix_users_name" in indexes


def test_the_lint_guess_agrees_with_the_server(mariadb: Engine) -> None:
    statements = [
        "ALTER TABLE users ADD COLUMN note VARCHAR(20) NULL",
        "CREATE INDEX ix_users_age ON users (age)",
        "ALTER TABLE users MODIFY COLUMN age BIGINT",
    ]
    guesses = [info.algorithm for info in annotate(statements, "mysql")]
    with mariadb.connect() as conn:
        assert [probe_lock_class(conn, s) for s in statements] == guesses


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql", "sqlite"])
def test_live_table_sizes_scale_the_severity(db_kind: str, db_engine: Engine) -> None:
    rows = 20_000
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE big_users (id INTEGER PRIMARY KEY, email VARCHAR(100))")
        conn.execute(
            sa.text("INSERT INTO big_users (id, email) VALUES (:id, :email)"),
            [{"id": i, "email": f"user{i}@example.org"} for i in range(rows)],
        )
        conn.exec_driver_sql("CREATE TABLE tiny (id INTEGER PRIMARY KEY)")
    with db_engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE TABLE big_users, tiny" if db_kind == "mysql" else "ANALYZE")
    dialect = get_dialect(db_engine.url)
    with db_engine.connect() as conn:
        facts = dialect.server_facts(conn)
    sizes = table_sizes_from_facts(facts)
    big = sizes["big_users"]
    assert big.bytes and big.bytes > 0
    # statistics under 100,000 rows (or none, SQLite's) are replaced by an exact count
    assert big.rows == rows and big.source == "exact"
    # MySQL/MariaDB build a plain index online: a FULLTEXT one blocks writes, scaled by size
    index = "CREATE FULLTEXT INDEX" if db_kind == "mysql" else "CREATE INDEX"
    findings = lint_statements([f"{index} ix_email ON big_users (email);"], dialect.name, sizes)
    expected = "warning" if db_kind != "sqlite" else LintSettings().severity_for_rows(big.estimated_rows)
    assert [f.severity for f in findings if not f.suppressed] == [expected]
    assert big.describe() in findings[0].message
    tiny = lint_statements([f"{index} ix_tiny ON tiny (id);"], dialect.name, sizes)
    assert [f.severity for f in tiny] == ["note"]


# -- the live server's version reaches the lint ---------------------------------------------------

# (statement, text the advice has on the live server, --server-version of an older one, what changes there)
VERSIONED = {
    "postgresql": ("REINDEX TABLE items;", "REINDEX TABLE CONCURRENTLY items", "11", "has no REINDEX CONCURRENTLY"),
    "mysql": ("ALTER TABLE items ADD COLUMN note VARCHAR(20) NULL FIRST;", None, "10.3", "rebuilds items on MariaDB 10.3"),
    "sqlite": ("-- safeshift: allow SS006 because nothing reads items.qty\nALTER TABLE items RENAME COLUMN qty TO quantity;", None, "3.24.0", "SQLite 3.24.0 has no ALTER TABLE RENAME COLUMN"),
}


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql", "sqlite"])
def test_the_live_server_version_picks_the_advice(items_db: ItemsDb, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from helpers import items_plan
    from safeshift.cli.app import app

    sql, live_advice, older, older_text = VERSIONED[items_db.kind]
    plan = items_plan(tmp_path / "plan")
    (tmp_path / "plan" / "migrations" / "0001_extra.up.sql").write_text(sql + "\n")
    with get_dialect(items_db.url).create_engine().connect() as conn:
        live = get_dialect(items_db.url).server_facts(conn).version
    result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    version = data["server_version"]
    assert version["source"] == "server" and version["version"] in live, (version, live)
    assert version["product"] == {"postgresql": "postgresql", "mysql": "mariadb", "sqlite": "sqlite"}[items_db.kind]
    advice = " ".join(f["message"] + " " + f["suggestion"] for f in data["findings"])
    if live_advice:
        assert live_advice in advice
    assert older_text not in advice
    if items_db.kind == "mysql":  # MariaDB 10.4+ adds a column anywhere instantly
        assert data["statements"][0]["algorithm"] == "instant"
    human = CliRunner().invoke(app, ["lint", "--plan", str(plan)])
    assert "from the server" in " ".join(human.output.split())
    # the same plan, linted for an older server than the live one (--server-version wins)
    result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--json", "--server-version", older])
    data = json.loads(result.stdout)
    assert data["server_version"]["source"] == "--server-version"
    assert older_text in " ".join(f["message"] + " " + f["suggestion"] for f in data["findings"])
    if items_db.kind == "mysql":  # the lock view follows the version too
        assert data["statements"][0]["algorithm"] == "inplace"  # (the second: the version table's INSERT)
