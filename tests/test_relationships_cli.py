"""The relationships cutover through the CLI: success, and an applied SQL file edited afterwards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import EXAMPLES
from safeshift.cli.app import app
from safeshift.demo.relationships import prepare_relationships_database


def test_edited_applied_sql_file_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = tmp_path / "relationships"
    shutil.copytree(EXAMPLES / "relationships", example)
    url, _ = prepare_relationships_database("sqlite", tmp_path, 300)
    monkeypatch.setenv("RELATIONSHIPS_DATABASE_URL", url.render_as_string(hide_password=False))
    runner = CliRunner()
    first = runner.invoke(app, ["run", "--plan", str(example), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["outcome"] == "succeeded"

    overrides = sorted((example / "migrations" / "sqlite").glob("0001_*.up.sql"))
    applied = (overrides or sorted((example / "migrations").glob("0001_*.up.sql")))[0]  # what SQLite ran
    applied.write_text(applied.read_text() + "\n-- edited after it was applied\n")
    again = runner.invoke(app, ["run", "--plan", str(example)])
    assert again.exit_code == 2, again.output
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and applied.name in lines[0], again.stderr


def test_cli_demo_relationships_break_rolls_back(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "relationships", "--couples", "500", "--break", "--json", "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "rolled_back"
    proof = data["rollback"]["proof"]
    assert proof["equal"] is True and proof["tables_hashed"] == len(data["snapshot"])
