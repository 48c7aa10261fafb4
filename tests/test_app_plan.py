"""Plan sections of the application side: good ones load, bad ones are one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from safeshift.app.maintenance import (
    CommandHook,
    FileHook,
    HttpHook,
    build_maintenance,
    maintenance_kinds,
)
from safeshift.app.sections import check_app_environment
from safeshift.config.triggers import Trigger
from safeshift.errors import ConfigError
from safeshift.loading import load_plan

BASE = """
[database]
url = "sqlite:///app.db"

[[checks.post]]
name = "users without a family"
kind = "sql"
query = "SELECT 0"
expect = "== 0"
"""

GOOD = BASE + """
[maintenance]
kind = "file"
path = "/tmp/maintenance_mode"

[[smoke]]
name = "health"
url = "${APP_URL}/health"
expect_json = { status = "ok" }

[[smoke]]
name = "login"
method = "post"
url = "${APP_URL}/api/v1/users/login"
form = { username = "user0000001", password = "${APP_PASSWORD}" }
capture = { token = "json.access_token" }

[[smoke]]
name = "me"
url = "${APP_URL}/api/v1/users/me"
headers = { Authorization = "Bearer {token}" }
expect_json = { username = "user0000001", "profile.id" = 1 }
budget_ms = 500

[watch]
duration = 30
interval = 2
probes = ["health", "me"]
log_file = "app.log"
checks = ["users without a family"]
triggers = ["error_rate > 1%", "p95_ms > 500 for 3 ticks", "log_errors > 0", "checks_failed > 0"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "safeshift.toml"
    path.write_text(text)
    return path


def test_good_sections_load(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, GOOD))
    assert [p.name for p in plan.smoke] == ["health", "login", "me"]
    assert plan.smoke[1].method == "POST"
    assert plan.smoke[2].expect_json == {"username": "user0000001", "profile.id": 1}
    assert plan.watch is not None
    assert plan.watch.parsed_triggers()[1] == Trigger("p95_ms > 500 for 3 ticks", "p95_ms", ">", 500.0, 3)
    assert plan.watch.parsed_triggers()[0].threshold == pytest.approx(0.01)
    hook = build_maintenance(plan.maintenance, base_dir=plan.base_dir)
    assert isinstance(hook, FileHook)


def test_no_app_sections_is_fine(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, BASE))
    assert plan.maintenance is None and plan.smoke == [] and plan.watch is None
    assert build_maintenance(plan.maintenance) is None


def test_default_triggers_follow_the_runbook(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, GOOD.replace(
        'triggers = ["error_rate > 1%", "p95_ms > 500 for 3 ticks", "log_errors > 0", "checks_failed > 0"]\n', ""
    )))
    assert plan.watch is not None
    assert plan.watch.trigger_texts() == ["error_rate > 1%", "p95_ms > 500 for 3 ticks", "log_errors > 0", "checks_failed > 0"]


def test_registry_has_the_three_kinds() -> None:
    assert maintenance_kinds() == {"file": FileHook, "command": CommandHook, "http": HttpHook}


BAD = {
    "trigger syntax": (
        GOOD.replace('"log_errors > 0",', '"log errors above zero",'),
        "safeshift.toml: watch.triggers[2]: expected 'metric op number [for N ticks]'",
    ),
    "trigger metric": (
        GOOD.replace('"log_errors > 0",', '"latency > 3",'),
        "safeshift.toml: watch.triggers[2]: unknown metric 'latency'",
    ),
    "trigger percent on latency": (
        GOOD.replace('"p95_ms > 500 for 3 ticks"', '"p95_ms > 50%"'),
        "safeshift.toml: watch.triggers[1]: '%' only applies to rates",
    ),
    "trigger zero ticks": (
        GOOD.replace("for 3 ticks", "for 0 ticks"),
        "safeshift.toml: watch.triggers[1]: 'for N ticks' needs N >= 1",
    ),
    "log trigger without log": (
        GOOD.replace('log_file = "app.log"\n', ""),
        "safeshift.toml: watch: trigger 'log_errors > 0' needs log_file",
    ),
    "interval longer than duration": (
        GOOD.replace("interval = 2", "interval = 60"),
        "safeshift.toml: watch: interval (60.0s) is longer than duration (30.0s)",
    ),
    "bad regex": (
        GOOD.replace('log_file = "app.log"', 'log_file = "app.log"\nlog_pattern = "ERROR("'),
        "safeshift.toml: watch.log_pattern: expected a regular expression",
    ),
    "watch names unknown probe": (
        GOOD.replace('probes = ["health", "me"]', 'probes = ["health", "mee"]'),
        "safeshift.toml: watch.probes[1]: no smoke probe named 'mee' (known: health, login, me)",
    ),
    "watch names unknown check": (
        GOOD.replace('checks = ["users without a family"]', 'checks = ["users without family"]'),
        "safeshift.toml: watch.checks[0]: no post-check named 'users without family'",
    ),
    "unknown probe key": (
        GOOD.replace("budget_ms = 500", "budget = 500"),
        "safeshift.toml: smoke[2].budget: unknown key",
    ),
    "probe without url": (
        GOOD.replace('url = "${APP_URL}/health"\n', ""),
        "safeshift.toml: smoke[0].url: required key is missing",
    ),
    "probe url without scheme": (
        GOOD.replace('url = "${APP_URL}/health"', 'url = "localhost/health"'),
        "safeshift.toml: smoke[0].url: expected an http:// or https:// URL",
    ),
    "bad method": (
        GOOD.replace('method = "post"', 'method = "FETCH"'),
        "safeshift.toml: smoke[1].method: input should be",
    ),
    "form and json": (
        GOOD.replace('capture = { token', 'json = { a = 1 }\ncapture = { token'),
        "safeshift.toml: smoke[1]: probe 'login' has both form and json",
    ),
    "bad capture": (
        GOOD.replace('"json.access_token"', '"cookie.session"'),
        "safeshift.toml: smoke[1].capture: capture 'token': expected 'json.path.to.value'",
    ),
    "placeholder not captured": (
        GOOD.replace("Bearer {token}", "Bearer {tokne}"),
        "safeshift.toml: smoke: probe 'me' uses {tokne} in headers.Authorization but no earlier probe captures it (captured: token)",
    ),
    "duplicate probe names": (
        GOOD.replace('name = "me"', 'name = "login"'),
        "safeshift.toml: smoke: probe name 'login' is used twice",
    ),
    "status out of range": (
        GOOD.replace("budget_ms = 500", "expect_status = 99"),
        "safeshift.toml: smoke[2].expect_status:",
    ),
    "unknown maintenance kind": (
        GOOD.replace('kind = "file"', 'kind = "flag"'),
        "safeshift.toml: maintenance.kind: unknown kind 'flag' (known: command, file, http)",
    ),
    "missing maintenance key": (
        GOOD.replace('path = "/tmp/maintenance_mode"', ""),
        "safeshift.toml: maintenance.path: required key is missing",
    ),
    "key of another kind": (
        GOOD.replace('path = "/tmp/maintenance_mode"', 'path = "/tmp/m"\non = "touch /tmp/m"'),
        "safeshift.toml: maintenance.on: unknown key",
    ),
    "bad command line": (
        GOOD.replace('kind = "file"\npath = "/tmp/maintenance_mode"', "kind = \"command\"\non = \"touch 'x\"\noff = \"rm x\""),
        "safeshift.toml: maintenance.on: expected a command line",
    ),
    "http without off": (
        GOOD.replace('kind = "file"\npath = "/tmp/maintenance_mode"', 'kind = "http"\non = { url = "http://lb/on" }'),
        "safeshift.toml: maintenance.off: required key is missing",
    ),
    "http with unknown request key": (
        GOOD.replace(
            'kind = "file"\npath = "/tmp/maintenance_mode"',
            'kind = "http"\non = { url = "http://lb/on", body = "x" }\noff = { url = "http://lb/off" }',
        ),
        "safeshift.toml: maintenance.on.body: unknown key",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sections_are_one_line_config_errors(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    with pytest.raises(ConfigError) as info:
        load_plan(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected), message


def test_watch_without_anything_to_watch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^safeshift.toml: watch: nothing to watch"):
        load_plan(write(tmp_path, BASE + "\n[watch]\nduration = 10\n"))


def test_watch_probe_triggers_need_probes(tmp_path: Path) -> None:
    text = BASE + '\n[watch]\nduration = 10\nlog_file = "a.log"\ntriggers = ["error_rate > 1%"]\n'
    with pytest.raises(ConfigError, match=r"^safeshift.toml: watch.triggers: error_rate needs probes"):
        load_plan(write(tmp_path, text))
    plan = load_plan(write(tmp_path, BASE + '\n[watch]\nduration = 10\nlog_file = "a.log"\n'))
    assert plan.watch is not None and "log_errors > 0" in plan.watch.trigger_texts()


def test_check_app_environment_names_the_missing_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace('path = "/tmp/maintenance_mode"', 'path = "${SS_FLAG_DIR}/maintenance_mode"').replace(
        'log_file = "app.log"', 'log_file = "${SS_APP_LOG}"'
    )
    for name in ("SS_FLAG_DIR", "APP_URL", "APP_PASSWORD", "SS_APP_LOG"):
        monkeypatch.delenv(name, raising=False)
    plan = load_plan(write(tmp_path, text))  # loading needs none of them: only running does
    expected = [
        ("SS_FLAG_DIR", "safeshift.toml: maintenance.path: environment variable SS_FLAG_DIR is not set"),
        ("APP_URL", "safeshift.toml: smoke 'health' url: environment variable APP_URL is not set"),
        ("APP_PASSWORD", "safeshift.toml: smoke 'login' form.password: environment variable APP_PASSWORD is not set"),
        ("SS_APP_LOG", "safeshift.toml: watch.log_file: environment variable SS_APP_LOG is not set"),
    ]
    for name, message in expected:
        with pytest.raises(ConfigError) as info:
            check_app_environment(plan)
        assert str(info.value) == message
        monkeypatch.setenv(name, str(tmp_path) if name != "APP_URL" else "http://127.0.0.1:9")
    check_app_environment(plan)
