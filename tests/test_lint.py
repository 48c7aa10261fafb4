"""The lock-hazard lint: severity by size, squawk, suppressions, locks, SARIF, the family example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import family_plan
from safeshift.dialects.base import ServerFacts, TableFacts
from safeshift.errors import ConfigError
from safeshift.lint import (
    Finding,
    LintSettings,
    TableSize,
    annotate,
    blocking_findings,
    lint_statements,
    rule_classes,
    split_script,
    table_sizes_from_facts,
    to_sarif,
)
from safeshift.lint import squawk as squawk_module
from safeshift.loading import load_plan, parse_plan
from safeshift.migrators.alembic import AlembicMigrator

MILLION = {"users": TableSize(rows=1_000_000, bytes=180_000_000)}


def open_findings(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in findings if not f.suppressed]


@pytest.fixture
def no_squawk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(squawk_module, "find_squawk", lambda: None)


# -- the headline: size decides ------------------------------------------------------------


def test_plain_create_index_on_a_million_rows_is_an_error_and_concurrently_passes() -> None:
    plain = lint_statements(["CREATE INDEX ix_users_email ON users (email);"], "postgresql", MILLION)
    assert open_findings(plain) == [("squawk:require-concurrent-index-creation", "error")]
    assert plain[0].table == "users" and "1,000,000 rows" in plain[0].message
    assert "concurrently" in plain[0].suggestion.lower()
    assert blocking_findings(plain, "error") == plain

    concurrent = lint_statements(["CREATE INDEX CONCURRENTLY ix_users_email ON users (email);"], "postgresql", MILLION)
    assert concurrent == []


def test_without_squawk_our_own_rule_judges_postgresql_and_says_so(no_squawk: None) -> None:
    findings = lint_statements(["CREATE INDEX ix_users_email ON users (email);"], "postgresql", MILLION)
    assert open_findings(findings) == [("SS092", "note"), ("SS001", "error")]
    assert "squawk" in findings[0].message
    assert lint_statements(["CREATE INDEX CONCURRENTLY ix ON users (email);"], "postgresql", MILLION) == [
        findings[0]
    ]


@pytest.mark.parametrize(
    ("rows", "severity"),
    [(0, "note"), (1_000, "note"), (9_999, "note"), (10_000, "warning"), (999_999, "warning"), (1_000_000, "error"), (None, "warning")],
)
@pytest.mark.parametrize(
    ("dialect", "sql", "code"),
    [
        ("postgresql", "CREATE INDEX ix ON users (email);", "squawk:require-concurrent-index-creation"),
        ("mysql", "CREATE FULLTEXT INDEX ix ON users (email);", "SS001"),
        ("sqlite", "CREATE INDEX ix ON users (email);", "SS001"),
        ("mysql", "UPDATE users SET plan = 'free';", "SS007"),
    ],
)
def test_severity_grows_with_the_table(dialect: str, sql: str, code: str, rows: int | None, severity: str) -> None:
    findings = lint_statements([sql], dialect, {"users": TableSize(rows=rows)})
    assert open_findings(findings) == [(code, severity)]


def test_unknown_sizes_and_bytes_only_sizes() -> None:
    # no database (CI): an unknown table counts as [lint] assume_rows, large by default
    unknown = lint_statements(["CREATE INDEX ix ON users (a);"], "sqlite")
    assert open_findings(unknown) == [("SS001", "error")]
    assert "[table size unknown" in unknown[0].message and "assume_rows" in unknown[0].message
    guessless = LintSettings(assume_rows=None)
    assert open_findings(lint_statements(["CREATE INDEX ix ON users (a);"], "sqlite", settings=guessless)) == [("SS001", "warning")]
    # a database that does not list the table: unknown stays a warning (no guess)
    assert open_findings(lint_statements(["CREATE INDEX ix ON users (a);"], "sqlite", {})) == [("SS001", "warning")]
    # SQLite reports bytes, no rows: 500 MB is a big table even without a row count
    big = {"users": TableSize(rows=None, bytes=500_000_000)}
    assert open_findings(lint_statements(["CREATE INDEX ix ON users (a);"], "sqlite", big)) == [("SS001", "error")]


def test_thresholds_come_from_settings() -> None:
    settings = LintSettings(medium_table_rows=10, large_table_rows=100)
    sizes = {"users": TableSize(rows=150)}
    assert open_findings(lint_statements(["CREATE FULLTEXT INDEX ix ON users (a);"], "mysql", sizes, settings=settings)) == [
        ("SS001", "error")
    ]


def test_disabled_rules_are_not_reported() -> None:
    settings = LintSettings(disable=frozenset({"SS001", "squawk:require-concurrent-index-creation"}))
    assert lint_statements(["CREATE FULLTEXT INDEX ix ON users (a);"], "mysql", MILLION, settings=settings) == []
    assert lint_statements(["CREATE INDEX ix ON users (a);"], "postgresql", MILLION, settings=settings) == []


def test_destructive_needs_a_verified_backup() -> None:
    drop = ["ALTER TABLE users DROP COLUMN legacy;"]
    assert open_findings(lint_statements(drop, "mysql")) == [("SS005", "error")]
    # a backup makes the loss recoverable, not harmless: the running application still reads the column
    backed = lint_statements(drop, "mysql", destructive_ok=True)
    assert open_findings(backed) == [("SS005", "warning")]
    assert "still running reads it" in backed[0].message


def test_blocking_findings_threshold() -> None:
    findings = [
        Finding("SS001", "x", "error", "m"),
        Finding("SS005", "x", "warning", "m"),
        Finding("SS002", "x", "error", "m", suppressed=True, reason="ok"),
    ]
    assert [f.code for f in blocking_findings(findings, "error")] == ["SS001"]
    assert [f.code for f in blocking_findings(findings, "warning")] == ["SS001", "SS005"]
    assert blocking_findings(findings, "never") == []


# -- suppressions ----------------------------------------------------------------------------


def test_suppression_with_a_reason_suppresses_and_keeps_the_reason() -> None:
    sql = "-- safeshift: allow SS007 because measured 3 s on the rehearsal copy\nUPDATE users SET plan = 'free';"
    findings = lint_statements([sql], "mysql", MILLION)
    assert [(f.code, f.suppressed, f.reason) for f in findings] == [("SS007", True, "measured 3 s on the rehearsal copy")]
    assert blocking_findings(findings, "warning") == []


def test_suppression_without_a_reason_suppresses_nothing_and_is_a_finding() -> None:
    findings = lint_statements(["-- safeshift: allow SS007\nUPDATE users SET plan = 'free';"], "mysql", MILLION)
    assert open_findings(findings) == [("SS007", "error"), ("SS090", "warning")]


def test_unused_suppression_is_a_warning() -> None:
    findings = lint_statements(["-- safeshift: allow SS001 because tiny\nALTER TABLE users ADD COLUMN x INT NULL;"], "mysql")
    assert open_findings(findings) == [("SS091", "warning")]
    assert findings[0].statement == 0


def test_allow_destructive_and_block_comments_and_squawk_aliases() -> None:
    drop = "DROP TABLE legacy /* safeshift: allow destructive because archived in OPS-1 */;"
    assert [(f.code, f.suppressed) for f in lint_statements([drop], "mysql")] == [("SS005", True)]
    # on PostgreSQL squawk reports the index hazard; our code (or squawk's) suppresses it
    for code in ("SS001", "squawk:require-concurrent-index-creation", "require-concurrent-index-creation"):
        sql = f"CREATE INDEX ix ON users (a); -- safeshift: allow {code} because built during the maintenance window"
        findings = lint_statements(split_script(sql), "postgresql", MILLION)
        assert [(f.code, f.suppressed) for f in findings] == [("squawk:require-concurrent-index-creation", True)], code


def test_a_comment_only_item_covers_the_next_statement() -> None:
    """Alembic's op.execute("-- safeshift: allow ...") renders as its own item, before the statement."""
    statements = [
        "CREATE TABLE t (id INT PRIMARY KEY);",
        "-- safeshift: allow SS001 because users is read-only during the cutover;",
        "CREATE FULLTEXT INDEX ix ON users (a);",
    ]
    findings = lint_statements(statements, "mysql", MILLION)
    assert [(f.code, f.statement, f.suppressed, f.reason) for f in findings] == [
        ("SS001", 2, True, "users is read-only during the cutover")
    ]


def test_suppression_in_a_script_on_the_line_before() -> None:
    script = (
        "ALTER TABLE users ADD COLUMN plan TEXT NULL;\n"
        "-- safeshift: allow SS001 because the index is needed before the backfill\n"
        "CREATE INDEX ix_plan ON users (plan);\n"
        "UPDATE users SET plan = 'free';\n"
    )
    statements = split_script(script, "sqlite")
    assert len(statements) == 3
    findings = lint_statements(statements, "sqlite", MILLION)
    assert [(f.code, f.suppressed, f.line) for f in findings] == [("SS001", True, 2), ("SS007", False, 4)]


# -- robustness --------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize(
    "sql",
    ["", ";", "   ", "'unterminated", "/* never closed", "$$ body", "SELEC garbage (;", "ALTER TABLE", "\x00\x01", "-- only a comment"],
)
def test_never_crashes_on_bad_sql(dialect: str, sql: str) -> None:
    findings = lint_statements([sql], dialect)
    unclosed = sql.startswith(("'", "/*", "$$"))
    for finding in findings:
        # what could not be parsed is an error ([lint] unlintable), never silently a note
        assert finding.severity in ("note", "warning") or finding.code == "SS000" or (unclosed and finding.code == "SS096")
    # an unclosed comment or string is never silent: the rest of the file is swallowed by it
    assert unclosed == any(f.code == "SS096" and f.severity == "error" for f in findings)
    annotate([sql], dialect)


def test_an_item_holding_several_statements_is_judged_statement_by_statement() -> None:
    item = "ALTER TABLE users ADD COLUMN a INT NULL;\nUPDATE users SET a = 1;"
    findings = lint_statements(["SELECT 1;", item], "mysql", MILLION)
    assert [(f.code, f.statement, f.line) for f in findings] == [("SS007", 1, 3)]
    infos = annotate(["SELECT 1;", item], "mysql", MILLION)
    assert [(i.index, i.kind, len(i.findings)) for i in infos] == [(0, "SELECT", 0), (1, "ALTER TABLE", 1), (1, "UPDATE", 0)]


def test_unparseable_sql_is_an_error_by_default() -> None:
    # what no rule could judge must not pass as clean: [lint] unlintable = "error" by default
    findings = lint_statements(["FROBNICATE users WITH (;"], "mysql")
    assert open_findings(findings) == [("SS000", "error")]
    assert "not linted: could not parse" in findings[0].message


def test_mariadb_online_ddl_clauses_are_read_even_where_sqlglot_cannot_parse_them() -> None:
    # sqlglot parses "CREATE INDEX ... ALGORITHM=INPLACE LOCK=NONE" only as a Command
    [info] = annotate(["CREATE INDEX ix ON users (a) ALGORITHM=INPLACE LOCK=NONE;"], "mariadb", MILLION)
    assert (info.kind, info.table, info.algorithm, info.findings) == ("CREATE INDEX", "users", "inplace", [])


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported dialect"):
        lint_statements(["SELECT 1"], "oracle")


def test_split_script_keeps_lines_and_ignores_semicolons_in_strings_and_comments() -> None:
    script = "INSERT INTO t VALUES ('a;b'); -- c;d\n/* x; y */\nUPDATE t SET a = 1\nWHERE b = ';';\n-- trailing\n"
    pieces = split_script(script, "mysql")
    assert pieces == ["INSERT INTO t VALUES ('a;b'); -- c;d", "/* x; y */\nUPDATE t SET a = 1\nWHERE b = ';';"]
    assert "\n".join(pieces).splitlines() == script.splitlines()[:4]


# -- locks for the dry run -------------------------------------------------------------------


def test_postgresql_lock_levels() -> None:
    statements = [
        "BEGIN;",
        "CREATE TABLE families (id bigint PRIMARY KEY);",
        "ALTER TABLE users ADD COLUMN family_id bigint;",
        "CREATE INDEX ix ON users (family_id);",
        "CREATE INDEX CONCURRENTLY ix2 ON users (family_id);",
        "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (family_id) REFERENCES families (id) NOT VALID;",
        "ALTER TABLE users VALIDATE CONSTRAINT fk;",
        "UPDATE users SET family_id = 1 WHERE id < 100;",
        "VACUUM FULL users;",
        "LOCK TABLE users IN SHARE MODE;",
        "COMMIT;",
    ]
    infos = annotate(statements, "postgresql", MILLION)
    assert [i.lock for i in infos] == [
        "none",
        "none",
        "ACCESS EXCLUSIVE",
        "SHARE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "ROW EXCLUSIVE",
        "ACCESS EXCLUSIVE",
        "SHARE",
        "none",
    ]
    assert infos[3].blocks == "writes" and infos[2].blocks == "reads and writes"
    assert infos[3].table == "users" and infos[3].table_size == MILLION["users"]
    assert infos[1].table_size == TableSize(rows=0, bytes=0, source="exact")  # a table created here is empty
    json.dumps([i.to_dict() for i in infos])


def test_mysql_algorithm_guesses_and_sqlite_write_lock() -> None:
    statements = [
        "ALTER TABLE users ADD COLUMN note TEXT NULL;",
        "CREATE INDEX ix ON users (note);",
        "ALTER TABLE users MODIFY COLUMN age BIGINT;",
        "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (f) REFERENCES families (id);",
        "ALTER TABLE users RENAME COLUMN a TO b;",
        "UPDATE users SET a = 1 WHERE id = 1;",
    ]
    infos = annotate(statements, "mysql")
    assert [i.algorithm for i in infos] == ["instant", "inplace", "copy", "copy", "instant", None]
    assert "metadata lock" in infos[0].lock and "row locks" in infos[5].lock
    for info in annotate(statements[:2], "sqlite"):
        assert info.lock == "database write lock"


# -- output --------------------------------------------------------------------------------


def test_sarif_shape() -> None:
    findings = lint_statements(
        split_script(
            "CREATE FULLTEXT INDEX ix ON users (a);\n"
            "DROP TABLE legacy; -- safeshift: allow destructive because archived\n"
            "UPDATE users SET a = 1;\n"
        ),
        "mysql",
        MILLION,
    )
    sarif = to_sarif(findings, "migrations/0002.sql")
    json.dumps(sarif)
    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    [run] = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "safeshift"
    ids = [r["id"] for r in driver["rules"]]
    assert {"SS001", "SS002", "SS003", "SS004", "SS005", "SS006", "SS007", "SS000", "SS090", "SS091"} <= set(ids)
    assert all(r["shortDescription"]["text"] for r in driver["rules"])
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("SS001", "error"), ("SS005", "error"), ("SS007", "error")]
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "migrations/0002.sql"
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results] == [1, 2, 3]
    assert results[1]["suppressions"] == [{"kind": "inSource", "justification": "archived"}]
    assert "suppressions" not in results[0]


def test_findings_to_dict_for_json() -> None:
    [finding] = lint_statements(["UPDATE users SET a = 1;"], "sqlite", MILLION)
    data = finding.to_dict()
    assert data == {
        "code": "SS007",
        "name": "unbatched-whole-table-dml",
        "severity": "error",
        "message": data["message"],
        "statement": 0,
        "table": "users",
        "suggestion": data["suggestion"],
        "suppressed": False,
        "reason": None,
        "line": 1,
        "not_linted": False,
    }
    assert "batch" in data["suggestion"]


# -- rules, facts and the plan ------------------------------------------------------------------


def test_every_rule_documents_its_anti_pattern_and_best_practice() -> None:
    rules = rule_classes()
    assert list(rules) == ["SS001", "SS002", "SS003", "SS004", "SS005", "SS006", "SS007", "SS008", "SS009", "SS010"]
    for code, cls in rules.items():
        assert cls.code == code and cls.name
        assert len(cls.section("Anti-pattern")) > 40, code
        assert len(cls.section("Best practice")) > 40, code


def test_table_sizes_from_facts() -> None:
    facts = ServerFacts(
        dialect="postgresql",
        version="15",
        database="app",
        database_bytes=1,
        tables=[TableFacts("Users", 1_200_000, 300_000_000), TableFacts("chores", None, 8192)],
    )
    assert table_sizes_from_facts(facts) == {
        "users": TableSize(rows=1_200_000, bytes=300_000_000),
        "chores": TableSize(rows=None, bytes=8192),
    }


def _plan(tmp_path: Path, lint: str) -> Path:
    path = tmp_path / "safeshift.toml"
    path.write_text(f'[database]\nurl = "sqlite:///x.db"\n\n[lint]\n{lint}\n')
    return path


def test_plan_lint_section(tmp_path: Path) -> None:
    plan = load_plan(_plan(tmp_path, 'fail_on = "warning"\nlarge_table_rows = 500\nmedium_table_rows = 50\ndisable = ["SS006", "squawk:prefer-identity"]'))
    settings = LintSettings.from_section(plan.lint)
    assert settings == LintSettings(
        fail_on="warning", large_table_rows=500, medium_table_rows=50, disable=frozenset({"SS006", "squawk:prefer-identity"})
    )
    defaults = parse_plan({"database": {"url": "sqlite:///x.db"}}, tmp_path / "p.toml").lint
    assert (defaults.fail_on, defaults.large_table_rows, defaults.medium_table_rows, defaults.disable) == ("error", 1_000_000, 10_000, ())


@pytest.mark.parametrize(
    ("lint", "message"),
    [
        ('fail_on = "sometimes"', "lint.fail_on"),
        ('disable = ["SS1"]', "expected a rule code"),
        ("medium_table_rows = 5000000", "medium_table_rows must not exceed"),
        ("colour = 1", "lint.colour: unknown key"),
    ],
)
def test_plan_lint_section_errors(tmp_path: Path, lint: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_plan(_plan(tmp_path, lint))


# -- the family example ---------------------------------------------------------------------------

# What the family example's revision 0002 lints to, per dialect, with the demo's 100,000 users.
FAMILY_FINDINGS = {
    "sqlite": [
        ("SS002", "warning", "users"),  # batch mode rebuilds users by copy
        ("SS001", "warning", "users"),  # ix_users_parent_id re-created on the copy
        ("SS001", "warning", "users"),  # ix_users_family_id
    ],
    "postgresql": [
        ("squawk:prefer-bigint-over-int", "note", "families"),
        ("squawk:prefer-identity", "note", "families"),
        ("squawk:prefer-text-field", "note", "families"),
        ("squawk:prefer-text-field", "note", "families"),
        ("squawk:prefer-timestamp-tz", "note", "families"),
        ("squawk:prefer-bigint-over-int", "note", "users"),
        ("squawk:require-concurrent-index-creation", "warning", "users"),
        ("squawk:adding-foreign-key-constraint", "warning", "users"),
        ("squawk:constraint-missing-not-valid", "warning", "users"),
    ],
    "mysql": [
        ("SS004", "warning", "users"),  # InnoDB builds the index online: no SS001
    ],
}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_family_example_migration(tmp_path: Path, dialect: str) -> None:
    plan = load_plan(family_plan(tmp_path))
    statements = AlembicMigrator(plan).render("0001", "0002", dialect)
    sizes = {"users": TableSize(rows=100_000, bytes=12_000_000), "chores": TableSize(rows=300_000, bytes=30_000_000)}
    findings = lint_statements(statements, dialect, sizes, destructive_ok=plan.backup.verifies)
    assert [(f.code, f.severity, f.table) for f in findings] == FAMILY_FINDINGS[dialect]
    # nothing blocks at the default threshold
    assert blocking_findings(findings, LintSettings.from_section(plan.lint).fail_on) == []
    big = {"users": TableSize(rows=2_000_000)}
    if dialect == "sqlite":
        # no online DDL on SQLite: at "warning" the rebuild and indexes block; at 2M users they are errors
        assert blocking_findings(findings, "warning")
        assert blocking_findings(lint_statements(statements, dialect, big), "error")
    else:
        # the servers' hazards carry justified suppressions (the cutover runs in a maintenance window)
        loud = [f for f in findings if f.severity != "note"]
        assert loud and all(f.suppressed and f.reason for f in loud)
        assert blocking_findings(findings, "warning") == []
        assert blocking_findings(lint_statements(statements, dialect, big), "error") == []
