"""Every credential-bearing part of a URL is a secret: the password, password-like query
parameters of any driver, and a literal default written into an ``${VAR:-...}`` reference."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from helpers import ITEMS_URL_ENV, ItemsDb, items_plan
from safeshift import api
from safeshift.config.env import interpolate_url
from safeshift.errors import ConfigError, ConnectError, ExitCode
from safeshift.secrets import redact, register_url, register_url_text, safe_url


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://app:${PW:-Pw77secret}@db/app",  # a literal default is an inline password
        "postgresql://app@db/app?password=Pw77secret",
        "mysql+pymysql://app@db/app?passwd=Pw77secret",
        "postgresql://app@db/app?sslpassword=${X:-Pw77secret}",
    ],
)
def test_inline_credentials_are_refused_defaults_and_query_too(raw: str) -> None:
    with pytest.raises(ConfigError, match="inline password"):
        interpolate_url(raw, "safeshift.toml")


def test_credentials_from_the_environment_in_the_query_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QPW", "Query-Pw-8842")
    url = interpolate_url("postgresql://app@db/app?password=${QPW}&application_name=x", "safeshift.toml")
    register_url(url)
    assert "Query-Pw-8842" not in safe_url(url) and "application_name=x" in safe_url(url)
    assert redact(f"error: {url.render_as_string(hide_password=False)}").count("Query-Pw-8842") == 0


def test_probe_url_credentials_are_masked() -> None:
    register_url_text("http://ops:Probe-Pw-5521@app.local/health?api_key=Key-7733-abc&page=2")
    shown = redact("GET http://ops:Probe-Pw-5521@app.local/health?api_key=Key-7733-abc&page=2")
    assert "Probe-Pw-5521" not in shown and "Key-7733-abc" not in shown and "page=2" in shown


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_a_query_password_never_reaches_output_journal_or_report(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Query-Pw-6170"
    url = items_db.url.render_as_string(hide_password=False)
    url = url + ("&" if "?" in url else "?") + "password=" + secret
    monkeypatch.setenv(ITEMS_URL_ENV, url)  # PostgreSQL's trust auth ignores it; MariaDB's root refuses it
    plan = items_plan(tmp_path / "plan")
    result = api.run_plan(plan, workdir=tmp_path / "w")
    expected = ExitCode.OK if items_db.kind == "postgresql" else ExitCode.USAGE  # refused: the error names the URL
    assert result.exit_code == expected, result.message
    shown = str(result.to_dict())
    assert secret not in shown and "password=%2A%2A%2A" in shown, [line for line in shown.split(", ") if secret in line]
    try:
        status = str(api.status(plan, workdir=tmp_path / "w").to_dict())
    except ConnectError as exc:  # MariaDB: the same refusal, as one line
        status = exc.message
    assert secret not in status
    for path in (tmp_path / "w").rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".md"):
            assert secret not in path.read_text(), path
    assert make_url(url).query  # the URL did carry it
