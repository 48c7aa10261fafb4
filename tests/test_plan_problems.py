"""Every problem of a plan at once, each with its key (issue 16: validation before any change)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from safeshift.cli.app import app
from safeshift.errors import PlanProblems
from safeshift.loading import parse_plan


def _problems(data: dict[str, Any]) -> PlanProblems:
    with pytest.raises(PlanProblems) as info:
        parse_plan(data, Path("safeshift.toml"))
    return info.value


def test_every_problem_of_a_check_is_listed_with_its_key() -> None:
    """The guessed keys of the issue: all three problems, not "(and 2 more problems)"."""
    found = _problems({
        "database": {"url": "sqlite:///x.db"},
        "checks": {"pre": [{"kind": "no_orphans", "column": "users.parent_id"}]},
    })
    assert found.problems == [
        "checks.pre[0].child: required key is missing",
        "checks.pre[0].parent: required key is missing",
        "checks.pre[0].column: unknown key",
    ]
    lines = found.message.splitlines()
    assert lines[0] == "safeshift.toml: 3 problems:"
    assert lines[1:] == [f"  {p}" for p in found.problems]
    assert "more problem" not in found.message


def test_problems_of_the_models_and_of_the_checks_are_listed_together() -> None:
    """A bad section key does not hide the checks' problems (validated by the check kinds)."""
    found = _problems({
        "database": {"url": "sqlite:///x.db"},
        "migration": {"targte": "head"},
        "backup": {"verify": "maybe"},
        "checks": {
            "pre": [{"kind": "no_nulls"}],
            "post": [{"kind": "telepathy"}, {"kind": "row_count", "table": "t", "expect": "lots"}],
        },
    })
    assert found.problems[0] == "migration.targte: unknown key"
    assert found.problems[1].startswith("backup.verify: ")
    assert "checks.pre[0].column: required key is missing" in found.problems
    assert any(p.startswith("checks.post[0].kind: unknown check kind 'telepathy'") for p in found.problems)
    assert any(p.startswith("checks.post[1].expect: ") for p in found.problems)
    assert len(found.problems) == 5


def test_duplicate_names_and_watch_references_are_listed_with_the_rest() -> None:
    found = _problems({
        "database": {"url": "sqlite:///x.db"},
        "checks": {
            "post": [
                {"kind": "not_empty", "table": "a", "name": "same"},
                {"kind": "not_empty", "table": "b", "name": "same"},
                {"kind": "no_nulls", "column": "a"},
            ]
        },
        "watch": {"checks": ["nobody"], "duration": 10, "interval": 1},
    })
    assert any(p.startswith("checks.post[1].name: 'same' is also the name of checks.post[0]") for p in found.problems)
    assert any(p.startswith("checks.post[2].column: expected 'table.column'") for p in found.problems)
    assert any(p.startswith("watch.checks[0]: no post-check named 'nobody'") for p in found.problems)


def test_one_problem_stays_one_line() -> None:
    found = _problems({"database": {"url": "sqlite:///x.db"}, "migration": {"targte": "head"}})
    assert found.message == "safeshift.toml: migration.targte: unknown key"


def test_maintenance_keys_are_all_listed() -> None:
    found = _problems({"database": {"url": "sqlite:///x.db"}, "maintenance": {"kind": "file", "pth": "/x", "extra": 1}})
    assert "maintenance.path: required key is missing" in found.problems
    assert "maintenance.pth: unknown key" in found.problems
    assert "maintenance.extra: unknown key" in found.problems


def test_cli_prints_every_problem_one_per_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "app.db").touch()
    plan = tmp_path / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "sqlite:///app.db"\n\n[[checks.pre]]\nkind = "no_orphans"\ncolumn = "users.parent_id"\n'
    )
    result = CliRunner().invoke(app, ["check", "--plan", str(plan)])
    assert result.exit_code == 2, result.output
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: safeshift.toml: 3 problems:",
        "checks.pre[0].child: required key is missing",
        "checks.pre[0].parent: required key is missing",
        "checks.pre[0].column: unknown key",
    ]
