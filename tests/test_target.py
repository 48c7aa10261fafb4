"""``--target REV`` on run, the dry run, rehearse and lint, and ``${VAR}`` in every string of a plan.

The target given on the command line replaces ``[migration] target`` everywhere, is part of
the approval digest, and the dry run names it and the pending revisions before anything
else. ``${VAR}`` / ``${VAR:-default}`` work in any value (``migration.target`` included);
the database URL and the application side keep filling theirs in when they are used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import table_names
from safeshift import api
from safeshift.cli.app import app
from safeshift.errors import ConfigError, ExitCode
from safeshift.loading import load_plan

FILES = {
    "0001_alpha.up.sql": "CREATE TABLE alpha (id INTEGER PRIMARY KEY, name VARCHAR(20));\n",
    "0001_alpha.down.sql": "DROP TABLE alpha;\n",
    "0002_beta.up.sql": "CREATE TABLE beta (id INTEGER PRIMARY KEY);\n",
    "0002_beta.down.sql": "DROP TABLE beta;\n",
}


def project(folder: Path, url: URL, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    (folder / "migrations").mkdir(parents=True)
    for name, sql in FILES.items():
        (folder / "migrations" / name).write_text(sql)
    monkeypatch.setenv("TARGET_DB", url.render_as_string(hide_password=False))
    plan = folder / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "${TARGET_DB}"\n\n[migration]\nengine = "sql"\ntarget = "head"\n\n'
        f'[backup]\nverify = "scan"\n{extra}'
    )
    return plan



def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_run_and_dry_run_take_target(db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = str(project(tmp_path, db_url, monkeypatch))

    dry = invoke("run", "--plan", plan, "--dry-run", "--target", "0001")
    assert dry.exit_code == 0, dry.output
    lines = [line for line in dry.stdout.splitlines() if not line.startswith(" ✓")]
    assert lines[:2] == ["target: 0001 (the database is at base)", "pending (1): 0001 alpha"]
    assert "CREATE TABLE alpha" in dry.stdout and "CREATE TABLE beta" not in dry.stdout
    as_json = json.loads(invoke("run", "--plan", plan, "--dry-run", "--target", "0001", "--json").stdout)
    assert as_json["target_revision"] == "0001" and [p["id"] for p in as_json["pending"]] == ["0001"]
    head = json.loads(invoke("run", "--plan", plan, "--dry-run", "--json").stdout)
    assert head["target_revision"] == "0002" and [p["id"] for p in head["pending"]] == ["0001", "0002"]
    assert head["digest"] != as_json["digest"]  # the target is part of what is approved

    stale = invoke("run", "--plan", plan, "--target", "0001", "--approve", head["digest"])
    assert stale.exit_code != 0 and "does not match" in stale.stdout + stale.stderr
    assert "alpha" not in table_names(db_url)
    run = invoke("run", "--plan", plan, "--target", "0001", "--approve", as_json["digest"])
    assert run.exit_code == 0, run.output
    assert "migrated base → 0001" in run.stdout
    assert "alpha" in table_names(db_url) and "beta" not in table_names(db_url)
    assert api.status(plan).current == "0001"

    unknown = invoke("run", "--plan", plan, "--target", "0009")
    assert unknown.exit_code == ExitCode.USAGE and "no migration '0009'" in unknown.stderr
    empty = invoke("run", "--plan", plan, "--target", " ")
    assert empty.exit_code == ExitCode.USAGE and "--target: expected a revision" in empty.stderr


def test_lint_takes_target(db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = str(project(tmp_path, db_url, monkeypatch))
    one = json.loads(invoke("lint", "--plan", plan, "--target", "0001", "--json").stdout)
    assert one["source"] == "sql base→0001"
    assert [s["sql"] for s in one["statements"] if "beta" in s["sql"]] == []
    both = json.loads(invoke("lint", "--plan", plan, "--json").stdout)
    assert both["source"] == "sql base→0002" and any("beta" in s["sql"] for s in both["statements"])
    sql = tmp_path / "x.sql"
    sql.write_text("CREATE TABLE x (id INTEGER);\n")
    with_files = invoke("lint", str(sql), "--plan", plan, "--target", "0001")
    assert with_files.exit_code == ExitCode.USAGE and "--target" in with_files.stderr


def test_rehearse_takes_target(db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = str(project(tmp_path, db_url, monkeypatch))
    result = invoke("rehearse", "--plan", plan, "--target", "0001", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "rehearsed" and data["target_revision"] == "0001"
    ran = [f["file"] for f in data["rehearsal"]["output"]["files"]]
    assert ran == ["migrations/0001_alpha.up.sql"]  # the copy went to 0001, not to head
    assert "alpha" not in table_names(db_url)  # a rehearsal changes only its copy


# -- ${VAR} in every string value -------------------------------------------------------------


def test_env_in_target_and_other_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")
    (tmp_path / "app.db").touch()
    plan = project(
        tmp_path, url, monkeypatch,
        '\n[[checks.post]]\nkind = "row_count"\ntable = "${CHECKED_TABLE:-alpha}"\nexpect = "${MIN_ROWS_EXPECT}"\n',
    )
    plan.write_text(plan.read_text().replace('target = "head"', 'target = "${WS_TARGET:-head}"')
                    .replace('verify = "scan"', 'verify = "scan"\ndirectory = "${BACKUPS:-.safeshift/backups}"'))
    monkeypatch.delenv("WS_TARGET", raising=False)
    monkeypatch.delenv("BACKUPS", raising=False)
    monkeypatch.delenv("CHECKED_TABLE", raising=False)
    monkeypatch.setenv("MIN_ROWS_EXPECT", ">= 0")
    loaded = load_plan(plan)
    assert loaded.migration.target == "head" and loaded.backup.directory == ".safeshift/backups"
    assert loaded.checks.post[0].model_extra == {"table": "alpha", "expect": ">= 0"}
    assert loaded.database.url == "${TARGET_DB}"  # filled in only when connecting

    monkeypatch.setenv("WS_TARGET", "0001")
    monkeypatch.setenv("BACKUPS", str(tmp_path / "elsewhere"))
    first = api.run_plan(plan, dry_run=True)
    assert first.target_revision == "0001" and [p["id"] for p in first.pending] == ["0001"]
    run = api.run_plan(plan)
    assert run.exit_code == 0, run.message
    assert run.backup is not None and Path(run.backup.path).parent == tmp_path / "elsewhere"
    assert "beta" not in table_names(url)

    monkeypatch.setenv("MIN_ROWS_EXPECT", ">= 1")  # a value from the environment changes the digest
    monkeypatch.setenv("WS_TARGET", "0002")
    one = api.run_plan(plan, dry_run=True).digest
    monkeypatch.setenv("MIN_ROWS_EXPECT", ">= 0")
    assert api.run_plan(plan, dry_run=True).digest != one

    monkeypatch.delenv("MIN_ROWS_EXPECT")
    with pytest.raises(ConfigError, match=r"safeshift.toml: checks.post\[0\].expect: environment variable MIN_ROWS_EXPECT is not set"):
        load_plan(plan)
    result = invoke("status", "--plan", str(plan))
    assert result.exit_code == ExitCode.USAGE
    assert "checks.post[0].expect: environment variable MIN_ROWS_EXPECT is not set" in result.stderr


def test_deferred_values_keep_their_own_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app side fills its ${ENV} when used (a missing one stops preflight, not loading), and
    the command engine's argv is never interpolated (the URL must not land on a command line)."""
    monkeypatch.delenv("APP_URL", raising=False)
    plan = tmp_path / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "sqlite:///app.db"\n\n[migration]\nengine = "command"\n'
        'up = "tool up ${DATABASE_URL}"\ncurrent = "tool current"\n\n'
        '[[smoke]]\nname = "home"\nurl = "${APP_URL}/health"\n'
    )
    loaded = load_plan(plan)
    assert loaded.smoke[0].url == "${APP_URL}/health"
    assert loaded.migration.up == ("tool", "up", "${DATABASE_URL}")


def test_a_resumed_run_keeps_the_target_it_was_started_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``resume RUN`` reloads the plan; a run started with --target 0001 must not go on to head."""
    from safeshift.run import machine
    from safeshift.run.context import RunContext

    url = sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")
    plan = load_plan(project(tmp_path, url, monkeypatch))
    ctx = RunContext.create(plan)
    machine._keep_target(ctx, "0002")  # the plan's own target (head): nothing changes
    assert ctx.plan is plan
    machine._keep_target(ctx, "0001")
    assert ctx.plan.migration.target == "0001" and ctx.migrator.plan is ctx.plan
