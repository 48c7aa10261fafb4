"""The advice per server version: what each version does online, read from one table, no database.

Each row: dialect, server version, statement, the unsuppressed findings (CODE or CODE@severity)
safeshift's own rules give (squawk left out: it has its own version handling), and text the
advice must and must not contain. The versions sit on both sides of each boundary.
"""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import pytest

from safeshift.lint import annotate, lint_statements, split_script
from safeshift.lint.version import (
    ServerVersion,
    assumed_version,
    parse_server_version,
    resolve_version,
)
from safeshift.loading import parse_plan

ADD_DEFAULT = "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;"
REINDEX = "REINDEX INDEX ix_users_email;"
REINDEX_C = "REINDEX INDEX CONCURRENTLY ix_users_email;"
DETACH = "ALTER TABLE events DETACH PARTITION events_2019;"
DETACH_C = "ALTER TABLE events DETACH PARTITION events_2019 CONCURRENTLY;"
ATTACH = "ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
REQUIRED = "ALTER TABLE users ADD COLUMN flag INT NOT NULL;"
ADD_LAST = "ALTER TABLE users ADD COLUMN note VARCHAR(20) NULL;"
ADD_AFTER = "ALTER TABLE users ADD COLUMN note VARCHAR(20) NULL AFTER name;"
DROP = "ALTER TABLE users DROP COLUMN age;"
RENAME = "ALTER TABLE users RENAME COLUMN name TO full_name;"

# (dialect, version, sql, findings, advice contains, advice lacks)
CASES: list[tuple[str, str, str, set[str], tuple[str, ...], tuple[str, ...]]] = [
    # PostgreSQL < 11 writes a constant default into every row; 11+ stores it once
    ("postgresql", "10.23", ADD_DEFAULT, {"SS002"}, ("[[migration.backfill]]", "SET DEFAULT TRUE", "NOT VALID", "VALIDATE"), ("`",)),
    ("postgresql", "11", ADD_DEFAULT, set(), (), ()),
    ("postgresql", "15", "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();", {"SS002"}, ("[[migration.backfill]]",), ("NOT VALID",)),
    # a required column: a constant default is the answer from 11 on, a backfill before
    ("postgresql", "15", REQUIRED, {"SS003"}, ("NOT NULL DEFAULT <constant>", "[[migration.backfill]]"), ("ALGORITHM",)),
    ("postgresql", "10", REQUIRED, {"SS003"}, ("[[migration.backfill]]", "NOT VALID"), ("NOT NULL DEFAULT <constant>",)),
    # REINDEX CONCURRENTLY from 12
    ("postgresql", "11.22", REINDEX_C, {"SS001@error"}, ("CREATE INDEX CONCURRENTLY ix_users_email_new",), ("REINDEX INDEX CONCURRENTLY",)),
    ("postgresql", "12", REINDEX_C, set(), (), ()),
    ("postgresql", "11", REINDEX, {"SS001"}, ("has no REINDEX CONCURRENTLY", "DROP INDEX CONCURRENTLY ix_users_email"), ()),
    ("postgresql", "12.1", REINDEX, {"SS001"}, ("REINDEX INDEX CONCURRENTLY ix_users_email",), ()),
    # DETACH ... CONCURRENTLY from 14; ATTACH stops locking the parent in 12
    ("postgresql", "13.12", DETACH_C, {"SS010@error"}, ("lock_timeout",), ("DETACH PARTITION events_2019 CONCURRENTLY",)),
    ("postgresql", "14", DETACH_C, set(), (), ()),
    ("postgresql", "13", DETACH, {"SS010"}, ("has no DETACH",), ()),
    ("postgresql", "14.0", DETACH, {"SS010"}, ("DETACH PARTITION events_2019 CONCURRENTLY", "autocommit_block"), ()),
    ("postgresql", "11", ATTACH, {"SS010"}, ("NOT VALID", "VALIDATE CONSTRAINT events_2024_bound"), ()),
    ("postgresql", "12", ATTACH, set(), (), ()),
    # NOT VALID + VALIDATE for CHECK and FOREIGN KEY on every version, never for UNIQUE / PRIMARY KEY
    ("postgresql", "10", "ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age > 0);", {"SS004"},
     ("CHECK (age > 0) NOT VALID;", "VALIDATE CONSTRAINT age_ok;"), ()),
    ("postgresql", "17", "ALTER TABLE users ADD CONSTRAINT fk_fam FOREIGN KEY (family_id) REFERENCES families (id);", {"SS004"},
     ("REFERENCES families (id) NOT VALID;", "VALIDATE CONSTRAINT fk_fam;"), ()),
    ("postgresql", "15", "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", {"SS001"},
     ("CREATE UNIQUE INDEX CONCURRENTLY users_email_key_idx ON users (email)", "UNIQUE USING INDEX users_email_key_idx"), ("NOT VALID",)),
    ("postgresql", "15", "CREATE INDEX ix_users_email ON users (email);", {"SS001"},
     ("CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",), ()),
    # MySQL: INSTANT ADD COLUMN last from 8.0.12, anywhere from 8.0.29; 5.7 rebuilds in place
    ("mysql", "5.7.44", ADD_LAST, {"SS002"}, ("ALGORITHM=INPLACE, LOCK=NONE", "gh-ost", "pt-online-schema-change"), ("INSTANT",)),
    ("mysql", "8.0.12", ADD_LAST, set(), (), ()),
    ("mysql", "8.0.28", ADD_AFTER, {"SS002"}, ("add it as the last column", "ADD COLUMN note VARCHAR(20) NULL, ALGORITHM=INSTANT;"), ("AFTER",)),
    ("mysql", "8.0.29", ADD_AFTER, set(), (), ()),
    ("mysql", "8.0.20", ADD_AFTER.replace(";", ", ALGORITHM=INSTANT;"), {"SS002@error"}, ("ALGORITHM=INSTANT;",), ()),
    ("mysql", "8.0.28", DROP, {"SS002", "SS005"}, ("DROP COLUMN age, ALGORITHM=INPLACE, LOCK=NONE",), ()),
    ("mysql", "8.0.29", DROP, {"SS005"}, (), ()),
    ("mysql", "5.7", REQUIRED, {"SS002", "SS003"}, ("ALGORITHM=INPLACE, LOCK=NONE", "[[migration.backfill]]"), ("INSTANT",)),
    ("mysql", "8.0.12", REQUIRED, {"SS003"}, ("NOT NULL DEFAULT <constant>, ALGORITHM=INSTANT", "[[migration.backfill]]"), ()),
    # MariaDB: INSTANT ADD COLUMN last from 10.3, anywhere and instant DROP COLUMN from 10.4
    ("mariadb", "10.2.44", ADD_LAST, {"SS002"}, ("ALGORITHM=INPLACE, LOCK=NONE",), ("INSTANT",)),
    ("mariadb", "10.3", ADD_LAST, set(), (), ()),
    ("mariadb", "10.3.39", ADD_AFTER, {"SS002"}, ("MariaDB 10.3.39 adds instantly",), ()),
    ("mariadb", "10.4", ADD_AFTER, set(), (), ()),
    ("mariadb", "10.3", DROP, {"SS002", "SS005"}, ("DROP COLUMN age, ALGORITHM=INPLACE, LOCK=NONE",), ("INSTANT",)),
    ("mysql", "10.4.34-MariaDB", DROP, {"SS005"}, (), ()),
    ("mariadb", "10.11", "ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4;", {"SS002"},
     ('pt-online-schema-change --alter="CONVERT TO CHARACTER SET utf8mb4"', "t=users", "gh-ost"), ()),
    # SQLite: DROP COLUMN from 3.35.0, RENAME COLUMN from 3.25.0, else the table rebuild
    ("sqlite", "3.34.1", DROP, {"SS009@error", "SS005"}, ("PRAGMA foreign_keys = OFF;", "ALTER TABLE users_new RENAME TO users;", "batch_alter_table"), ()),
    ("sqlite", "3.35.0", DROP, {"SS005"}, (), ()),
    ("sqlite", "3.24.0", RENAME, {"SS009@error", "SS006"}, ("INSERT INTO users_new", "has no DROP COLUMN"), ("DROP COLUMN name;",)),
    ("sqlite", "3.25", RENAME, {"SS006"}, ("[[migration.backfill]]",), ()),
]


def _lint(dialect: str, version: str, sql: str) -> list:  # type: ignore[type-arg]
    return [
        f for f in lint_statements(split_script(sql, dialect), dialect, server_version=version, use_squawk=False) if not f.suppressed
    ]


@pytest.mark.parametrize(
    ("dialect", "version", "sql", "expected", "contains", "lacks"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2][:40]}" for c in CASES],
)
def test_severity_and_advice_by_version(
    dialect: str, version: str, sql: str, expected: set[str], contains: tuple[str, ...], lacks: tuple[str, ...]
) -> None:
    findings = _lint(dialect, version, sql)
    assert {e.split("@")[0] for e in expected} == {f.code for f in findings}, [(f.code, f.severity, f.message) for f in findings]
    assert expected <= {f.code for f in findings} | {f"{f.code}@{f.severity}" for f in findings}
    advice = "\n".join(f.suggestion for f in findings if f.code != "SS005")  # SS005's advice is the same everywhere
    for text in contains:
        assert text in advice, (text, advice)
    for text in lacks:
        assert text not in advice, (text, advice)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2][:40]}" for c in CASES])
def test_advice_is_sql_of_its_own_dialect(case: tuple[str, str, str, set[str], tuple[str, ...], tuple[str, ...]]) -> None:
    dialect, version, sql = case[:3]
    for f in _lint(dialect, version, sql):
        if dialect == "postgresql":
            for leftover in ("`", "ALGORITHM=", "LOCK=NONE", "MODIFY COLUMN"):
                assert leftover not in f.suggestion, (f.code, f.suggestion)
        else:
            for leftover in ("``", "CONCURRENTLY", "NOT VALID", "::", "pg_repack"):
                assert leftover not in f.suggestion, (f.code, f.suggestion)
        if dialect == "sqlite":
            assert "ALGORITHM=" not in f.suggestion and "gh-ost" not in f.suggestion


def test_the_mysql_lock_view_follows_the_version() -> None:
    def algorithm(version: str, sql: str) -> str | None:
        return annotate([sql], "mysql", server_version=version)[0].algorithm

    assert algorithm("5.7", ADD_LAST) == "inplace" and algorithm("8.0.12", ADD_LAST) == "instant"
    assert algorithm("8.0.28", ADD_AFTER) == "inplace" and algorithm("8.0.29", ADD_AFTER) == "instant"
    assert algorithm("MariaDB 10.3", DROP) == "inplace" and algorithm("MariaDB 10.4", DROP) == "instant"


# -- every [[migration.backfill]] snippet the advice writes is a valid plan section ------------------


def _snippets() -> list[str]:
    found = []
    sqls = [*CASES,
        ("postgresql", "15", "ALTER TABLE users ALTER COLUMN age TYPE bigint;", set(), (), ()),
        ("postgresql", "15", "ALTER TABLE users ADD COLUMN n serial;", set(), (), ()),
        ("postgresql", "15", "ALTER TABLE users ADD COLUMN total int GENERATED ALWAYS AS (a + b) STORED;", set(), (), ()),
        ("mysql", "8.0", "UPDATE users SET is_active = 1, email = LOWER(email);", set(), (), ()),
        ("sqlite", "3.45", 'UPDATE "user list" SET "the flag" = \'a "quoted" value\';', set(), (), ()),
        ("mysql", "8.0", "ALTER TABLE users CHANGE COLUMN name full_name VARCHAR(100);", set(), (), ()),
    ]
    for dialect, version, sql, *_ in sqls:
        for f in _lint(dialect, version, sql):
            lines = f.suggestion.splitlines()
            for i, line in enumerate(lines):
                if line.strip() == "[[migration.backfill]]":
                    block = [line]
                    for more in lines[i + 1 :]:
                        if not more.startswith("    ") or more.strip().startswith("[["):
                            break
                        block.append(more)
                    found.append("\n".join(block))
    return found


def test_every_backfill_snippet_parses_as_a_plan_section(tmp_path: Path) -> None:
    snippets = _snippets()
    assert len(snippets) >= 10
    for snippet in snippets:
        section = tomllib.loads("[migration]\nengine = \"sql\"\n" + snippet)
        plan = parse_plan({"database": {"url": "sqlite:///x.db"}, **section}, tmp_path / "safeshift.toml")
        [step] = plan.migration.backfill
        assert step.table and step.set_, snippet


# -- reading the version --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dialect", "product", "number"),
    [
        ("PostgreSQL 15.20 (Debian 15.20-0+deb12u1)", "postgresql", "postgresql", (15, 20)),
        ("15.20 (Debian 15.20-0+deb12u1)", "postgres", "postgresql", (15, 20)),
        ("10.11.19-MariaDB-0+deb12u1", "mysql", "mariadb", (10, 11, 19)),
        ("MariaDB 10.11.19 (10.11.19-MariaDB-0+deb12u1)", "mysql", "mariadb", (10, 11, 19)),
        ("5.5.5-10.6.12-MariaDB", "mysql", "mariadb", (10, 6, 12)),
        ("10.6", "mysql", "mariadb", (10, 6)),  # MySQL went from 8.4 to 9: 10 and up is MariaDB
        ("10.3", "mariadb", "mariadb", (10, 3)),
        ("MySQL 8.0.36", "mysql", "mysql", (8, 0, 36)),
        ("8.0.36-0ubuntu0.22.04.1", "mysql", "mysql", (8, 0, 36)),
        ("SQLite 3.40.1", "sqlite", "sqlite", (3, 40, 1)),
    ],
)
def test_parse_server_version(text: str, dialect: str, product: str, number: tuple[int, ...]) -> None:
    version = parse_server_version(text, dialect, "server")
    assert (version.product, version.number) == (product, number)


@pytest.mark.parametrize(("text", "dialect", "message"), [
    ("MariaDB 10.6", "postgresql", "is a MariaDB version, but the SQL is linted as postgresql"),
    ("PostgreSQL 15", "sqlite", "is a PostgreSQL version"),
    ("latest", "mysql", "expected a version such as"),
])
def test_a_version_that_cannot_be_for_this_dialect_is_refused(text: str, dialect: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_server_version(text, dialect, "--server-version")


def test_a_series_without_its_patch_means_its_latest_release() -> None:
    assert ServerVersion("mysql", (8, 0)).at_least(8, 0, 29)
    assert not ServerVersion("mysql", (8, 0, 28)).at_least(8, 0, 29)
    assert not ServerVersion("mysql", (5, 7)).at_least(8, 0, 12)
    assert ServerVersion("postgresql", (15,)).at_least(11) and not ServerVersion("postgresql", (10, 23)).at_least(11)


def test_assumed_versions_and_precedence() -> None:
    assert assumed_version("postgresql").label == "PostgreSQL 15"
    assert assumed_version("mysql").label == "MySQL 8.4"
    assert assumed_version("mariadb").label == "MariaDB 10.11"
    sqlite_default = assumed_version("sqlite")
    assert sqlite_default.number == sqlite3.sqlite_version_info and sqlite_default.source == "library"
    assert "assumed" in assumed_version("postgresql").describe()
    # --server-version, then the live server, then [lint] server_version
    assert resolve_version("postgresql", given="11", live="PostgreSQL 15.2", setting="13").describe() == "PostgreSQL 11 (--server-version)"
    assert resolve_version("postgresql", live="PostgreSQL 15.2", setting="13").describe() == "PostgreSQL 15.2 (from the server)"
    assert resolve_version("postgresql", setting="13").describe() == "PostgreSQL 13 ([lint] server_version)"
    assert resolve_version("mysql", live="???", setting=None).label == "MySQL 8.4"  # an unreadable live version is passed over


def test_squawk_judges_for_the_same_version_and_our_advice_wins() -> None:
    from safeshift.lint.squawk import find_squawk

    if find_squawk() is None:
        pytest.skip("squawk-cli is not installed")

    def findings(version: str, sql: str) -> dict[str, str]:
        return {f.code: f.suggestion for f in lint_statements([sql], "postgresql", server_version=version) if not f.suppressed}

    old = findings("10.23", ADD_DEFAULT)
    assert "[[migration.backfill]]" in old["squawk:adding-field-with-default"]
    assert "squawk:adding-field-with-default" not in findings("11", ADD_DEFAULT)  # --pg-version reached squawk
    # squawk would say "use CONCURRENTLY"; PostgreSQL 13 has no DETACH ... CONCURRENTLY
    assert "has no DETACH" in findings("13", DETACH)["squawk:require-concurrent-partition-detach"]
