"""Recovery honours the run's verdict (issue 19): a run that decided to roll back (its smoke
probe failed) and was killed inside the downgrade is never resumed to "migrated"; status
advises the rollback, resume refuses, and the rollback ends in the before-state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.faults import EXIT_CODE

CLI = [sys.executable, "-m", "safeshift.cli"]


@pytest.fixture
def broken_app() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()


def test_a_kill_inside_a_decided_rollback_is_never_resumed(items_db: ItemsDb, tmp_path: Path, broken_app: str) -> None:
    flag = tmp_path / "maintenance_on"
    plan = items_plan(
        tmp_path / "plan",
        f'\n[maintenance]\nkind = "file"\npath = "{flag}"\n\n[[smoke]]\nname = "health"\nurl = "{broken_app}"\n',
    )
    work = tmp_path / "w"
    args = ["--plan", str(plan), "--workdir", str(work)]
    killed = subprocess.run(
        [*CLI, "run", *args], env={**items_db.env, "SAFESHIFT_FAULT": "rollback:downgrade:started"},
        capture_output=True, text=True, timeout=180,
    )
    assert killed.returncode == EXIT_CODE, killed.stdout + killed.stderr
    run_id = next((work / ".safeshift" / "runs").iterdir()).name
    status = json.loads(subprocess.run([*CLI, "status", *args, "--json"], env=items_db.env, capture_output=True, text=True).stdout)
    advice = next(r["next"] for r in status["runs"] if r["run_id"] == run_id)
    assert advice.startswith(f"safeshift rollback {run_id}") and "decided to roll back" in advice, advice
    resumed = subprocess.run([*CLI, "resume", run_id, *args], env=items_db.env, capture_output=True, text=True)
    assert resumed.returncode == ExitCode.USAGE and "decided to roll back" in resumed.stdout + resumed.stderr
    rolled = subprocess.run([*CLI, "rollback", run_id, *args, "--json"], env=items_db.env, capture_output=True, text=True)
    assert rolled.returncode == ExitCode.ROLLED_BACK, rolled.stdout + rolled.stderr
    engine = get_dialect(items_db.url).create_engine()
    try:
        with engine.connect() as conn:
            assert "extra" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    assert not flag.exists()


def test_a_run_killed_after_its_verdict_but_before_its_report_is_not_called_interrupted(
    items_db: ItemsDb, tmp_path: Path
) -> None:
    from safeshift import api

    plan, work = items_plan(tmp_path / "plan"), tmp_path / "w"
    done = api.run_plan(plan, workdir=work)
    assert done.exit_code == ExitCode.OK, done.message
    folder = Path(done.journal or "").parent
    for name in ("report.json", "report.md", "report.html", "junit.xml"):  # as if killed right after "run finished"
        (folder / name).unlink(missing_ok=True)
    run = next(r for r in api.status(plan, workdir=work).runs if r["run_id"] == done.run_id)
    assert run["outcome"] == "succeeded" and run["next"] is None, run
    assert "no report was written" in run["message"] and "interrupted" not in run["message"]
