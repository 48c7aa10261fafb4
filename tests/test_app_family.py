"""The demo application on a real port, with the family database before and after 0002.

Probes go over real HTTP (httpx against uvicorn); the watch windows use short intervals.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from sqlalchemy.engine import URL

from helpers import EXAMPLES
from safeshift.app.maintenance import build_maintenance
from safeshift.app.probes import failure_message, run_probes
from safeshift.app.view import live_watch, probe_table, watch_table
from safeshift.app.watch import Watcher, WatchSample
from safeshift.config.models import SmokeProbe, WatchSection
from safeshift.demo import prepare_family_database
from safeshift.demo.family_app import RunningApp, start_app
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan, parse_plan
from safeshift.migrators.alembic import AlembicMigrator

PASSWORD = "family-demo-pw-7Qx"


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[URL, URL]:
    """(before, after): the chores-tracker at 0001, and one migrated to 0002 like demo_family does."""
    home = tmp_path_factory.mktemp("family-app")
    before, _ = prepare_family_database("sqlite", home, 500, name="before")
    after, _ = prepare_family_database("sqlite", home, 500, name="after")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAMILY_DATABASE_URL", after.render_as_string(hide_password=False))
        plan = load_plan(EXAMPLES / "family" / "safeshift.toml")
    engine = get_dialect(after).create_engine()
    try:
        with engine.connect() as conn:
            AlembicMigrator(plan).upgrade(conn, "head")
            if conn.in_transaction():
                conn.commit()
    finally:
        engine.dispose()
    return before, after


@pytest.fixture
def maintenance_file(tmp_path: Path) -> Path:
    return tmp_path / "maintenance_mode"


@pytest.fixture
def app(databases: tuple[URL, URL], maintenance_file: Path, tmp_path: Path) -> Iterator[RunningApp]:
    with start_app(databases[1], maintenance_file, password=PASSWORD, log_file=tmp_path / "app.log") as running:
        yield running


def chain(monkeypatch: pytest.MonkeyPatch, url: str, password: str = PASSWORD) -> list[SmokeProbe]:
    """The family example's smoke chain, parsed from plan text as a user writes it."""
    monkeypatch.setenv("SS_APP_URL", url)
    monkeypatch.setenv("SS_APP_PASSWORD", password)
    plan = parse_plan(
        {
            "database": {"url": "sqlite:///x.db"},
            "smoke": [
                {"name": "health", "url": "${SS_APP_URL}/health", "expect_json": {"status": "ok"}},
                {
                    "name": "login",
                    "method": "POST",
                    "url": "${SS_APP_URL}/api/v1/users/login",
                    "form": {"username": "user0000001", "password": "${SS_APP_PASSWORD}"},
                    "expect_json": {"token_type": "bearer"},
                    "capture": {"token": "json.access_token"},
                },
                {
                    "name": "me",
                    "url": "${SS_APP_URL}/api/v1/users/me",
                    "headers": {"Authorization": "Bearer {token}"},
                    "expect_json": {"username": "user0000001", "id": 1},
                    "capture": {"user_id": "json.id"},
                    "budget_ms": 5000,
                },
                {
                    "name": "family",
                    "url": "${SS_APP_URL}/api/v1/families/me",
                    "headers": {"Authorization": "Bearer {token}"},
                    "expect_body": "invite_code",
                },
            ],
        },
        Path("safeshift.toml"),
    )
    return plan.smoke


def test_probe_chain_login_token_me_family(app: RunningApp, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    variables: dict[str, str] = {}
    results = run_probes(chain(monkeypatch, app.url), client, variables)
    assert [r.name for r in results] == ["health", "login", "me", "family"]
    assert all(r.passed for r in results), [r.to_dict() for r in results]
    assert [r.status for r in results] == [200, 200, 200, 200]
    assert all(r.latency_ms is not None and r.latency_ms > 0 for r in results)
    assert set(variables) == {"token", "user_id"} and variables["user_id"] == "1"
    # the token and the password are secrets: never in what a result reports
    dumped = str([r.to_dict() for r in results])
    assert variables["token"] not in dumped and PASSWORD not in dumped
    assert failure_message(results) is None


def test_families_endpoint_fails_before_the_migration(
    databases: tuple[URL, URL], maintenance_file: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_app(databases[0], maintenance_file, password=PASSWORD) as before:
        results = run_probes(chain(monkeypatch, before.url), client, {})
    assert [r.passed for r in results] == [True, True, True, False]
    assert results[-1].status == 500
    assert failure_message(results) == (
        "smoke probe 'family' failed: expected status 200, got 500: {\"detail\":\"database error\"}"
    )


def test_a_failed_probe_stops_the_chain_and_says_why(app: RunningApp, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    results = run_probes(chain(monkeypatch, app.url, password="wrong-password-123"), client, {})
    assert [r.name for r in results] == ["health", "login"]
    assert not results[-1].passed and results[-1].status == 401
    assert "expected status 200, got 401" in results[-1].message
    assert "wrong-password-123" not in str(results[-1].to_dict())


def test_unreachable_app_is_a_failed_probe(client: httpx.Client, monkeypatch: pytest.MonkeyPatch, app: RunningApp) -> None:
    url = app.url
    app.stop()
    results = run_probes(chain(monkeypatch, url), client, {})
    assert len(results) == 1 and not results[0].passed and results[0].status is None
    assert results[0].message.startswith("request failed: ConnectError")


def test_maintenance_file_makes_the_app_answer_503(
    app: RunningApp, client: httpx.Client, maintenance_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safeshift.config.models import MaintenanceSpec

    hook = build_maintenance(MaintenanceSpec.model_validate({"kind": "file", "path": str(maintenance_file)}))
    assert hook is not None
    hook.on()
    try:
        results = run_probes(chain(monkeypatch, app.url), client, {})
        assert results[0].status == 503 and not results[0].passed
        assert client.get(f"{app.url}/api/v1/users/me").status_code == 503
    finally:
        hook.off()
    assert all(r.passed for r in run_probes(chain(monkeypatch, app.url), client, {}))


def test_healthy_watch_does_not_trigger(app: RunningApp, client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    probes = chain(monkeypatch, app.url)
    variables: dict[str, str] = {}
    assert all(r.passed for r in run_probes(probes, client, variables))
    section = WatchSection(
        duration=0.4, interval=0.05, probes=["health", "me", "family"], log_file=str(tmp_path / "app.log"),
        triggers=["error_rate > 1%", "p95_ms > 5000 for 3 ticks", "log_errors > 0"],
    )
    ticks: list[WatchSample] = []
    result = Watcher(section, probes, client, variables, on_tick=ticks.append).run()
    assert result.passed and result.triggered is None, result.to_dict()
    assert 2 <= len(result.samples) <= 8 and ticks == result.samples
    last = result.samples[-1]
    assert last.requests_total == 3 * len(result.samples) and last.failures_total == 0
    assert last.error_rate == 0.0 and last.p95_ms is not None and last.log_errors == 0
    data = result.to_dict()
    assert data["passed"] is True and data["failures"] == 0
    assert variables["token"] not in str(data)


def test_broken_release_trips_the_error_rate_trigger(
    databases: tuple[URL, URL], maintenance_file: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "broken.log"
    # the smoke chain makes 3 API calls; they pass, and everything after them fails
    with start_app(databases[1], maintenance_file, broken=True, broken_after=3, password=PASSWORD, log_file=log) as app:
        probes = chain(monkeypatch, app.url)
        variables: dict[str, str] = {}
        assert all(r.passed for r in run_probes(probes, client, variables))
        section = WatchSection(duration=5, interval=0.05, log_file=str(log))  # the runbook's default triggers
        result = Watcher(section, probes, client, variables).run()
    assert result.triggered is not None
    assert result.triggered.startswith("error_rate > 1%: error_rate was 75% on tick 1")
    assert len(result.samples) == 1
    sample = result.samples[0]
    assert (sample.requests, sample.failures) == (4, 3)  # health still answers: only the API is broken
    assert any("expected status 200, got 500" in p for p in sample.problems)
    assert result.to_dict()["passed"] is False


def test_the_broken_switch_can_flip_while_running(app: RunningApp, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    probes = chain(monkeypatch, app.url)
    variables: dict[str, str] = {}
    assert all(r.passed for r in run_probes(probes, client, variables))
    section = WatchSection(duration=10, interval=0.05, probes=["me"], triggers=["failures > 0 for 2 ticks"])

    def on_tick(sample: WatchSample) -> None:
        if sample.tick == 2:
            app.broken = True

    result = Watcher(section, probes, client, variables, on_tick=on_tick).run()
    assert result.triggered == "failures > 0 for 2 ticks: failures was 1, 1 on ticks 3-4"


def test_slow_release_trips_the_latency_trigger(
    databases: tuple[URL, URL], maintenance_file: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_app(databases[1], maintenance_file, slow_ms=120, password=PASSWORD) as app:
        probes = chain(monkeypatch, app.url)
        variables: dict[str, str] = {}
        assert all(r.passed for r in run_probes(probes, client, variables))
        section = WatchSection(duration=10, interval=0.05, probes=["me"], triggers=["p95_ms > 100 for 2 ticks"])
        result = Watcher(section, probes, client, variables).run()
    assert result.triggered is not None and result.triggered.startswith("p95_ms > 100 for 2 ticks: p95_ms was ")
    assert len(result.samples) == 2


def test_app_log_errors_reach_the_watch(
    databases: tuple[URL, URL], maintenance_file: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    with start_app(databases[1], maintenance_file, broken=True, broken_after=3, password=PASSWORD, log_file=log) as app:
        probes = chain(monkeypatch, app.url)
        variables: dict[str, str] = {}
        run_probes(probes, client, variables)
        section = WatchSection(duration=5, interval=0.05, probes=["health"], log_file=str(log))

        def on_tick(sample: WatchSample) -> None:
            client.get(f"{app.url}/api/v1/users/me", headers={"Authorization": f"Bearer {variables['token']}"})

        result = Watcher(section, probes, client, variables, on_tick=on_tick).run()
    assert result.triggered == "log_errors > 0: log_errors was 1 on tick 2"
    assert "ERROR GET /api/v1/users/me 500" in log.read_text()


def test_rich_views_render(app: RunningApp, client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    probes = chain(monkeypatch, app.url)
    variables: dict[str, str] = {}
    results = run_probes(probes, client, variables)
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    console.print(probe_table(results))
    section = WatchSection(duration=0.1, interval=0.05, probes=["me"])
    with live_watch(console, planned_ticks=2) as on_tick:
        result = Watcher(section, probes, client, variables, on_tick=on_tick).run()
    console.print(watch_table(result.samples))
    text = out.getvalue()
    assert "family" in text and "error rate" in text and "0.00%" in text
    assert variables["token"] not in text and PASSWORD not in text
