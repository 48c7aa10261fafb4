"""The plan file: strict parsing, one-line errors, ${ENV} interpolation, no inline secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from safeshift.cli.app import app
from safeshift.errors import ConfigError, ExitCode
from safeshift.expectations import Expectation, ExpectationError
from safeshift.loading import load_plan

GOOD = """
[database]
url = "${SS_TEST_URL}"

[migration]
config = "alembic.ini"

[[checks.post]]
kind = "sql"
query = "SELECT 0"
expect = "== 0"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "safeshift.toml"
    path.write_text(text)
    return path


def test_good_plan_loads_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_TEST_URL", f"sqlite:///{tmp_path}/x.db")
    plan = load_plan(write(tmp_path, GOOD))
    assert plan.migration.target == "head"
    assert plan.backup.verify == "restore" and plan.rollback.prove_contents == "backup"
    assert plan.rollback.strategy == "downgrade-then-restore"
    assert plan.database_url().database == f"{tmp_path}/x.db"


def test_env_default_syntax(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SS_TEST_URL", raising=False)
    plan = load_plan(write(tmp_path, GOOD.replace("${SS_TEST_URL}", "${SS_TEST_URL:-sqlite:///d.db}")))
    assert plan.database_url().database == str(tmp_path / "d.db")  # relative to the plan's folder


BAD_PLANS = {
    "unknown key": (
        GOOD.replace('config = "alembic.ini"', 'config = "alembic.ini"\ntargte = "head"'),
        "safeshift.toml: migration.targte: unknown key",
    ),
    "unknown section": (GOOD + "\n[rolback]\nstrategy = 'restore'\n", "safeshift.toml: rolback: unknown key"),
    "bad expectation": (
        GOOD.replace('expect = "== 0"', 'expect = "about zero"'),
        "safeshift.toml: checks.post[0].expect:",
    ),
    "bad strategy": (
        GOOD + '\n[rollback]\nstrategy = "pray"\n',
        "safeshift.toml: rollback.strategy:",
    ),
    "unknown check kind": (
        GOOD.replace('kind = "sql"', 'kind = "vibes"'),
        "safeshift.toml: checks.post[0].kind: unknown check kind 'vibes'",
    ),
    "check key typo": (
        GOOD.replace('query = "SELECT 0"', 'query = "SELECT 0"\nqeury = "x"'),
        "safeshift.toml: checks.post[0].qeury: unknown key",
    ),
    "missing url": ("[database]\n", "safeshift.toml: database.url: required key is missing"),
    "not toml": ("[database\nurl=", "safeshift.toml: not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_malformed_plan_is_one_line_error(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_TEST_URL", f"sqlite:///{tmp_path}/x.db")
    text, expected = BAD_PLANS[case]
    with pytest.raises(ConfigError) as info:
        load_plan(write(tmp_path, text))
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == ExitCode.USAGE


def test_missing_env_var_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SS_TEST_URL", raising=False)
    plan = load_plan(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="database.url: environment variable SS_TEST_URL is not set"):
        plan.database_url()


def test_inline_password_refused(tmp_path: Path) -> None:
    text = GOOD.replace("${SS_TEST_URL}", "postgresql://app:hunter22@db/prod")
    plan = load_plan(write(tmp_path, text))
    with pytest.raises(ConfigError) as info:
        plan.database_url()
    assert "inline password" in str(info.value)
    assert "hunter22" not in str(info.value)
    allowed = load_plan(write(tmp_path, text.replace("[database]", "[database]\nallow_inline_secrets = true")))
    assert allowed.database_url().password == "hunter22"


def test_password_from_env_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_TEST_URL", "postgresql://app:hunter22@db/prod")
    assert load_plan(write(tmp_path, GOOD)).database_url().password == "hunter22"


@pytest.mark.parametrize(
    "text,value,snapshot,holds",
    [
        ("== 0", 0, None, True),
        (">= 1", 0, None, False),
        ("== snapshot.users", 5, {"users": 5}, True),
        ("== 2 * snapshot.couples", 6, {"couples": 3}, True),
        ("== snapshot.a - 3", 7, {"a": 10}, True),
        ("!= 0", 0, None, False),
        ("< 2.5", 2, None, True),
    ],
)
def test_expectations(text: str, value: float, snapshot: dict[str, int] | None, holds: bool) -> None:
    assert Expectation.parse(text).holds(value, snapshot) is holds


@pytest.mark.parametrize("text", ["", "0", "== ", "== foo", "== 1 2", "=> 1", "== snapshot.", "== 1 +"])
def test_bad_expectations(text: str) -> None:
    with pytest.raises(ExpectationError):
        Expectation.parse(text)


# --- through the CLI: one line on stderr, exit 2, nothing changed --------------------------

CLI_CASES = {
    "unknown key": (GOOD.replace("[migration]", "[migration]\nfoo = 1"), "migration.foo: unknown key"),
    "bad expectation": (GOOD.replace('expect = "== 0"', 'expect = "== lots"'), "checks.post[0].expect"),
    "missing env var": (GOOD.replace("SS_TEST_URL", "SS_TEST_NOT_SET"), "environment variable SS_TEST_NOT_SET is not set"),
    "unreachable database directory": (
        GOOD.replace("${SS_TEST_URL}", "sqlite:////nonexistent-dir-ss/x.db"),
        "directory /nonexistent-dir-ss does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_malformed_plan(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_TEST_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.delenv("SS_TEST_NOT_SET", raising=False)
    text, expected = CLI_CASES[case]
    plan = write(tmp_path, text)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, ["run", "--plan", str(plan)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    after = sorted(p.name for p in tmp_path.iterdir() if p.name != ".safeshift")
    assert after == before


def test_cli_missing_plan_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--plan", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "plan file not found" in result.stderr


def test_state_and_backup_folders_resolve_in_one_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--workdir`` or the plan's folder; ``[backup] directory`` with ``~`` expanded, else relative to it."""
    from safeshift import api
    from safeshift.config.load import backup_dir, resolve_workdir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SS_TEST_URL", f"sqlite:///{tmp_path}/x.db")
    plan = load_plan(write(tmp_path, GOOD))
    work = tmp_path / "work"
    assert resolve_workdir(plan, None) == tmp_path.resolve()
    assert resolve_workdir(plan, work) == work.resolve()
    assert backup_dir(plan, None) == tmp_path.resolve() / ".safeshift" / "backups"
    assert backup_dir(plan, work) == work.resolve() / ".safeshift" / "backups"
    home_plan = load_plan(write(tmp_path, GOOD + '\n[backup]\ndirectory = "~/backups"\nverify = false\n'))
    assert backup_dir(home_plan, work) == tmp_path / "home" / "backups"
    # `safeshift backup` writes there too, not to a folder literally named "~"
    import sqlite3

    sqlite3.connect(tmp_path / "x.db").close()
    info = api.backup(home_plan, workdir=work)
    assert Path(info.path).parent == tmp_path / "home" / "backups"
    assert not (work / "~").exists()
