"""The advice is right for the dialect: safe SQL written out, no PostgreSQL advice elsewhere."""

from __future__ import annotations

import pytest

from safeshift.lint import lint_statements, split_script
from test_lint_corpus import CASES


def _suggestions(sql: str, dialect: str) -> dict[str, str]:
    return {f.code: f.suggestion for f in lint_statements(split_script(sql, dialect), dialect) if not f.suppressed}


@pytest.mark.parametrize("kind", ["UNIQUE (email)", "PRIMARY KEY (id, user_id)"])
def test_no_not_valid_for_index_backed_constraints(kind: str) -> None:
    advice = _suggestions(f"ALTER TABLE users ADD CONSTRAINT c {kind};", "postgresql")
    assert advice
    for text in advice.values():
        assert "NOT VALID does not apply" in text or "NOT VALID" not in text, text
    assert any("CREATE UNIQUE INDEX CONCURRENTLY" in t and "USING INDEX" in t for t in advice.values())


def test_exclude_has_no_not_valid_and_no_using_index() -> None:
    advice = _suggestions("ALTER TABLE orders ADD CONSTRAINT ex EXCLUDE USING btree (user_id WITH =);", "postgresql")
    assert all("no NOT VALID" in t for c, t in advice.items() if "not-valid" in c), advice


def test_postgresql_type_change_spells_out_expand_backfill_contract() -> None:
    [advice] = _suggestions("ALTER TABLE users ALTER COLUMN age TYPE bigint;", "postgresql").values()
    assert "ADD COLUMN age_new" in advice and "[[migration.backfill]]" in advice and "DROP COLUMN age" in advice
    assert "MySQL" not in advice


@pytest.mark.parametrize("sql", ["CREATE FULLTEXT INDEX ft ON users (bio);", "ALTER TABLE users CONVERT TO CHARACTER SET latin1;"])
def test_mysql_without_online_alter_gets_an_online_tool(sql: str) -> None:
    [advice] = _suggestions(sql, "mariadb").values()
    assert "gh-ost" in advice and "pt-online-schema-change" in advice


def test_mysql_type_change_gives_the_online_statement() -> None:
    advice = _suggestions("ALTER TABLE users MODIFY COLUMN age BIGINT;", "mysql")["SS002"]
    assert advice.startswith("ALTER TABLE users MODIFY COLUMN age BIGINT, ALGORITHM=INPLACE, LOCK=NONE;")


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_no_postgresql_advice_or_markup_on_other_dialects(dialect: str) -> None:
    for case in (c for c in CASES if c.dialect == dialect):
        for code, text in _suggestions(case.sql, dialect).items():
            for leftover in ("``", "CONCURRENTLY", "NOT VALID", "PostgreSQL:", "pg_repack", "VACUUM FULL"):
                assert leftover not in text, (case.path.name, code, text)


def test_every_hazard_comes_with_a_suggestion() -> None:
    for case in (c for c in CASES if c.label == "hazard"):
        for f in lint_statements(split_script(case.sql, case.dialect), case.dialect):
            if f.severity != "note" and not f.suppressed:
                assert f.suggestion.strip(), (case.path.name, f.code)
