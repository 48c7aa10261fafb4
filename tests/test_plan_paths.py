"""Every path of a plan is relative to the plan's folder, the SQLite URL's included (issue 16)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import EXTRA_DOWN, EXTRA_UP
from safeshift import api
from safeshift.cli.app import app
from safeshift.loading import load_plan

PLAN = """[database]
url = "sqlite:///app.db"

[migration]
engine = "sql"
directory = "migrations"

[backup]
directory = "backups"
verify = "scan"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project in tmp/project with app.db beside its plan; the current folder is elsewhere."""
    folder = tmp_path / "project"
    (folder / "migrations").mkdir(parents=True)
    (folder / "migrations" / "0001_extra.up.sql").write_text(EXTRA_UP)
    (folder / "migrations" / "0001_extra.down.sql").write_text(EXTRA_DOWN)
    (folder / "safeshift.toml").write_text(PLAN)
    with sqlite3.connect(folder / "app.db") as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


def test_the_sqlite_url_is_the_plan_folders_file(project: Path) -> None:
    url = load_plan(project).database_url()
    assert url.database == str(project / "app.db")
    status = CliRunner().invoke(app, ["status", "--plan", str(project)])
    assert status.exit_code == 0, status.output
    assert "pending: 0001" in status.stdout
    result = api.run_plan(project)
    assert result.outcome == "succeeded", result.message
    with sqlite3.connect(project / "app.db") as conn:
        assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {"items", "extra"}
    assert list((project / "backups").glob("*.sqlite3"))  # [backup] directory: the plan's folder too
    assert not list(Path.cwd().iterdir())  # nothing was created where safeshift was started


def test_absolute_and_memory_urls_are_left_alone(project: Path) -> None:
    text = PLAN.replace("sqlite:///app.db", f"sqlite:///{project / 'app.db'}")
    (project / "safeshift.toml").write_text(text)
    assert load_plan(project).database_url().database == str(project / "app.db")
    (project / "safeshift.toml").write_text(PLAN.replace("sqlite:///app.db", "sqlite:///:memory:"))
    assert load_plan(project).database_url().database == ":memory:"
