"""``[[notify]]`` webhooks against a local HTTP server: what is posted and when, and that a dead
or hanging webhook changes nothing else in the run (verdict, exit code, time beyond its timeout)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift.cli.app import app
from safeshift.journal import read_journal
from safeshift.loading import load_plan
from safeshift.run import run_plan

# notifications do not depend on the database: SQLite alone keeps these quick
pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])


class Hook:
    """A webhook on 127.0.0.1 that records every JSON body posted to it (or hangs, when told to)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.delay = delay
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if hook.delay:
                    time.sleep(hook.delay)
                hook.bodies.append({"path": self.path, **body})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notify(url: str, extra: str = "") -> str:
    return f'\n[[notify]]\nurl = "{url}"\n{extra}'


def journal_notices(result: Any) -> list[dict[str, Any]]:
    return [e for e in read_journal(Path(result.journal)) if e["phase"] == "notify"]


def test_started_and_finished_are_posted_with_the_outcome(items_db: ItemsDb, tmp_path: Path, hook: Hook) -> None:
    result = run_plan(load_plan(items_plan(tmp_path / "plan", notify(hook.url))), workdir=tmp_path / "w")
    assert result.outcome == "succeeded", result.message
    assert hook.events() == ["started", "finished"]
    started, finished = hook.bodies
    assert started["run_id"] == finished["run_id"] == result.run_id
    assert "started" in started["text"]
    assert finished["outcome"] == "succeeded" and finished["exit_code"] == 0
    assert finished["message"] == result.message and "succeeded" in finished["text"]
    assert finished["report"]["html"] == result.report_html and result.report_html in finished["text"]
    assert set(finished["durations"]) == {p.name for p in result.phases} and finished["seconds"] > 0
    assert finished["start_revision"] is None and finished["target_revision"] == "0001"
    posted = journal_notices(result)
    assert sorted((e["notice"], e["event"], e["status"]) for e in posted) == [
        ("finished", "posted", 200), ("started", "posted", 200)
    ]


def test_a_failed_run_posts_the_failed_phase_and_the_rollback(items_db: ItemsDb, tmp_path: Path, hook: Hook) -> None:
    plan = items_plan(tmp_path / "plan", notify(hook.url, 'events = ["phase_failed", "rolled_back"]\n'))
    (plan.parent / "migrations" / "0001_extra.up.sql").write_text("CREATE TABLE extra (id INTEGER PRIMARY KEY);\nSELECT * FROM nope;\n")
    result = run_plan(load_plan(plan), workdir=tmp_path / "w")
    assert result.outcome == "rolled_back", result.message
    assert hook.events() == ["phase_failed", "rolled_back"]
    failed, rolled = hook.bodies
    assert failed["phase"] == "apply" and failed["status"] == "failed" and "nope" in failed["error"]
    assert rolled["proven"] is True and "rolled back (proven equal to the snapshot)" in rolled["text"]


def test_a_dead_webhook_changes_nothing_else(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "plan", notify(f"http://127.0.0.1:{closed_port()}/hook"))
    done = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w"), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert data["outcome"] == "succeeded"
    notices = [e for e in read_journal(Path(data["journal"])) if e["phase"] == "notify"]
    assert {e["event"] for e in notices} == {"not_posted"} and {e["notice"] for e in notices} == {"started", "finished"}
    assert all("ConnectError" in e["error"] for e in notices), notices


def test_a_hanging_webhook_delays_the_run_at_most_its_timeout(items_db: ItemsDb, tmp_path: Path) -> None:
    slow = Hook(delay=20)
    try:
        plan = items_plan(tmp_path / "plan", notify(slow.url, "timeout = 1\n"))
        began = time.monotonic()
        result = run_plan(load_plan(plan), workdir=tmp_path / "w")
        wall = time.monotonic() - began
    finally:
        slow.close()
    assert result.outcome == "succeeded" and int(result.exit_code) == 0, result.message
    assert wall - result.seconds < 1 + 2.0, f"the run took {wall:.1f}s for {result.seconds:.1f}s of phases"
    notices = journal_notices(result)
    assert {e["event"] for e in notices} == {"not_posted"}
    assert any("no answer within 1 s" in e["error"] or "Timeout" in e["error"] for e in notices), notices


def test_the_webhook_url_from_the_environment_is_a_secret(
    items_db: ItemsDb, tmp_path: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SS_TEST_HOOK", f"{hook.url}/T0000/B0000/xoxb-s3cret-hook-token")
    result = run_plan(load_plan(items_plan(tmp_path / "plan", notify("${SS_TEST_HOOK}"))), workdir=tmp_path / "w")
    assert result.outcome == "succeeded"
    assert hook.events() == ["started", "finished"] and hook.bodies[0]["path"].endswith("xoxb-s3cret-hook-token")
    for path in Path(result.journal).parent.iterdir():
        assert "xoxb-s3cret-hook-token" not in path.read_text(encoding="utf-8"), path


def test_unknown_events_are_a_plan_error(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "plan", notify("http://127.0.0.1:9/hook", 'events = ["started", "done"]\n'))
    done = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert done.exit_code == 2
    assert "notify[0].events[1]" in done.output and "'finished'" in done.output
