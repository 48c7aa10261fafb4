"""HTTP against a tiny local server: the http maintenance hook, and secrets that must stay masked.

The server echoes every request (headers and body) in its answer, the worst case for
leaking: whatever safeshift sends comes back in the text it reports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from safeshift.app.maintenance import HttpHook, MaintenanceError, build_maintenance
from safeshift.app.probes import (
    check_probe_environment,
    describe_probes,
    failure_message,
    run_probes,
)
from safeshift.app.watch import Watcher
from safeshift.config.models import MaintenanceSpec, SmokeProbe, WatchSection
from safeshift.errors import ConfigError
from safeshift.loading import load_plan
from safeshift.secrets import redact, register_secret


class EchoServer:
    """Records requests; answers 200 with the request echoed, or the status set per path."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status: dict[str, int] = {}
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                seen = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                echo.requests.append(seen)
                payload = json.dumps({"echo": seen, "access_token": "tok-" + "9" * 24}).encode()
                self.send_response(echo.status.get(self.path, 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-Id", "req-12345")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def http_hook(echo: EchoServer, **extra: Any) -> HttpHook:
    spec = {
        "kind": "http",
        "on": {"method": "put", "url": f"{echo.url}/maintenance", "headers": {"Authorization": "Bearer ${SS_LB_TOKEN}"},
               "json": {"enabled": True, "reason": "schema change"}},
        "off": {"method": "DELETE", "url": f"{echo.url}/maintenance", "headers": {"Authorization": "Bearer ${SS_LB_TOKEN}"}},
        **extra,
    }
    hook = build_maintenance(MaintenanceSpec.model_validate(spec))
    assert isinstance(hook, HttpHook)
    return hook


def test_http_hook_on_and_off(echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_LB_TOKEN", "lb-token-4f1c2e")
    hook = http_hook(echo)
    hook.on()
    hook.off()
    hook.off()  # idempotent as far as safeshift goes: the same request again
    assert [(r["method"], r["path"]) for r in echo.requests] == [
        ("PUT", "/maintenance"), ("DELETE", "/maintenance"), ("DELETE", "/maintenance")
    ]
    assert echo.requests[0]["headers"]["Authorization"] == "Bearer lb-token-4f1c2e"
    assert json.loads(echo.requests[0]["body"]) == {"enabled": True, "reason": "schema change"}
    assert hook.is_on() is None
    assert hook.describe() == [
        f"maintenance on: PUT {echo.url}/maintenance headers: Authorization: Bearer *** "
        "json: {'enabled': True, 'reason': 'schema change'} (expect 2xx)",
        f"maintenance off: DELETE {echo.url}/maintenance headers: Authorization: Bearer *** (expect 2xx)",
    ]


def test_http_hook_errors_are_one_line_and_masked(echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "lb-canary-8d0e55aa"
    monkeypatch.setenv("SS_LB_TOKEN", canary)
    hook = http_hook(echo)
    echo.status["/maintenance"] = 409  # the echo in the body carries the token
    with pytest.raises(MaintenanceError) as info:
        hook.on()
    message = str(info.value)
    assert message.startswith(f"maintenance on: PUT {echo.url}/maintenance answered 409, expected 2xx: ")
    assert canary not in message and "\n" not in message
    echo.__exit__()
    with pytest.raises(MaintenanceError, match=r"^maintenance off: DELETE .* failed: ConnectError: "):
        hook.off()


def test_http_hook_without_its_env_var(echo: EchoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SS_LB_TOKEN", raising=False)
    hook = http_hook(echo)
    with pytest.raises(MaintenanceError, match=r"^maintenance on: maintenance.on.headers.Authorization: environment variable SS_LB_TOKEN is not set$"):
        hook.on()
    assert "environment variable SS_LB_TOKEN is not set" in hook.describe()[0]
    assert echo.requests == []


def test_canary_secret_never_leaks(echo: EchoServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A key from the environment in a header, echoed back by the server, in every output."""
    canary = "canary-ss-app-5b2f9e71"
    monkeypatch.setenv("SS_API_KEY", canary)
    monkeypatch.setenv("SS_ECHO_URL", echo.url)
    plan_file = tmp_path / "safeshift.toml"
    plan_file.write_text(
        """
[database]
url = "sqlite:///x.db"

[[smoke]]
name = "login"
method = "POST"
url = "${SS_ECHO_URL}/login"
headers = { X-Api-Key = "${SS_API_KEY}" }
json = { user = "ops", key = "${SS_API_KEY}" }
capture = { token = "json.access_token", request_id = "header.X-Request-Id", code = "status" }

[[smoke]]
name = "me"
url = "${SS_ECHO_URL}/me?request={request_id}"
headers = { Authorization = "Bearer {token}", X-Api-Key = "${SS_API_KEY}" }
expect_body = "not in the answer"
"""
    )
    plan = load_plan(plan_file)
    assert redact(f"key {canary}") == "key ***"  # registered at plan load already
    variables: dict[str, str] = {}
    results = run_probes(plan.smoke, client, variables)
    assert [r.passed for r in results] == [True, False]
    assert echo.requests[1]["headers"]["X-Api-Key"] == canary  # it was really sent
    assert echo.requests[1]["path"] == "/me?request=req-12345"
    assert variables == {"token": "tok-" + "9" * 24, "request_id": "req-12345", "code": "200"}
    outputs = [
        json.dumps([r.to_dict() for r in results]),
        " ".join(r.message for r in results),
        failure_message(results) or "",
        "\n".join(describe_probes(plan.smoke)),
    ]
    watch = Watcher(WatchSection(duration=0.1, interval=0.05, probes=["me"]), plan.smoke, client, variables).run()
    outputs.append(json.dumps(watch.to_dict()))
    outputs.append(watch.triggered or "")
    for text in outputs:
        assert canary not in text
        assert variables["token"] not in text
    assert "answer does not contain 'not in the answer'" in results[1].message
    assert "***" in results[1].message  # the echoed key, masked
    assert watch.triggered is not None and watch.triggered.startswith("error_rate > 1%")


def test_probe_with_a_missing_env_var(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SS_NOT_SET_PW", raising=False)
    probe = SmokeProbe.model_validate(
        {"name": "login", "method": "POST", "url": "http://127.0.0.1:9/login", "form": {"password": "${SS_NOT_SET_PW}"}}
    )
    with pytest.raises(ConfigError, match=r"^smoke 'login' form.password: environment variable SS_NOT_SET_PW is not set$"):
        check_probe_environment([probe])
    results = run_probes([probe], client, {})
    assert results[0].message == "smoke 'login' form.password: environment variable SS_NOT_SET_PW is not set"
    assert results[0].status is None and results[0].latency_ms is None
    with_default = SmokeProbe.model_validate({"name": "h", "url": "${SS_NOT_SET_URL:-http://127.0.0.1:9}/health"})
    check_probe_environment([with_default])


def test_expectations_and_captures(echo: EchoServer, client: httpx.Client) -> None:
    probe = SmokeProbe.model_validate({
        "name": "echo",
        "url": f"{echo.url}/items",
        "expect_json": {"echo.method": "GET", "echo.path": "/items"},
        "capture": {"rid": "header.X-Request-Id"},
    })
    variables: dict[str, str] = {}
    assert run_probes([probe], client, variables)[0].passed
    wrong = probe.model_copy(update={"expect_json": {"echo.method": "POST"}})
    assert run_probes([wrong], client, {})[0].message == 'json echo.method is "GET", expected "POST"'
    missing = probe.model_copy(update={"expect_json": {"echo.nothing.here": 1}})
    assert run_probes([missing], client, {})[0].message == "json echo.nothing.here is missing, expected 1"
    no_header = probe.model_copy(update={"capture": {"x": "header.X-Absent"}})
    assert run_probes([no_header], client, {})[0].message == "cannot capture header.X-Absent: no X-Absent header in the answer"
    echo.status["/slow"] = 200
    budget = SmokeProbe.model_validate({"name": "b", "url": f"{echo.url}/slow", "budget_ms": 0.001})
    assert run_probes([budget], client, {})[0].message.endswith("budget 0.001 ms")


def test_a_shortened_body_never_shows_half_a_secret(echo: EchoServer, client: httpx.Client) -> None:
    canary = "halfcanary-0c9d8e7f6a5b4c3d2e1f"
    register_secret(canary)
    # the echoed path puts the secret across the point where the body is cut for the message
    prefix = len('{"echo": {"method": "GET", "path": "/')
    path = "p" * (150 - prefix - len("?k=")) + f"?k={canary}"
    probe = SmokeProbe.model_validate({"name": "cut", "url": f"{echo.url}/{path}", "expect_body": "absent"})
    result = run_probes([probe], client, {})[0]
    assert not result.passed and result.message.endswith("…")
    assert canary[:8] not in result.message and canary[:8] not in result.request
