"""Inputs that used to be accepted and then lied: each is now a one-line error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.cli.app import app
from safeshift.errors import ConfigError, ExitCode
from safeshift.loading import load_plan

BASE = '[database]\nurl = "sqlite:///x.db"\n'


def plan_in(folder: Path, text: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / name).write_text(body)
    path = folder / "safeshift.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_an_endless_lock_timeout_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="apply.lock_timeout"):
        load_plan(plan_in(tmp_path, BASE + f"\n[apply]\nlock_timeout = {value}\n"))


def test_two_checks_of_one_name_are_refused(tmp_path: Path) -> None:
    check = '\n[[checks.post]]\nname = "same"\nkind = "sql"\nquery = "SELECT 0"\nexpect = "== 0"\n'
    with pytest.raises(ConfigError, match=r"checks.post\[1\].name: 'same' is also the name of checks.post\[0\]"):
        load_plan(plan_in(tmp_path, BASE + check + check))


@pytest.mark.parametrize(
    ("module", "said"),
    [("no_such_module_here", "no module 'no_such_module_here'"), ("broken_checks", "broken_checks.py line 2")],
)
def test_a_python_check_that_cannot_be_imported_is_a_plan_error(tmp_path: Path, module: str, said: str) -> None:
    check = f'\n[[checks.pre]]\nkind = "python"\nfunction = "{module}:check"\n'
    plan = plan_in(tmp_path, BASE + check, **{"broken_checks.py": "def check(conn):\n    return (\n"})
    with pytest.raises(ConfigError, match=r"checks.pre\[0\].function: .*" + said.replace(".", r"\.")):
        load_plan(plan)
    result = CliRunner().invoke(app, ["check", "--plan", str(plan), "--phase", "pre"])
    assert result.exit_code == 2 and said in " ".join(result.stderr.split())


def test_a_plan_that_never_ends_is_refused_without_reading_it_whole() -> None:
    result = CliRunner().invoke(app, ["check", "--plan", "/dev/zero"])
    assert result.exit_code == 2 and "larger than 1024 KiB" in result.stderr


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_wrong_digest_is_refused_even_when_approval_is_not_required(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "plan")
    wrong = api.run_plan(plan, workdir=tmp_path / "w", approve="0" * 16)
    assert wrong.outcome == "blocked" and wrong.exit_code == ExitCode.USAGE and "approval refused" in wrong.message
    assert "extra" not in {p.name for p in wrong.phases} and not any(p.name == "apply" for p in wrong.phases)
    digest = api.run_plan(plan, workdir=tmp_path / "w", dry_run=True).digest
    right = api.run_plan(plan, workdir=tmp_path / "w", approve=digest)
    assert right.exit_code == ExitCode.OK, right.message


def test_a_sqlite_url_naming_another_kind_of_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 10)
    monkeypatch.setenv("NOTES_URL", f"sqlite:///{notes}")
    plan = plan_in(tmp_path / "plan", '[database]\nurl = "${NOTES_URL}"\n')
    result = CliRunner().invoke(app, ["status", "--plan", str(plan)])
    assert result.exit_code == 2 and "is not a SQLite database" in result.stderr and "Traceback" not in result.output
    assert notes.read_text() == "not a database\n" * 10


def test_a_workdir_that_is_a_file_names_the_file(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "plan", '[database]\nurl = "sqlite:///x.db"\n')
    (tmp_path / "plan" / "x.db").touch()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(blocker)])
    assert result.exit_code == 2, result.output
    assert f"cannot use {blocker}" in " ".join(result.stderr.split()) and "Traceback" not in result.output
