"""Alembic's log lines ("Context impl SQLiteImpl.", "Running upgrade  -> 0001") go to the run's
journal, never mixed into safeshift's output, also when the project's env.py calls
``fileConfig(config.config_file_name)`` as ``alembic init`` writes it; ``-v`` shows them on
stderr; the process's own logging set-up is left as it was found."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

from safeshift import api
from safeshift.cli.app import app
from safeshift.journal import Journal, read_journal
from safeshift.logs import captured, describe, routed
from safeshift.secrets import register_secret

REVISION = '''"""add things

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("things")
'''


@pytest.fixture
def stock(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """``alembic init`` as it comes (its env.py calls fileConfig, its ini keeps the placeholder
    URL and a console handler at INFO for ``alembic``), one revision, a plan on a SQLite file."""
    folder = tmp_path / "project"
    folder.mkdir()
    command.init(Config(str(folder / "alembic.ini"), stdout=io.StringIO()), str(folder / "migrations"))
    assert "fileConfig(config.config_file_name)" in (folder / "migrations" / "env.py").read_text()
    (folder / "migrations" / "versions" / "0001_things.py").write_text(REVISION)
    plan = folder / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "${LOGS_URL}"\n\n[migration]\nengine = "alembic"\nconfig = "alembic.ini"\n\n'
        '[backup]\nverify = "scan"\n'
    )
    db = tmp_path / "app.sqlite3"
    db.touch()
    env = {**os.environ, "LOGS_URL": f"sqlite:///{db}"}
    env.pop("SAFESHIFT_FAULT", None)
    return plan, env


ALEMBIC_SAYS = ("Running upgrade", "Context impl", "INFO")


def test_alembic_lines_go_to_the_journal_and_show_with_v(
    stock: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, env = stock
    monkeypatch.setenv("LOGS_URL", env["LOGS_URL"])
    common = ["--plan", str(plan), "--workdir", str(tmp_path / "w")]
    runner = CliRunner()
    for args in (["lint", "--plan", str(plan)], ["run", "--dry-run", *common]):
        quiet = runner.invoke(app, args)
        assert quiet.exit_code == 0, quiet.output
        assert not any(said in quiet.output for said in ALEMBIC_SAYS), quiet.output

    loud = runner.invoke(app, ["run", "--dry-run", "-v", *common])  # -v after the command: a global option
    assert loud.exit_code == 0, loud.output
    assert "alembic.runtime.migration INFO: Running upgrade  -> 0001" in loud.stderr
    assert "Running upgrade" not in loud.stdout
    as_json = runner.invoke(app, ["-v", "run", "--dry-run", *common, "--json"])
    assert json.loads(as_json.stdout)["outcome"] == "planned" and "Running upgrade" in as_json.stderr
    again = runner.invoke(app, ["run", "--dry-run", *common])  # -v lasts one command
    assert "Running upgrade" not in again.output

    # a real process, a real stderr: the run's output holds none of it, the journal all of it
    run = subprocess.run(
        [sys.executable, "-m", "safeshift.cli", "run", *common], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert not any(said in run.stdout + run.stderr for said in ALEMBIC_SAYS), run.stdout + run.stderr
    journal = next((tmp_path / "w" / ".safeshift" / "runs").glob("*/journal.jsonl"))
    logs = [e for e in read_journal(journal) if e["event"] == "log"]
    assert any(e["phase"] == "apply" and e["message"].startswith("Running upgrade  -> 0001") for e in logs), logs
    assert {e["logger"] for e in logs} == {"alembic.runtime.migration"} and {e["level"] for e in logs} == {"INFO"}


def test_the_process_logging_is_left_as_found(stock: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plan, env = stock
    monkeypatch.setenv("LOGS_URL", env["LOGS_URL"])
    alembic = logging.getLogger("alembic")

    def state() -> tuple[object, ...]:
        return (
            list(logging.root.handlers), logging.root.level, list(alembic.handlers), alembic.level,
            alembic.propagate, logging.config.fileConfig, logging.config.dictConfig,
        )

    before = state()
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "succeeded", result.message
    assert state() == before  # env.py's fileConfig changed nothing


def test_captured_records_are_redacted_and_env_py_logging_setup_is_skipped(tmp_path: Path) -> None:
    register_secret("s3cr3t-in-a-log-line")
    journal = Journal(tmp_path / "journal.jsonl")
    ini = tmp_path / "logging.ini"
    ini.write_text(
        "[loggers]\nkeys = root\n[handlers]\nkeys = console\n[formatters]\nkeys = plain\n"
        "[logger_root]\nlevel = INFO\nhandlers = console\n"
        "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\nformatter = plain\n"
        "[formatter_plain]\nformat = %(message)s\n"
    )
    handlers = list(logging.root.handlers)
    try:
        with routed(lambda r: journal.event("apply", "log", **describe(r))), captured("alembic"):
            logging.config.fileConfig(str(ini))  # what env.py does: nothing, here
            logging.getLogger("alembic.runtime.migration").info("connected with %s", "s3cr3t-in-a-log-line")
        logging.getLogger("alembic.runtime.migration").info("after the capture: not journaled")
    finally:
        journal.close()
    assert logging.root.handlers == handlers
    events = read_journal(tmp_path / "journal.jsonl")
    assert [e["message"] for e in events] == ["connected with ***"]
