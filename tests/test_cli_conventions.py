"""The command line's conventions: ``--version``, shell completion, an example and the exit codes
in every command's help, choices that are listed and checked, and ``--json``: every command
answers with one JSON object carrying ``version``, ``command``, ``outcome`` and ``exit_code``
(and an ``error`` object when it could not do its work), whether it succeeds or fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import safeshift
from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.cli.app import app
from safeshift.errors import ConfigError

ENVELOPE = ("version", "command", "outcome", "exit_code")
CHECK = '\n[[checks.post]]\nname = "items kept"\nkind = "sql"\nquery = "SELECT COUNT(*) FROM items"\nexpect = ">= 1"\n'


def _tree(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the CLI (groups too) with its path, ``()`` being ``safeshift`` itself."""
    found = [(path, command)]
    subcommands = getattr(command, "commands", None)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            found += _tree(sub, (*path, name))
    return found


TREE = _tree(typer.main.get_command(app))
LEAVES = [(path, cmd) for path, cmd in TREE if not isinstance(getattr(cmd, "commands", None), dict)]


def envelope(result: Any, command: str | None, outcome: str | None = None) -> dict[str, Any]:
    """stdout holds exactly one JSON object, the envelope first; its exit code is the process's."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    assert list(data)[:4] == list(ENVELOPE), list(data)
    assert data["version"] == safeshift.__version__
    assert data["command"] == command
    assert data["exit_code"] == result.exit_code, (data, result.stderr)
    if outcome is not None:
        assert data["outcome"] == outcome, (data.get("error") or data.get("message"), result.stderr)
    if data["outcome"] == "error":
        assert data["exit_code"] != 0
        assert set(data["error"]) == {"message", "type"} and data["error"]["message"], data
        assert "error" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return data


# -- --version, completion -----------------------------------------------------------------------


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"safeshift {safeshift.__version__}\n"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_is_printed_and_nothing_installed(
    shell: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert f"_SAFESHIFT_COMPLETE=complete_{shell}" in result.stdout
    assert ("complete -o default -F" if shell == "bash" else "#compdef safeshift") in result.stdout
    assert list(tmp_path.iterdir()) == []  # no rc file written, nothing installed


def test_completion_answers_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"_SAFESHIFT_COMPLETE": "complete_bash", "COMP_WORDS": "safeshift re", "COMP_CWORD": "1"}
    result = CliRunner().invoke(app, [], env=env, prog_name="safeshift")
    assert {"rehearse", "resume"} <= set(result.stdout.split()), result.output
    env = {"_SAFESHIFT_COMPLETE": "complete_bash", "COMP_WORDS": "safeshift check --phase ", "COMP_CWORD": "3"}
    result = CliRunner().invoke(app, [], env=env, prog_name="safeshift")
    assert set(result.stdout.split()) == {"pre", "post"}, result.output


# -- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p, _ in TREE], ids=lambda p: " ".join(p) or "safeshift")
def test_every_help_has_an_example_and_the_exit_codes(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Examples:" in text and "Exit codes:" in text, text
    examples = text.split("Examples:")[1].split("Exit codes:")[0]
    assert any(line.strip().startswith("safeshift") for line in examples.splitlines()), examples
    codes = " ".join(text.split("Exit codes:")[1].split())
    assert "2 " in codes and "usage" in codes, codes


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["check"], "pre|post"),
        (["lint"], "sqlite|postgresql|mysql|mariadb"),
        (["demo", "family"], "check|apply|app"),
        (["demo", "relationships"], "sqlite|postgresql|mysql"),
        (["completion"], "bash|zsh|fish|powershell"),
    ],
)
def test_choices_are_listed_in_the_help(args: list[str], listed: str) -> None:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert listed in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["check", "--phase", "during"], "--phase: expected pre or post, got 'during'"),
        (["lint", "m.sql", "--dialect", "oracle"], "--dialect: expected sqlite, postgresql, mysql or mariadb, got 'oracle'"),
        (["demo", "family", "--break-mode", "disk"], "--break-mode: expected check, apply or app, got 'disk'"),
        (["demo", "relationships", "--db", "oracle"], "--db: expected sqlite, postgresql or mysql, got 'oracle'"),
        (["completion", "tcsh"], "SHELL: expected bash, zsh, fish or powershell, got 'tcsh'"),
        (["run", "--bogus"], "No such option: --bogus (see safeshift run -h)"),
        (["statsu"], "No such command 'statsu'"),
        (["check", "--phase"], "'--phase' requires an argument"),
    ],
)
def test_a_usage_error_is_one_line_exit_2(args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0], result.stderr
    assert result.stdout == "" and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# -- lint without a plan -------------------------------------------------------------------------


def test_lint_sql_files_without_a_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no safeshift.toml here
    sql = tmp_path / "0042.sql"
    sql.write_text("CREATE INDEX ix_users_email ON users (email);\nUPDATE users SET active = 1;\n")
    result = CliRunner().invoke(app, ["lint", str(sql), "--dialect", "postgresql", "--json"])
    data = envelope(result, "lint")
    assert data["dialect"] == "postgresql" and "SS007" in {f["code"] for f in data["findings"]}
    mariadb = envelope(CliRunner().invoke(app, ["lint", str(sql), "--dialect", "mariadb", "--json"]), "lint")
    assert mariadb["dialect"] == "mysql" and mariadb["statements"]
    human = CliRunner().invoke(app, ["lint", str(sql), "--dialect", "sqlite"])
    assert human.exit_code in (0, 1) and "lint:" in human.stdout, human.output
    bare = CliRunner().invoke(app, ["lint", str(sql)])
    assert bare.exit_code == 2 and "need --dialect" in bare.stderr and len(bare.stderr.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="--dialect: expected sqlite, postgresql, mysql or mariadb, got 'oracle'"):
        api.lint_plan(None, [sql], "oracle")


# -- the JSON envelope -----------------------------------------------------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_json_envelope_of_every_command_on_sqlite(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = str(items_plan(tmp_path / "plan", CHECK + '\n[rollback]\nstrategy = "downgrade"\n'))
    work = str(tmp_path / "w")
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, [*args, "--json"])

    envelope(cli("lint", "--plan", plan), "lint", "ok")
    envelope(cli("check", "--plan", plan, "--phase", "pre"), "check", "ok")
    status = envelope(cli("status", "--plan", plan, "--workdir", work), "status", "ok")
    assert [p["id"] for p in status["pending"]] == ["0001"]
    dry = envelope(cli("run", "--plan", plan, "--workdir", work, "--dry-run"), "run", "planned")
    assert dry["digest"] and dry["statements"]
    envelope(cli("rehearse", "--plan", plan, "--workdir", work), "rehearse", "rehearsed")
    backup = envelope(cli("backup", "--plan", plan, "--workdir", work), "backup", "ok")
    restored = envelope(cli("restore", backup["path"], "--plan", plan, "--yes"), "restore", "ok")
    assert restored["row_counts"]["items"] == 200
    run = envelope(cli("run", "--plan", plan, "--workdir", work), "run", "succeeded")
    envelope(cli("check", "--plan", plan), "check", "ok")
    envelope(cli("resume", run["run_id"], "--plan", plan, "--workdir", work), "resume", "error")
    rolled = envelope(cli("rollback", run["run_id"], "--plan", plan, "--workdir", work), "rollback", "rolled_back")
    assert rolled["exit_code"] == 3
    demo = envelope(cli("demo", "relationships", "--couples", "150", "--workdir", str(tmp_path / "demo")), "demo relationships", "succeeded")
    assert demo["demo"]["database"]

    # errors: from the parser, from safeshift's own checks of the options, from the plan, from a bug
    bad_phase = envelope(cli("check", "--plan", plan, "--phase", "during"), "check", "error")
    assert bad_phase["error"] == {"message": "--phase: expected pre or post, got 'during'", "type": "UsageError"}
    unknown = envelope(cli("run", "--plan", plan, "--bogus"), "run", "error")
    assert unknown["error"]["type"] == "UsageError" and "--bogus" in unknown["error"]["message"]
    online = envelope(cli("demo", "family", "--online", "--break"), "demo family", "error")
    assert "--online" in online["error"]["message"]
    missing = envelope(cli("status", "--plan", str(tmp_path / "nowhere.toml")), "status", "error")
    assert missing["error"]["type"] == "ConfigError" and "nowhere.toml" in missing["error"]["message"]
    no_run = envelope(cli("resume", "no-such-run", "--plan", plan, "--workdir", work), "resume", "error")
    assert "no run 'no-such-run'" in no_run["error"]["message"]


def test_json_envelope_of_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug of ours")

    monkeypatch.setattr(api, "status", broken)
    result = CliRunner().invoke(app, ["status", "--json"])
    data = envelope(result, "status", "error")
    assert data["error"] == {"message": "unexpected ValueError: a bug of ours", "type": "InternalError"}


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=" ".join)
def test_every_command_answers_one_json_object(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the command (those added later too), ``--json`` with a plan that is not there
    (or an option the command does not take) is one JSON object with the envelope, and an error."""
    monkeypatch.chdir(tmp_path)
    command = dict(LEAVES)[path]
    required = [p for p in command.params if getattr(p, "param_type_name", "") == "argument" and p.required]
    args = [*path, *["x"] * len(required), "--plan", str(tmp_path / "missing" / "safeshift.toml"), "--json"]
    result = CliRunner().invoke(app, args)
    data = envelope(result, " ".join(path))
    assert result.exit_code == 2 and data["outcome"] == "error", data


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_the_envelope_of_a_run_that_was_killed_and_resumed(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = str(items_plan(tmp_path / "plan", CHECK))
    cmd = [sys.executable, "-m", "safeshift.cli"]
    common = ["--plan", plan, "--workdir", str(tmp_path / "w"), "--json"]
    env = {**items_db.env, "SAFESHIFT_FAULT": "apply:finished"}
    killed = subprocess.run([*cmd, "run", *common], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137 and killed.stdout == ""
    run_id = next((tmp_path / "w" / ".safeshift" / "runs").iterdir()).name
    env.pop("SAFESHIFT_FAULT")
    done = subprocess.run([*cmd, "resume", run_id, *common], env=env, capture_output=True, text=True, timeout=120)
    data = json.loads(done.stdout)
    assert done.stdout.count("\n") == 1 and done.returncode == 0, done.stderr
    assert {k: data[k] for k in ENVELOPE} == {
        "version": safeshift.__version__, "command": "resume", "outcome": "succeeded", "exit_code": 0
    }


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_json_envelope_on_a_server(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = str(items_plan(tmp_path / "plan", CHECK))
    result = CliRunner().invoke(app, ["run", "--plan", plan, "--workdir", str(tmp_path / "w"), "--json"])
    data = envelope(result, "run", "succeeded")
    assert data["database"].startswith("postgresql")
    locked = CliRunner().invoke(app, ["status", "--plan", plan, "--workdir", str(tmp_path / "w"), "--json"])
    assert envelope(locked, "status", "ok")["current"] == "0001"


@pytest.mark.slow
def test_json_envelope_of_the_family_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "family", "--users", "300", "--workdir", str(tmp_path), "--json"])
    data = envelope(result, "demo family", "succeeded")
    assert data["demo"]["database"]

