"""Validation before any change (issue 16): a check naming what the database lacks, a post-check
the migrated schema refuses, a migration that cannot apply: exit 2 (or 1) before any backup,
the backups folder empty, the database unchanged. On every database."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan, server_databases, table_names
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode


def backups(plan: Path) -> list[str]:
    """Whatever is in the plan's backups folder (scratch copies included)."""
    folder = plan.parent / ".safeshift" / "backups"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def plan_with(folder: Path, checks: str, extra: str = "") -> Path:
    return items_plan(folder, f"{extra}\n{checks}\n")


def run_cli(plan: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), *args])
    return result.exit_code, result.stderr + result.stdout


def assert_unchanged(db: ItemsDb, plan: Path) -> None:
    assert "extra" not in table_names(db.url), "the migration ran"
    assert backups(plan) == [], backups(plan)


# -- pre-checks: the live database's tables and columns ------------------------------------------


def test_pre_check_on_a_missing_column_is_exit_2_naming_check_key_and_column(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_with(tmp_path / "p", '[[checks.pre]]\nkind = "no_orphans"\nchild = "items.parent_id"\nparent = "items.id"')
    code, out = run_cli(plan)
    assert code == 2, out
    assert "checks.pre[0].child (check 'items.parent_id has no orphans in items.id'): " in out
    assert "table items has no column parent_id (its columns: id, qty)" in out
    assert "c.parent_id" not in out  # never the query's internal alias
    assert_unchanged(items_db, plan)


def test_pre_checks_on_missing_tables_are_all_listed_also_by_check_and_dry_run(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_with(
        tmp_path / "p",
        '[[checks.pre]]\nkind = "not_empty"\ntable = "users"\n\n'
        '[[checks.pre]]\nkind = "unique"\ntable = "items"\ncolumns = ["qty", "code"]',
    )
    for args in ([], ["--dry-run"]):
        code, out = run_cli(plan, *args)
        assert code == 2, out
        assert "2 problems" in out
        assert "checks.pre[0].table (check 'users is not empty'): no table users (tables: items)" in out
        assert "checks.pre[1].columns (check " in out and "table items has no column code" in out
    checked = CliRunner().invoke(app, ["check", "--phase", "pre", "--plan", str(plan)])
    assert checked.exit_code == 2 and "no table users" in checked.stderr
    assert_unchanged(items_db, plan)


# -- post-checks: on a schema-only copy migrated to the target ------------------------------------


def test_post_check_on_a_table_the_migration_does_not_make_is_exit_2_before_any_backup(
    items_db: ItemsDb, tmp_path: Path
) -> None:
    """The issue's case: it used to pass --dry-run, then fail after maintenance went on (exit 3)."""
    plan = plan_with(tmp_path / "p", '[[checks.post]]\nkind = "no_nulls"\ncolumn = "extras.id"')
    for args in (["--dry-run"], []):
        code, out = run_cli(plan, *args)
        assert code == 2, out
        assert "checks.post[0].column (check 'extras.id has no NULLs'): no table extras after the migration to 0001" in out
    result = api.run_plan(plan)
    assert [p.name for p in result.phases] == ["preflight", "validate"] and result.phases[-1].status == "blocked"
    assert_unchanged(items_db, plan)
    if items_db.kind != "sqlite":
        assert not [n for n in server_databases(items_db.kind) if n.startswith(f"{items_db.url.database}_safeshift_schema_")]


def test_post_check_whose_sql_the_migrated_schema_refuses_is_exit_2(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_with(
        tmp_path / "p",
        '[[checks.post]]\nname = "extras are counted"\nkind = "sql"\nquery = "SELECT COUNT(*) FROM extra WHERE missing_column = 1"',
    )
    code, out = run_cli(plan)
    assert code == 2, out
    assert "checks.post[0] (check 'extras are counted'): fails on the schema migrated to 0001: " in out
    assert "missing_column" in out
    assert_unchanged(items_db, plan)


def test_post_checks_on_what_the_migration_makes_pass_and_values_on_empty_tables_are_not_judged(
    items_db: ItemsDb, tmp_path: Path
) -> None:
    """extra exists only after the migration; items is empty on the copy, so ">= 1" fails there: no matter."""
    plan = plan_with(
        tmp_path / "p",
        '[[checks.post]]\nkind = "no_nulls"\ncolumn = "extra.id"\n\n'
        '[[checks.post]]\nkind = "sql"\nquery = "SELECT COUNT(*) FROM items"\nexpect = ">= 1"',
    )
    dry = api.run_plan(plan, dry_run=True)
    assert dry.outcome == "planned", dry.message
    validate = next(s for s in dry.statements if s.phase == "validate")
    assert "schema-only copy (no rows) migrated to 0001" in validate.what
    result = api.run_plan(plan)
    assert result.outcome == "succeeded", result.message
    assert [p.name for p in result.phases][:3] == ["preflight", "validate", "snapshot"]
    assert "extra" in table_names(items_db.url)
    assert not [n for n in backups(plan) if ".scratch." in n]


def test_the_copy_is_at_the_database_revision(items_db: ItemsDb, tmp_path: Path) -> None:
    """The version table's rows are copied: the copy migrates from 0001, not from base again."""
    plan = items_plan(tmp_path / "p")
    assert api.run_plan(plan).outcome == "succeeded"
    migrations = tmp_path / "p" / "migrations"
    (migrations / "0002_more.up.sql").write_text("CREATE TABLE more_items (id INTEGER PRIMARY KEY);\n")
    (migrations / "0002_more.down.sql").write_text("DROP TABLE more_items;\n")
    plan.write_text(plan.read_text() + '\n[[checks.post]]\nkind = "not_empty"\ntable = "more_items"\n')
    result = api.run_plan(plan)
    assert "validate" in [p.name for p in result.phases]
    assert result.outcome == "rolled_back", result.message  # more_items is empty: the real check fails
    assert "more_items" in result.message


def test_a_migration_that_fails_on_the_schema_copy_blocks_before_any_backup(items_db: ItemsDb, tmp_path: Path) -> None:
    """An up file the database refuses (it alters a table that is not there): exit 1, nothing changed.
    (One that creates a table the database already has is refused earlier: a legacy database.)"""
    plan = plan_with(tmp_path / "p", '[[checks.post]]\nkind = "not_empty"\ntable = "items"')
    (tmp_path / "p" / "migrations" / "0001_extra.up.sql").write_text(
        "CREATE TABLE extra (id INTEGER PRIMARY KEY);\nALTER TABLE no_such_table ADD COLUMN note INTEGER;\n"
    )
    result = api.run_plan(plan)
    assert result.outcome == "blocked" and result.exit_code == ExitCode.CHECKS_FAILED, result.message
    assert "on a schema-only copy (no rows)" in result.message and "schema_copy = false" in result.message
    assert_unchanged(items_db, plan)


def test_schema_copy_can_be_turned_off(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_with(
        tmp_path / "p", '[[checks.post]]\nkind = "no_nulls"\ncolumn = "extras.id"', extra="\n[preflight]\nschema_copy = false\n"
    )
    dry = api.run_plan(plan, dry_run=True)
    assert dry.outcome == "planned"
    assert next(s for s in dry.statements if s.phase == "validate").what.endswith("skipped ([preflight] schema_copy = false)")
    result = api.run_plan(plan)  # found only after the change now: rolled back
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert "validate" not in [p.name for p in result.phases]


def test_a_crashed_validation_leaves_nothing_behind(items_db: ItemsDb, tmp_path: Path) -> None:
    """The copy is named after the run, so the next run removes what a killed one left."""
    from safeshift.journal import Journal
    from safeshift.secrets import safe_url

    plan = plan_with(tmp_path / "p", '[[checks.post]]\nkind = "no_nulls"\ncolumn = "extra.id"')
    folder = tmp_path / "p" / ".safeshift"
    dead = "20200101T000000000Z-dead01"
    journal = Journal(folder / "runs" / dead / "journal.jsonl")
    journal.event("run", "started", plan=str(plan), database=safe_url(items_db.url))
    journal.close()
    left = get_dialect(items_db.url).schema_only_copy("schema", dead, folder / "backups")
    name = left.database or ""

    def there() -> bool:
        return Path(name).is_file() if items_db.kind == "sqlite" else name in server_databases(items_db.kind)

    assert there()
    assert api.run_plan(plan).outcome == "succeeded"
    assert not there()


# -- smoke probe hosts answer at preflight (the database does not matter: SQLite) ----------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SMOKE = '[[smoke]]\nname = "health"\nurl = "http://127.0.0.1:{port}/health"\n\n' \
        '[[smoke]]\nname = "me"\nurl = "http://{{host}}/me"\n'


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_probe_host_nobody_answers_is_exit_2_at_preflight(items_db: ItemsDb, tmp_path: Path) -> None:
    """The issue's case: found only after the cutover (exit 3) before; now before any backup."""
    port = _closed_port()
    probes = "".join(
        f'[[smoke]]\nname = "{name}"\nurl = "http://127.0.0.1:{port}/{name}"\n\n' for name in ("health", "me")
    )
    plan = plan_with(tmp_path / "p", probes)
    for args in ([], ["--dry-run"]):
        code, out = run_cli(plan, *args)
        assert code == 2, out
        assert f"smoke[0] ('health'): http://127.0.0.1:{port} does not answer" in out
        assert f"smoke[1] ('me'): http://127.0.0.1:{port} does not answer" in out
        assert "the application must be up before the run takes it down" in out
    assert_unchanged(items_db, plan)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_answering_hosts_pass_and_captured_hosts_are_skipped(items_db: ItemsDb, tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = int(server.getsockname()[1])
        text = SMOKE.format(port=port).replace('name = "health"', 'name = "health"\ncapture = { host = "body" }')
        plan = plan_with(tmp_path / "p", text)
        assert api.run_plan(plan, dry_run=True).outcome == "planned"
    plan = plan_with(tmp_path / "q", text, extra="\n[preflight]\nprobe_hosts = false\n")
    assert api.run_plan(plan, dry_run=True).outcome == "planned"  # the port is closed now: not asked


# -- approval comes before the snapshot and the backup ---------------------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_each_refused_approval_leaves_no_backup(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_with(tmp_path / "p", "", extra="\n[approval]\nrequired = true\n")
    digest = api.run_plan(plan, dry_run=True).digest
    for attempt in (None, "0123456789abcdef", None):
        result = api.run_plan(plan, approve=attempt, rehearse=True)
        assert result.outcome == "blocked" and result.exit_code == ExitCode.USAGE, result.message
        assert [p.name for p in result.phases] == ["preflight", "validate", "approve"]  # validate: observed locks
        assert_unchanged(items_db, plan)
    declined = api.run_plan(plan, confirm=lambda digest, name: None)
    assert declined.outcome == "blocked" and "not typed" in declined.message
    assert_unchanged(items_db, plan)
    approved = api.run_plan(plan, approve=digest, rehearse=True)
    assert approved.outcome == "succeeded", approved.message
    assert [p.name for p in approved.phases][:6] == ["preflight", "validate", "approve", "snapshot", "backup", "rehearse"]
    assert len([n for n in backups(plan) if not n.endswith(".manifest.json")]) == 1


# -- a plan without checks: a warning, never "all checks passed" -----------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_check_without_checks_says_so_exit_0(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "p")
    runner = CliRunner()
    shown = runner.invoke(app, ["check", "--plan", str(plan)])
    assert shown.exit_code == 0, shown.output
    assert "no post-checks defined in safeshift.toml" in shown.stdout and "nothing was checked" in shown.stdout
    assert "all checks passed" not in shown.stdout
    report = api.check(plan, "pre")
    assert report.exit_code == 0 and report.results == []
    assert report.to_dict()["warnings"] == ["no pre-checks defined in safeshift.toml ([[checks.pre]]): nothing was checked"]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_run_without_checks_carries_a_warning(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "p")
    shown = CliRunner().invoke(app, ["run", "--plan", str(plan)])
    assert shown.exit_code == 0, shown.output
    assert "warning: the plan has no checks" in shown.stdout
    result = api.run_plan(items_plan(tmp_path / "q"), dry_run=True)
    assert result.warnings and result.warnings[0].startswith("the plan has no checks")
    report = next((tmp_path / "p" / ".safeshift" / "runs").glob("*/report.md")).read_text()
    assert "**Warning:** the plan has no checks" in report
    with_checks = api.run_plan(plan_with(tmp_path / "r", '[[checks.pre]]\nkind = "not_empty"\ntable = "items"'), dry_run=True)
    assert with_checks.warnings == []
