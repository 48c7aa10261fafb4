"""User text is text: ``[/]``, ``[red]x[/red]`` and ANSI escapes in names, paths and SQL are shown
as written, never read as Rich markup or sent to the terminal; every ``--help`` renders whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift.cli.app import app

MARKUP = "[red]x[/red] [/] [bold]"


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    subcommands = getattr(command, "commands", None)  # a group (Typer may bring its own click)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            found += _commands(sub, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(typer.main.get_command(app)), ids=lambda p: " ".join(p) or "safeshift")
def test_every_help_renders_whole(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert not re.search(r"\w, , \w|'s enabled|'s fail_on|\(\)", text), text  # no [word] eaten as markup


def test_run_help_keeps_its_bracketed_words() -> None:
    out = " ".join(CliRunner().invoke(app, ["run", "--help"]).output.split())
    assert "[rehearse]" in out and "[approve]" in out


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_run_full_of_markup_is_shown_as_written(items_db: ItemsDb, tmp_path: Path) -> None:
    name = f"{MARKUP} \\u001b[2J"  # TOML's escape: an ANSI "clear screen" in the check's name
    plan = items_plan(
        tmp_path / "pl[/]an [red]",
        f'\n[rollback]\nstrategy = "downgrade"\n\n[[checks.post]]\nname = "{name}"\nkind = "sql"\n'
        'query = "SELECT COUNT(*) FROM items"\nexpect = "== 0"\nsample = "SELECT \'[/]\'"\n',
    )
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 3, result.output  # rolled back and proven, not a crash
    out = " ".join(result.output.split())
    assert MARKUP in out and "\x1b" not in result.output and "\\x1b[2J" in out
    dry = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert MARKUP in " ".join(dry.output.split())
