"""The command migrator, driven by tests/fixtures/fake_migrate.py standing in for Prisma & co.

The tool must get the URL from its environment only, its output must come back redacted,
and a failing tool must fail the step with its own last error line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from helpers import drop_scratch, scratch_url
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import parse_plan
from safeshift.migrators import get_migrator, output_of
from safeshift.migrators.command import CommandFailed, CommandMigrator, tool_url
from safeshift.run import run_plan
from safeshift.secrets import MASK, register_secret

FAKE = Path(__file__).resolve().parent / "fixtures" / "fake_migrate.py"
PY = sys.executable


def command_plan(folder: Path, url: str = "${APP_DB_URL}", **migration: Any) -> Path:
    """Write a plan using the fake tool; returns its path."""
    keys = {
        "up": [PY, str(FAKE), "up", "--to", "{target}"],
        "down": [PY, str(FAKE), "down", "--to", "{revision}"],
        "current": [PY, str(FAKE), "current"],
        **migration,
    }
    lines = ["[database]", f'url = "{url}"', "", "[migration]", 'engine = "command"']
    for key, value in keys.items():
        if value is not None:
            lines.append(f"{key} = {_toml(value)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "safeshift.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def migrator_for(path: Path) -> CommandMigrator:
    import tomllib

    plan = parse_plan(tomllib.loads(path.read_text()), path)
    migrator = get_migrator(plan)
    assert isinstance(migrator, CommandMigrator)
    return migrator


@pytest.fixture(params=["sqlite", "postgresql"])
def tool_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[URL, Engine]]:
    """A scratch database the fake tool can reach (it speaks SQLite and PostgreSQL)."""
    kind = str(request.param)
    url = scratch_url(kind, tmp_path, prefix="ss_cmd")
    if kind == "postgresql":
        url = url.set(password="canary-pw-7391")  # trust auth ignores it; it must never show
    engine = get_dialect(url).create_engine()
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_scratch(kind, url)


def table_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


def test_up_current_down_round_trip(tool_db: tuple[URL, Engine], tmp_path: Path) -> None:
    url, engine = tool_db
    register_secret(url.password or tmp_path.name)  # the SQLite path stands in for a secret
    migrator = migrator_for(command_plan(tmp_path / "plan", target_name="0002_tags"))
    with engine.connect() as conn:
        assert migrator.current(conn) is None
        assert [r.id for r in migrator.pending(conn, "head")] == ["0002_tags"]
        out = migrator.upgrade(conn, "head")
        assert migrator.current(conn) == "0002_tags"
        assert migrator.pending(conn, "head") == []
    assert {"notes", "tags"} <= set(table_names(engine))
    assert out is not None and out["step"] == "up" and out["exit_code"] == 0
    assert out["stdout"].splitlines() == ["applied 0001_notes", "applied 0002_tags"]
    assert out["argv"][-3:] == ["up", "--to", "0002_tags"]
    assert out["env"] == ["DATABASE_URL"]  # the URL went in the environment ...
    assert not any("://" in arg for arg in out["argv"])  # ... never on the command line
    assert "fake_migrate: connecting to" in out["stderr"] and MASK in out["stderr"]
    assert (url.password or tmp_path.name) not in str(out)
    with engine.connect() as conn:
        migrator.downgrade(conn, "0001_notes")
        assert migrator.current(conn) == "0001_notes"
        out = migrator.downgrade(conn, None)
        assert migrator.current(conn) is None
    assert out is not None and out["argv"][-1] == "base"
    assert "notes" not in table_names(engine)


def test_pending_command_lists_revisions(tmp_path: Path) -> None:
    db = tmp_path / "app.sqlite3"
    migrator = migrator_for(command_plan(tmp_path / "plan", pending=[PY, str(FAKE), "pending"]))
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert [(r.id, r.message) for r in migrator.pending(conn, "head")] == [
            ("0001_notes", "create notes"),
            ("0002_tags", "create tags"),
        ]
        migrator.upgrade(conn, "head")
        assert migrator.pending(conn, "head") == []
    engine.dispose()


def test_without_pending_or_target_name_the_tool_decides(tmp_path: Path) -> None:
    migrator = migrator_for(command_plan(tmp_path / "plan"))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn:
        assert [r.id for r in migrator.pending(conn, "head")] == ["head"]
    assert migrator.resolve_target("head") == "head"
    assert migrator.render(None, "head", "sqlite") == [
        f"DATABASE_URL=<database.url> {PY} {FAKE} up --to head"
    ]
    engine.dispose()


def test_custom_url_env_and_string_command(tmp_path: Path) -> None:
    plan = command_plan(
        tmp_path / "plan",
        up=f"{PY} {FAKE} up --url-env APP_URL",
        current=f"{PY} {FAKE} current --url-env APP_URL",
        down=None,
        url_env="APP_URL",
    )
    migrator = migrator_for(plan)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn:
        out = migrator.upgrade(conn, "head")
        assert migrator.current(conn) == "0002_tags"
        with pytest.raises(ConfigError, match=r"migration.down: not set, so engine 'command' cannot downgrade"):
            migrator.downgrade(conn, None)
    assert out is not None and out["env"] == ["APP_URL"]
    engine.dispose()


def test_failing_tool_fails_with_its_last_stderr_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrator = migrator_for(command_plan(tmp_path / "plan"))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    monkeypatch.setenv("FAKE_MIGRATE_FAIL", "up")
    with engine.connect() as conn, pytest.raises(CommandFailed) as info:
        migrator.upgrade(conn, "head")
    assert str(info.value) == "up command failed (exit 1): Error: migration 0001_notes failed: relation is locked"
    out = output_of(info.value)
    assert out is not None and out["exit_code"] == 1
    assert "warming up" in out["stderr"]
    engine.dispose()


def test_timeout_stops_the_tool(tmp_path: Path) -> None:
    plan = command_plan(
        tmp_path / "plan", up=[PY, "-c", "import time; print('working', flush=True); time.sleep(60)"], timeout=0.5
    )
    migrator = migrator_for(plan)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn, pytest.raises(
        CommandFailed, match=r"^up command timed out after 0.5s and was stopped: working$"
    ) as info:
        migrator.upgrade(conn, "head")
    out = output_of(info.value)
    assert out is not None and out["timed_out"] is True
    assert out["seconds"] < 10
    engine.dispose()


def test_target_name_is_verified_after_up(tmp_path: Path) -> None:
    plan = command_plan(tmp_path / "plan", up=[PY, str(FAKE), "up"], target_name="0003_missing")
    migrator = migrator_for(plan)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    with engine.connect() as conn, pytest.raises(
        CommandFailed, match="up command succeeded but the database is at 0002_tags, expected 0003_missing"
    ):
        migrator.upgrade(conn, "head")
    engine.dispose()


@pytest.mark.parametrize(
    ("migration", "message"),
    [
        ({"up": "tool migrate --url $DATABASE_URL"}, "migration.up: no shell runs the command"),
        ({"up": "tool migrate --url ${DATABASE_URL}"}, "migration.up: no shell runs the command"),
        ({"up": "no-such-tool-4711 up"}, "migration.up: program 'no-such-tool-4711' not found on PATH"),
        ({"up": "./bin/migrate up"}, "migration.up: program ./bin/migrate not found (relative to the plan's folder)"),
    ],
)
def test_unusable_commands_are_config_errors(migration: dict[str, Any], message: str, tmp_path: Path) -> None:
    migrator = migrator_for(command_plan(tmp_path / "plan", **migration))
    with pytest.raises(ConfigError) as info:
        migrator.render(None, "head", "sqlite")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("migration", "message"),
    [
        ({"engine": "command", "up": "x"}, "migration: engine 'command' needs key 'current'"),
        ({"engine": "command", "up": "x", "current": "y", "directory": "m"}, "key 'directory' is not used by engine 'command'"),
        ({"engine": "command", "up": "x 'unclosed", "current": "y"}, "migration.up: expected a command line, got no closing quotation"),
        ({"engine": "command", "up": "x", "current": "y", "url_env": "NOT-A-NAME"}, "migration.url_env: expected an environment variable name"),
        ({"engine": "command", "up": "x", "current": "y", "timeout": 0}, "migration.timeout:"),
    ],
)
def test_command_plan_errors(migration: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_plan({"database": {"url": "sqlite:///x.db"}, "migration": migration}, tmp_path / "safeshift.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_tool_url_drops_the_driver_and_anchors_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert tool_url(sa.make_url("postgresql+psycopg://u:p@h:5432/db")) == "postgresql://u:p@h:5432/db"
    assert tool_url(sa.make_url("mariadb+pymysql://u@h/db")) == "mysql://u@h/db"
    assert tool_url(sa.make_url("sqlite:///rel.db")) == f"sqlite:///{tmp_path / 'rel.db'}"


def test_files_are_the_scripts_in_the_plan_folder(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "migrate.py").write_text("print('hi')\n")
    migrator = migrator_for(command_plan(folder, up=[PY, "migrate.py", "up"], current=[PY, "migrate.py", "current"]))
    assert migrator.files() == [folder / "migrate.py"]


# -- through the runner -----------------------------------------------------------------

POST_CHECK = """
[[checks.post]]
name = "notes table is there and empty"
kind = "sql"
query = "SELECT COUNT(*) FROM notes"
expect = "{expect}"
"""


@pytest.mark.parametrize(("expect", "outcome", "code"), [("== 0", "succeeded", 0), ("== 1", "rolled_back", 3)])
def test_run_plan_with_the_command_engine(
    expect: str, outcome: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "app.sqlite3"
    db.touch()
    monkeypatch.setenv("APP_DB_URL", f"sqlite:///{db}")
    path = command_plan(tmp_path / "plan", target_name="0002_tags")
    path.write_text(path.read_text() + POST_CHECK.format(expect=expect))
    import tomllib

    plan = parse_plan(tomllib.loads(path.read_text()), path)
    result = run_plan(plan, workdir=tmp_path / "work")
    assert result.outcome == outcome, result.message
    assert int(result.exit_code) == code
    engine = sa.create_engine(f"sqlite:///{db}")
    names = table_names(engine)
    engine.dispose()
    if outcome == "succeeded":
        assert result.target_revision == "0002_tags" and {"notes", "tags"} <= set(names)
    else:
        assert "notes" not in names and "tags" not in names
