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


def test_the_user_name_is_masked_where_it_names_the_user_not_inside_paths() -> None:
    url = make_url("postgresql://ops_admin_77:Pw-1234-xyz@db.local/app")
    register_url(url)
    assert safe_url(url) == "postgresql://***:***@db.local/app"
    shown = redact(
        'FATAL: password authentication failed for user "ops_admin_77"; '
        "(1045, \"Access denied for user 'ops_admin_77'@'10.0.0.9'\"); mysql://ops_admin_77@db/x; "
        "backup in /home/ops_admin_77/backups"
    )
    assert shown.count("ops_admin_77") == 1 and "/home/ops_admin_77/backups" in shown, shown
    assert redact("ops_admin_77") == "***"  # a JSON value that is the name alone


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_a_user_with_a_password_is_never_named_in_output_journal_or_report(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real login with a password on each server: neither its name nor its password is shown."""
    import sqlalchemy as sa

    user, password = "ss_login_4471", "Login-Pw-9932"
    admin = items_db.url
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    database = admin.database
    with engine.connect() as conn:
        if items_db.kind == "postgresql":
            if conn.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'").first():
                conn.exec_driver_sql(f"DROP OWNED BY {user}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {user}")
            # CREATEDB: the proof's scratch copy (preflight refuses a login that cannot make one)
            conn.exec_driver_sql(f"CREATE ROLE {user} LOGIN CREATEDB PASSWORD '{password}'")
            conn.exec_driver_sql(f'GRANT ALL ON DATABASE "{database}" TO {user}')
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO {user}')
        else:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
            conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
            conn.execute(sa.text(f"GRANT ALL ON *.* TO '{user}'@'%'"))
    try:
        if items_db.kind == "postgresql":
            with sa.create_engine(admin).begin() as conn:  # the items tables belong to the login now
                for table in sa.inspect(conn).get_table_names():
                    conn.exec_driver_sql(f'ALTER TABLE "{table}" OWNER TO {user}')
        login = admin.set(username=user, password=password, host="127.0.0.1")
        monkeypatch.setenv(ITEMS_URL_ENV, login.render_as_string(hide_password=False))
        plan = items_plan(tmp_path / "plan")
        result = api.run_plan(plan, workdir=tmp_path / "w")
        assert result.exit_code == ExitCode.OK, result.message
        shown = str(result.to_dict()) + str(api.status(plan, workdir=tmp_path / "w").to_dict())
        for secret in (user, password):
            assert secret not in shown
            for path in (tmp_path / "w").rglob("*"):
                if path.is_file() and path.suffix in (".jsonl", ".json", ".md"):
                    assert secret not in path.read_text(), path
    finally:
        with engine.connect() as conn:
            if items_db.kind == "postgresql":
                conn.exec_driver_sql(f'ALTER DATABASE "{database}" OWNER TO postgres')
                conn.exec_driver_sql(f"REASSIGN OWNED BY {user} TO postgres")
                conn.exec_driver_sql(f"DROP OWNED BY {user}")
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS {user}")
            else:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        engine.dispose()
