"""Never silent: what the lint could not judge counts as ``[lint] unlintable`` says, and is named.

A statement it cannot parse (SS000), a revision it cannot render (SS094) and a file it cannot read
(SS095) are errors against fail_on by default, warnings with ``unlintable = "warning"``, and
listed but suppressed (with that setting as the reason) with ``"allow"``: in the lint view,
``--json``, SARIF, a run's preflight and its report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.cli.app import app
from safeshift.errors import ConfigError
from safeshift.lint import (
    LintSettings,
    blocking_findings,
    lint_statements,
    not_rendered,
    unreadable,
)
from safeshift.loading import load_plan

GARBAGE = "FROBNICATE users WITH (garbage;"


def _open(findings: list) -> list[tuple[str, str, bool]]:  # type: ignore[type-arg]
    return [(f.code, f.severity, f.suppressed) for f in findings]


@pytest.mark.parametrize(
    ("setting", "severity", "suppressed", "blocks_at_error", "blocks_at_warning"),
    [
        ("error", "error", False, True, True),
        ("warning", "warning", False, False, True),
        ("allow", "error", True, False, False),
    ],
)
def test_each_setting_for_statements_revisions_and_files(
    setting: str, severity: str, suppressed: bool, blocks_at_error: bool, blocks_at_warning: bool
) -> None:
    settings = LintSettings(unlintable=setting)  # type: ignore[arg-type]
    findings = (
        lint_statements([GARBAGE], "mysql", settings=settings)
        + not_rendered("0002", "it calls op.get_bind()", settings)
        + unreadable("m.sql", "not UTF-8 (byte 0xe9 on line 1)", settings)
    )
    assert _open(findings) == [(code, severity, suppressed) for code in ("SS000", "SS094", "SS095")]
    for f in findings:
        assert f.not_linted and "not linted" in f.message
        assert f.reason == ('[lint] unlintable = "allow"' if suppressed else None)
    assert bool(blocking_findings(findings, "error")) is blocks_at_error
    assert bool(blocking_findings(findings, "warning")) is blocks_at_warning


def test_disable_lists_it_suppressed_and_an_inline_reason_comes_first() -> None:
    disabled = lint_statements([GARBAGE], "postgresql", settings=LintSettings(disable=frozenset({"SS000"})))
    assert [(f.code, f.suppressed, f.reason) for f in disabled] == [("SS000", True, '[lint] disable = ["SS000"]')]
    reviewed = f"-- safeshift: allow SS000 because it is a vendor extension that takes no lock\n{GARBAGE}"
    findings = lint_statements([reviewed], "mysql", settings=LintSettings(unlintable="allow"))
    assert [(f.code, f.suppressed, f.reason) for f in findings] == [
        ("SS000", True, "it is a vendor extension that takes no lock")  # no unused-suppression either
    ]


def test_a_do_block_is_judged_when_all_it_runs_is_visible() -> None:
    seen = "DO $$\nBEGIN\n  EXECUTE 'CREATE INDEX ix_users_name ON users (name)';\nEND\n$$;"
    assert "SS000" not in {f.code for f in lint_statements([seen], "postgresql", use_squawk=False)}
    dynamic = "DO $$\nBEGIN\n  EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'users');\nEND\n$$;"
    branched = "DO $$\nBEGIN\n  IF true THEN\n    ALTER TABLE users ADD COLUMN x int;\n  END IF;\nEND\n$$;"
    for sql, why in ((dynamic, "built at run time"), (branched, "IF")):
        [finding] = [f for f in lint_statements([sql], "postgresql", use_squawk=False) if f.code == "SS000"]
        assert finding.severity == "error" and why in finding.message


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;",
        "ALTER TYPE mood ADD VALUE 'calm';",
        "ALTER SEQUENCE users_id_seq RESTART WITH 1000;",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY totals;",
    ],
)
def test_common_ddl_sqlglot_cannot_parse_is_still_understood(sql: str) -> None:
    assert "SS000" not in {f.code for f in lint_statements([sql], "postgresql", use_squawk=False)}


def test_plan_setting_is_validated(tmp_path: Path) -> None:
    plan = tmp_path / "safeshift.toml"
    plan.write_text('[database]\nurl = "sqlite:///x.db"\n\n[lint]\nunlintable = "sometimes"\n')
    with pytest.raises(ConfigError, match="lint.unlintable"):
        load_plan(plan)
    plan.write_text('[database]\nurl = "sqlite:///x.db"\n\n[lint]\nunlintable = "warning"\nserver_version = "3.34.1"\n')
    settings = LintSettings.from_section(load_plan(plan).lint)
    assert (settings.unlintable, settings.server_version) == ("warning", "3.34.1")
    plan.write_text('[database]\nurl = "sqlite:///x.db"\n\n[lint]\nserver_version = "newest"\n')
    with pytest.raises(ConfigError, match="lint.server_version"):
        load_plan(plan)


# -- safeshift lint: exit code, human view, --json, SARIF --------------------------------------------


def _files(tmp_path: Path, setting: str | None, fail_on: str = "error") -> list[str]:
    (tmp_path / "m.sql").write_text(f"CREATE TABLE audit (id INTEGER PRIMARY KEY);\n{GARBAGE}\n")
    (tmp_path / "latin1.sql").write_bytes("-- café\nCREATE TABLE notes (id INTEGER PRIMARY KEY);\n".encode("latin-1"))
    lint = f'\n[lint]\nfail_on = "{fail_on}"\n' + (f'unlintable = "{setting}"\n' if setting else "")
    (tmp_path / "safeshift.toml").write_text('[database]\nurl = "sqlite:///x.db"\n' + lint)
    return [str(tmp_path / "m.sql"), str(tmp_path / "latin1.sql"), "--plan", str(tmp_path / "safeshift.toml"), "--dialect", "sqlite"]


@pytest.mark.parametrize(
    ("setting", "fail_on", "exit_code", "counts"),
    [
        (None, "error", 1, "counts as error"),
        ("warning", "error", 0, "counts as warning"),
        ("warning", "warning", 1, "counts as warning"),
        ("allow", "warning", 0, 'suppressed: [lint] unlintable = "allow"'),
    ],
)
def test_cli_exit_code_and_every_output_names_what_was_not_linted(
    tmp_path: Path, setting: str | None, fail_on: str, exit_code: int, counts: str
) -> None:
    args = _files(tmp_path, setting, fail_on)
    human = CliRunner().invoke(app, ["lint", *args])
    assert human.exit_code == exit_code, human.output
    text = " ".join(human.output.split())
    assert "not linted: statement 1: could not parse 'FROBNICATE users WITH (garbage;'" in text and counts in text
    assert "latin1.sql: not linted: not UTF-8" in text
    sarif = tmp_path / "lint.sarif"
    machine = CliRunner().invoke(app, ["lint", *args, "--json", "--sarif", str(sarif)])
    assert machine.exit_code == exit_code
    data = json.loads(machine.stdout)
    assert len(data["not_linted"]) == 2 and any("could not parse" in m for m in data["not_linted"])
    assert {f["code"] for f in data["findings"] if f["not_linted"]} == {"SS000", "SS095"}
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    flagged = [r for r in results if r["ruleId"] in ("SS000", "SS095")]
    assert len(flagged) == 2
    assert all(("suppressions" in r) == (setting == "allow") for r in flagged)


# -- a run: blocked at preflight, named in the report -------------------------------------------------


def test_a_run_is_blocked_at_preflight_by_a_statement_it_could_not_parse(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "plan")
    (tmp_path / "plan" / "migrations" / "0001_extra.up.sql").write_text(f"CREATE TABLE extra (id INTEGER PRIMARY KEY);\n{GARBAGE}\n")
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "blocked" and int(result.exit_code) == 1, result.message
    assert result.message.startswith("lint: SS000 error on statement 1: not linted: could not parse")
    assert [p.name for p in result.phases] == ["preflight"] and result.backup is None
    preflight = result.phases[0].detail["lint"]
    assert preflight["not_linted"] and "from the server" in preflight["server_version"]
    report = next((tmp_path / "w" / ".safeshift" / "runs").glob("*/report.md")).read_text()
    assert "Not linted (1):" in report and "counts as error" in report and "Advice for " in report
    html = next((tmp_path / "w" / ".safeshift" / "runs").glob("*/report.html")).read_text()
    assert "Not linted (1):" in html


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize("sql", ["FROBNICATE users;", "users WITH garbage;", "42;"])
def test_words_sqlglot_reads_as_an_expression_are_not_a_statement(dialect: str, sql: str) -> None:
    # sqlglot parses "FROBNICATE users" as "FROBNICATE AS users": no rule could judge it
    assert [f.code for f in lint_statements([sql], dialect, use_squawk=False)] == ["SS000"]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_an_explain_is_understood_but_an_explain_analyze_is_not(dialect: str) -> None:
    """The backfill asks for a plan (EXPLAIN) on the copy the observation captures: a plan locks
    nothing worth a finding. EXPLAIN ANALYZE runs its statement, which no rule judged: SS000."""
    from safeshift.lint import lint_and_annotate

    findings, infos = lint_and_annotate(
        ["EXPLAIN (FORMAT JSON) UPDATE items SET score = qty * 2 WHERE id <= 25", "EXPLAIN ANALYZE UPDATE items SET a = 1"],
        dialect, use_squawk=False,
    )
    assert infos[0].kind == "EXPLAIN" and infos[0].lock == "none"
    assert [(f.statement, f.code) for f in findings if f.code == "SS000"] == ([(1, "SS000")] if dialect != "mysql" else [])
