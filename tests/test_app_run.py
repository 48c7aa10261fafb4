"""The application side inside a run: maintenance on every way out, smoke, watch-triggered
rollback, and no probe secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from helpers import family_plan
from safeshift.cli.app import app
from safeshift.demo import demo_family, prepare_family_database

USERS = 1500


def revision(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return str(rev)


def test_success_runs_smoke_and_watch_and_ends_out_of_maintenance(tmp_path: Path) -> None:
    result = demo_family(users=USERS, workdir=tmp_path)
    run = result.run
    assert run.outcome == "succeeded", run.message
    names = [p.name for p in run.phases]
    assert names == ["preflight", "validate", "snapshot", "backup", "maintenance:on", "apply", "verify",
                     "maintenance:off", "smoke", "watch"]
    assert [p.name for p in run.smoke] == ["health", "login", "me", "family"]
    assert all(p.passed for p in run.smoke)
    assert run.watch.to_dict()["passed"] is True and run.watch.to_dict()["ticks"] >= 2
    assert not (tmp_path / "maintenance_mode").exists()
    report = Path(run.report_md or "").read_text()
    assert "## Smoke probes" in report and "## Watch window" in report


@pytest.mark.parametrize("mode", ["app", "check"])
def test_failure_after_cutover_rolls_back_and_maintenance_ends_off(tmp_path: Path, mode: str) -> None:
    result = demo_family(users=USERS, workdir=tmp_path, break_mode=mode)  # type: ignore[arg-type]
    run = result.run
    assert run.outcome == "rolled_back", run.message
    assert result.exit_code == 3
    if mode == "app":
        assert "watch trigger fired: error_rate > 1%" in run.message
        assert run.watch.to_dict()["triggered"]
    assert run.rollback.proof.equal is True
    assert not (tmp_path / "maintenance_mode").exists()
    names = [p.name for p in run.phases]
    assert names[-1] == "maintenance:off" and names.count("maintenance:on") == names.count("maintenance:off")
    assert revision(run.database) == "0001"


def _maintenance_plan(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    url, _ = prepare_family_database("sqlite", tmp_path, USERS)
    flag = tmp_path / "maintenance_mode"
    plan = family_plan(tmp_path / "plan", f'\n[maintenance]\nkind = "file"\npath = "{flag}"\n')
    env = {**os.environ, "FAMILY_DATABASE_URL": url.render_as_string(hide_password=False)}
    return plan, flag, env


def test_sigint_mid_apply_rolls_back_and_switches_maintenance_off(tmp_path: Path) -> None:
    plan, flag, env = _maintenance_plan(tmp_path)
    env["SAFESHIFT_FAULT"] = "apply:statement:3:sigint"  # a real SIGINT, as from Ctrl-C
    done = subprocess.run(
        [sys.executable, "-m", "safeshift.cli", "run", "--plan", str(plan), "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    data = json.loads(done.stdout)
    assert done.returncode == 3, data["message"]
    assert data["outcome"] == "rolled_back" and "interrupted" in data["message"]
    assert not flag.exists()
    assert revision(env["FAMILY_DATABASE_URL"]) == "0001"


def test_crash_with_maintenance_on_is_switched_off_by_rollback(tmp_path: Path) -> None:
    plan, flag, env = _maintenance_plan(tmp_path)
    cmd = [sys.executable, "-m", "safeshift.cli"]
    killed = subprocess.run([*cmd, "run", "--plan", str(plan)], env={**env, "SAFESHIFT_FAULT": "apply:started"},
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137
    assert flag.exists(), "maintenance was on when the process died"
    run_id = next((plan.parent / ".safeshift" / "runs").iterdir()).name
    rolled = subprocess.run([*cmd, "rollback", run_id, "--plan", str(plan), "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert rolled.returncode == 3, rolled.stdout + rolled.stderr
    assert not flag.exists()


@pytest.mark.slow
def test_probe_secret_never_leaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-App-Pw-42f1"
    monkeypatch.setenv("FAMILY_DEMO_PASSWORD", canary)
    result = CliRunner().invoke(app, ["demo", "family", "--users", str(USERS), "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert canary not in result.output
    as_json = CliRunner().invoke(app, ["demo", "family", "--users", str(USERS), "--workdir", str(tmp_path), "--json"])
    assert as_json.exit_code == 0 and canary not in as_json.output
    assert json.loads(as_json.stdout)["smoke"][1]["name"] == "login"
    for path in (tmp_path / ".safeshift").rglob("*"):
        if path.is_file() and path.suffix != ".sqlite3":
            assert canary.encode() not in path.read_bytes(), path
