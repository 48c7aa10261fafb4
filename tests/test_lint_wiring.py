"""The lint inside the run (preflight gate, dry-run lock view) and as `safeshift lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import EXAMPLES, family_plan
from safeshift.cli.app import app
from safeshift.loading import load_plan
from safeshift.run import run_plan


@pytest.fixture
def family_users() -> int:
    return 2000  # the family fixture's size here: its tables stay below medium_table_rows


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_findings_above_threshold_block_before_backup(family: URL, tmp_path: Path) -> None:
    # 2,000 users make warnings only on tables >= medium_table_rows: lower it so they count
    plan = family_plan(tmp_path / "plan", '\n[lint]\nfail_on = "warning"\nmedium_table_rows = 100\n')
    result = run_plan(load_plan(plan))
    assert result.outcome == "blocked" and int(result.exit_code) == 1
    assert result.message.startswith("lint: SS0")
    assert result.backup is None and [p.name for p in result.phases] == ["preflight"]
    assert result.lint and all("code" in f for f in result.lint)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_default_threshold_lets_demo_sizes_through_and_records_findings(family: URL, tmp_path: Path) -> None:
    result = run_plan(load_plan(family_plan(tmp_path / "plan")))
    assert result.outcome == "succeeded", result.message
    assert {f["code"] for f in result.lint} >= {"SS001"}


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_dry_run_shows_lock_and_findings_per_statement(family: URL, tmp_path: Path) -> None:
    result = run_plan(load_plan(family_plan(tmp_path / "plan")), dry_run=True)
    applied = [s for s in result.statements if s.phase == "apply"]
    assert all(s.lock for s in applied if s.sql and not s.sql.startswith("--"))
    index = next(s for s in applied if "CREATE INDEX ix_users_family_id" in (s.sql or ""))
    assert index.table == "users" and [f["code"] for f in index.findings or []] == ["SS001"]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_cli_lint_json_and_sarif(family: URL, tmp_path: Path) -> None:
    plan = family_plan(tmp_path / "plan")
    sarif = tmp_path / "lint.sarif"
    result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--json", "--sarif", str(sarif)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dialect"] == "sqlite" and data["findings"]
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_cli_lint_files_blocks_on_error(tmp_path: Path, family: URL) -> None:
    sql = tmp_path / "m.sql"
    sql.write_text("UPDATE users SET is_active = 1;\nCREATE INDEX ix_a ON users (email);\n")
    plan = family_plan(tmp_path / "plan", '\n[lint]\nfail_on = "warning"\n')
    result = CliRunner().invoke(app, ["lint", str(sql), "--plan", str(plan), "--dialect", "postgresql", "--json"])
    assert result.exit_code == 1, result.output
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "SS007" in codes


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_family_migration_carries_justified_suppressions(dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the servers every lock-hazard warning of the family cutover is suppressed with a reason."""
    from safeshift import lint
    from safeshift.migrators.alembic import AlembicMigrator

    monkeypatch.setenv("FAMILY_DATABASE_URL", "sqlite:///unused.db")
    plan = load_plan(EXAMPLES / "family" / "safeshift.toml")
    statements = AlembicMigrator(plan).render("0001", "0002", dialect)
    sizes = {"users": lint.TableSize(rows=5_000_000, bytes=900_000_000)}
    findings = lint.lint_statements(statements, dialect, sizes, destructive_ok=True)
    loud = [f for f in findings if f.severity != "note" and not f.suppressed]
    assert loud == []
    assert all(f.reason for f in findings if f.suppressed)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_relationships_migration_carries_justified_suppressions(dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lock-hazard warning of the relationships cutover, at 5M rows, is suppressed with a reason."""
    from safeshift import lint
    from safeshift.migrators import get_migrator

    monkeypatch.setenv("RELATIONSHIPS_DATABASE_URL", "sqlite:///unused.db")
    plan = load_plan(EXAMPLES / "relationships" / "safeshift.toml")
    statements = get_migrator(plan).render("0001", "head", dialect)
    sizes = {t: lint.TableSize(rows=5_000_000, bytes=900_000_000) for t in ("users", "couples", "sessions", "points", "streaks")}
    findings = lint.lint_statements(statements, dialect, sizes, destructive_ok=True)
    assert [f for f in findings if f.severity != "note" and not f.suppressed] == []
    assert all(f.reason for f in findings if f.suppressed)
