"""Bad input of every kind: one line on stderr, exit 2, no traceback, and no change."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from helpers import family_plan, require_server, server_url
from safeshift.cli.app import app
from safeshift.demo import prepare_family_database
from safeshift.dialects import get_dialect

Edit = Callable[[str], str]


def replace(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def append(extra: str) -> Edit:
    return lambda text: text + "\n" + extra + "\n"


URL_LINE = 'url = "${FAMILY_DATABASE_URL}"'

# name -> (how to spoil the plan, extra CLI args, what the one line must say)
CASES: dict[str, tuple[Edit, list[str], str]] = {
    "not toml": (lambda t: t + "\n[broken\n", [], "not valid TOML"),
    "unknown top-level key": (append("[maintenence]\npath = '/tmp/x'"), [], "maintenence: unknown key"),
    "unknown nested key": (replace('target = "head"', 'target = "head"\ntarget_rev = "x"'), [], "migration.target_rev: unknown key"),
    "missing url": (replace(URL_LINE, ""), [], "database.url: required key is missing"),
    "env var not set": (replace(URL_LINE, 'url = "${SS_NOT_SET_ANYWHERE}"'), [], "SS_NOT_SET_ANYWHERE is not set"),
    "not a url": (replace(URL_LINE, 'url = "just some words"'), [], "expected a database URL"),
    "unsupported database": (replace(URL_LINE, 'url = "oracle://scott@db/orcl"'), [], "unsupported database 'oracle'"),
    "inline password": (replace(URL_LINE, 'url = "postgresql://app:s3cr3t-inline@127.0.0.1/x"'), [], "inline password"),
    "bad expectation": (append('[[checks.post]]\nkind = "sql"\nquery = "SELECT 1"\nexpect = "zero please"'), [], "expect"),
    "unknown check kind": (append('[[checks.post]]\nkind = "telepathy"'), [], "unknown check kind 'telepathy'"),
    "check without query": (append('[[checks.post]]\nkind = "sql"\nexpect = "== 0"'), [], "query: required key is missing"),
    "bad rollback strategy": (replace('strategy = "downgrade-then-restore"', 'strategy = "hope"'), [], "rollback.strategy"),
    "unknown engine": (replace('engine = "alembic"', 'engine = "liquibase"'), [], "migration.engine"),
    "wrong type": (replace("verify = true", 'verify = "maybe"'), [], "backup.verify"),
    "negative retries": (append("[apply]\nretries = -1"), [], "apply.retries"),
    "alembic config missing": (replace('config = "ALEMBIC_INI"', 'config = "nowhere/alembic.ini"'), [], "alembic.ini not found"),
    "unknown target revision": (replace('target = "head"', 'target = "ffff"'), [], "migration.target"),
    "sqlite directory missing": (replace(URL_LINE, 'url = "sqlite:////no/such/dir/app.db"'), [], "directory /no/such/dir does not exist"),
    "sqlite file missing": (replace(URL_LINE, 'url = "sqlite:///${SS_TMP}/missing.db"'), [], "file does not exist"),
    "postgresql unreachable": (replace(URL_LINE, 'url = "postgresql://postgres@127.0.0.1:1/x"'), [], "127.0.0.1:1"),
    "mariadb unreachable": (replace(URL_LINE, 'url = "mysql+pymysql://root@127.0.0.1:1/x"'), [], "127.0.0.1:1"),
    "backup directory is a file": (replace('directory = ".safeshift/backups"', 'directory = "../a-file/backups"'), [], "backup"),
    "approval digest stale": (append("[approval]\nrequired = true"), ["--approve", "0123456789abcdef"], "does not match"),
}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, sa.engine.URL]:
    url, _ = prepare_family_database("sqlite", tmp_path, 300)
    monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("SS_TMP", str(tmp_path))
    monkeypatch.delenv("SS_NOT_SET_ANYWHERE", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    return plan_dir / "safeshift.toml", url


def revision(url: sa.engine.URL) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert "families" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    return str(rev)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_no_change(case: str, setup: tuple[Path, sa.engine.URL]) -> None:
    plan, url = setup
    spoil, args, expected = CASES[case]
    family_plan(plan.parent, edit=spoil)
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "s3cr3t-inline" not in result.stderr + result.stdout
    assert revision(url) == "0001"


@pytest.mark.server
def test_missing_backup_tool_found_in_preflight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL plan on a machine without pg_dump fails in preflight, naming the package."""
    require_server("postgresql")

    name = "ss_notool_test"
    url, _ = prepare_family_database("postgresql", tmp_path, 200, name=name)
    try:
        monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        monkeypatch.setenv("PATH", str(bin_dir))
        monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
        plan = family_plan(tmp_path / "p")
        result = CliRunner().invoke(app, ["run", "--plan", str(plan)])
        assert result.exit_code == 2, result.output
        assert "postgresql-client" in result.stderr
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    finally:
        get_dialect(server_url("postgresql")).drop_database(name)


@pytest.mark.parametrize(
    "args,expected",
    [
        (["resume", "no-such-run"], "no run 'no-such-run'"),
        (["rollback", "no-such-run"], "no run 'no-such-run'"),
        (["restore", "/no/such/backup.sqlite3", "--yes"], "backup file not found"),
        (["check", "--phase", "during"], "--phase: expected pre or post"),
        (["demo", "family", "--users", "1"], "--users: expected at least 2"),
        (["demo", "family", "--db", "oracle"], "--db: expected sqlite, postgresql or mysql"),
    ],
)
def test_bad_command_arguments(args: list[str], expected: str, setup: tuple[Path, sa.engine.URL]) -> None:
    plan, url = setup
    family_plan(plan.parent)
    cmd = args + (["--plan", str(plan)] if args[0] != "demo" else [])
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert revision(url) == "0001"
