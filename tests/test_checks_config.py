"""Check configuration: one-line load-time errors, --dry-run SQL, and the family plan's kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import mysql, postgresql, sqlite

from checks_support import make
from helpers import EXAMPLES
from safeshift.checks import build_checks, check_kinds
from safeshift.errors import ConfigError
from safeshift.loading import load_plan, parse_plan

BUILT_IN = {
    "sql", "no_nulls", "no_orphans", "unique", "no_cycles", "not_empty", "row_count", "count_matches",
    "index_exists", "fk_valid", "every", "python", "table_unchanged", "latency",
}


def _plan(*post: dict[str, Any]) -> dict[str, Any]:
    return {"database": {"url": "sqlite:///x.db"}, "checks": {"post": list(post)}}


@pytest.mark.parametrize(
    ("check", "where", "says"),
    [
        ({"kind": "no_nulls", "column": "nodot"}, "checks.post[0].column", "expected 'table.column'"),
        ({"kind": "no_nulls", "column": "users.family id"}, "checks.post[0].column", "got 'users.family id'"),
        ({"kind": "no_nulls"}, "checks.post[0].column", "required key is missing"),
        ({"kind": "no_nulls", "column": "users.x", "colum": 1}, "checks.post[0].colum", "unknown key"),
        ({"kind": "no_orphans", "child": ["a.x", "a.y"], "parent": "b.x"}, "checks.post[0]", "child has 2 column(s) but parent has 1"),
        ({"kind": "no_orphans", "child": ["a.x", "b.y"], "parent": ["c.x", "c.y"]}, "checks.post[0].child", "one table"),
        ({"kind": "unique", "table": "t", "columns": []}, "checks.post[0].columns", "at least 1"),
        ({"kind": "unique", "table": "t; drop table t", "columns": ["a"]}, "checks.post[0].table", "expected a table name"),
        ({"kind": "no_cycles", "table": "t", "column": "p", "max_depth": 0}, "checks.post[0].max_depth", "greater than or equal to 1"),
        ({"kind": "every", "table": "f", "related": "u.f", "related_filter": {"is parent": 1}}, "checks.post[0].related_filter", "plain table or column name"),
        ({"kind": "row_count", "table": "t", "expect": "about snapshot"}, "checks.post[0].expect", "expected an expectation"),
        ({"kind": "count_matches", "left": "SELECT 1", "right": "SELECT 1", "op": "=~"}, "checks.post[0].op", "'=='"),
        ({"kind": "python", "function": "no-module"}, "checks.post[0].function", "module:function"),
        ({"kind": "python", "function": "justname"}, "checks.post[0].function", "module:function"),
        ({"kind": "latency", "query": "SELECT 1", "budget_ms": -5}, "checks.post[0].budget_ms", "greater than 0"),
        ({"kind": "table_unchanged", "table": "t", "segments": 1}, "checks.post[0].segments", "greater than or equal to 2"),
        ({"kind": "index_exists", "table": "t", "columns": "a.b"}, "checks.post[0].columns", "plain table or column name"),
    ],
)
def test_config_errors_are_one_line_and_name_the_key(check: dict[str, Any], where: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_plan(_plan(check), Path("safeshift.toml"))
    message = str(info.value.message)
    assert "\n" not in message
    assert message.startswith(f"safeshift.toml: {where}")
    assert says in message


def test_every_built_in_kind_is_registered() -> None:
    assert BUILT_IN <= set(check_kinds())


STATEMENT_CASES: list[dict[str, Any]] = [
    {"kind": "no_nulls", "column": "users.family_id", "key": "id"},
    {"kind": "no_orphans", "child": "users.parent_id", "parent": "users.id"},
    {"kind": "fk_valid", "child": "users.family_id", "parent": "families.id"},
    {"kind": "unique", "table": "families", "columns": ["invite_code"]},
    {"kind": "no_cycles", "table": "users", "column": "parent_id"},
    {"kind": "every", "table": "families", "related": "users.family_id", "related_filter": {"is_parent": True}},
    {"kind": "not_empty", "table": "users"},
    {"kind": "row_count", "table": "users"},
    {"kind": "count_matches", "left": "SELECT 1", "right": "SELECT 1"},
    {"kind": "index_exists", "table": "users", "columns": ["family_id"]},
    {"kind": "python", "function": "family_checks:edge_cases"},
    {"kind": "latency", "query": "SELECT 1", "budget_ms": 5, "uses_index": "ix"},
    {"kind": "table_unchanged", "table": "users"},
    {"kind": "table_unchanged", "table": "users", "key": "id", "columns": ["id", "email"]},
]


@pytest.mark.parametrize("config", STATEMENT_CASES, ids=lambda c: str(c["kind"]))
@pytest.mark.parametrize(
    "dialect",
    [None, sqlite.dialect(), postgresql.dialect(), mysql.dialect()],  # type: ignore[no-untyped-call]
    ids=["generic", "sqlite", "postgresql", "mysql"],
)
def test_statements_render_for_dry_run(config: dict[str, Any], dialect: Any) -> None:
    check = make(**config)
    statements = check.statements(dialect)
    assert statements and all(isinstance(s, str) and s.strip() for s in statements)
    if config["kind"] in ("no_nulls", "no_cycles", "unique", "every", "not_empty", "row_count"):
        assert str(config.get("table") or config.get("column", "")).split(".")[0] in statements[0]
    if config["kind"] == "every":
        assert "true" in statements[0].lower() or "1" in statements[0]  # the filter value, inlined for reading
    if config["kind"] == "no_cycles":
        assert "WITH RECURSIVE" in statements[0]


def test_the_family_plan_uses_built_in_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAMILY_DATABASE_URL", "sqlite:///unused.db")
    plan = load_plan(EXAMPLES / "family" / "safeshift.toml")
    pre = {c.name: c.kind for c in build_checks(plan, "pre")}
    post = {c.name: c.kind for c in build_checks(plan, "post")}
    assert pre == {
        "no circular parent references": "no_cycles",
        "no child points at a missing parent": "no_orphans",
        "there are users to migrate": "not_empty",
    }
    assert post["users without a family"] == "no_nulls"
    assert post["edge-case suite"] == "python"
    assert "sql" not in pre.values() and "sql" not in post.values()
    assert all(c.base_dir == EXAMPLES / "family" for c in build_checks(plan, "post"))
