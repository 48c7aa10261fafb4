"""A legacy database (tables and rows, never recorded by a migration tool) and ``safeshift baseline``.

A run onto it is refused at preflight (exit 2, no backup taken) with the hint; ``baseline REV``
records REV and everything before it without running it (SQL files: rows with their
checksums; Alembic: stamp; command: its stamp command), and the next run applies only what
comes after. A database already at REV or beyond is refused unless ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import alembic_project, column_names, query, table_names
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ExitCode

LEGACY_UP = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), title VARCHAR(100));
"""
FILES = {
    "0001_baseline.up.sql": LEGACY_UP,
    "0001_baseline.down.sql": "DROP TABLE posts;\nDROP TABLE users;\n",
    "0002_bio.up.sql": "ALTER TABLE users ADD COLUMN bio VARCHAR(100);\n",
    "0002_bio.down.sql": "ALTER TABLE users DROP COLUMN bio;\n",
    "0003_tags.up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50));\n",
    "0003_tags.down.sql": "DROP TABLE tags;\n",
}
USERS = [(1, "a@example.org"), (2, "b@example.org")]
POSTS = [(1, 1, "hello"), (2, 1, "again"), (3, 2, None)]


def execute(url: URL, *statements: str, params: dict[str, list[dict[str, Any]]] | None = None) -> None:
    engine = get_dialect(url).create_engine()
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(sa.text(sql), (params or {}).get(sql))
    finally:
        engine.dispose()





def legacy_project(folder: Path, url: URL, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SQL files whose 0001 creates the tables a legacy database already has, with rows."""
    migrations = folder / "migrations"
    migrations.mkdir(parents=True)
    for name, sql in FILES.items():
        (migrations / name).write_text(sql)
    users, posts = "INSERT INTO users (id, email) VALUES (:id, :email)", "INSERT INTO posts (id, user_id, title) VALUES (:id, :u, :t)"
    execute(
        url, *[s for s in LEGACY_UP.split(";") if s.strip()], users, posts,
        params={users: [{"id": i, "email": e} for i, e in USERS], posts: [{"id": i, "u": u, "t": t} for i, u, t in POSTS]},
    )
    monkeypatch.setenv("LEGACY_URL", url.render_as_string(hide_password=False))
    plan = folder / "safeshift.toml"
    plan.write_text('[database]\nurl = "${LEGACY_URL}"\n\n[migration]\nengine = "sql"\n\n[backup]\nverify = "scan"\n')
    return plan


def backups(folder: Path) -> list[Path]:
    found = folder / ".safeshift" / "backups"
    return sorted(found.iterdir()) if found.is_dir() else []


def test_legacy_database_refused_then_baseline_then_run_to_a_target(
    db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = legacy_project(tmp_path, db_url, monkeypatch)
    runner = CliRunner()

    refused = runner.invoke(app, ["run", "--plan", str(plan)])
    assert refused.exit_code == ExitCode.USAGE, refused.output
    assert "posts, users" in refused.stderr and "no revision is recorded" in refused.stderr
    assert "safeshift baseline <rev>" in refused.stderr
    assert backups(tmp_path) == []  # refused before the backup
    assert "safeshift_versions" not in table_names(db_url)
    dry = runner.invoke(app, ["run", "--plan", str(plan), "--dry-run"])
    assert dry.exit_code == ExitCode.USAGE and "safeshift baseline <rev>" in dry.stderr

    base = runner.invoke(app, ["baseline", "0001", "--plan", str(plan), "--json"])
    assert base.exit_code == 0, base.output
    data = json.loads(base.stdout)
    assert data["previous"] is None and data["current"] == "0001" and [r["id"] for r in data["recorded"]] == ["0001"]
    digest = hashlib.sha256((tmp_path / "migrations" / "0001_baseline.up.sql").read_bytes()).hexdigest()
    assert query(db_url, "SELECT version, name, checksum FROM safeshift_versions") == [("0001", "baseline", digest)]

    run = runner.invoke(app, ["run", "--plan", str(plan), "--target", "0002"])
    assert run.exit_code == 0, run.output
    assert "migrated 0001 → 0002" in run.stdout
    assert query(db_url, "SELECT id, email FROM users ORDER BY id") == USERS
    assert query(db_url, "SELECT id, user_id, title FROM posts ORDER BY id") == POSTS
    assert query(db_url, "SELECT COUNT(bio) FROM users") == [(0,)]
    assert "tags" not in table_names(db_url)
    assert [p["id"] for p in api.status(plan).pending] == ["0003"]  # past the --target: still pending

    again = runner.invoke(app, ["baseline", "0001", "--plan", str(plan)])
    assert again.exit_code == ExitCode.USAGE
    assert "already at 0002, at or beyond 0001" in again.stderr


def test_baseline_forward_and_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")
    plan = legacy_project(tmp_path, url, monkeypatch)
    assert [r["id"] for r in api.baseline(plan, "0001").recorded] == ["0001"]
    forward = api.baseline(plan, "0002")  # from 0001 to 0002: only 0002 is new
    assert forward.previous == "0001" and [r["id"] for r in forward.recorded] == ["0002"]
    with pytest.raises(ConfigError, match="at or beyond 0001"):
        api.baseline(plan, "0001")
    back = api.baseline(plan, "0001", force=True)
    assert back.current == "0001" and back.recorded == []
    assert query(url, "SELECT version FROM safeshift_versions") == [("0001",)]
    with pytest.raises(ConfigError, match="no migration '0009'"):
        api.baseline(plan, "0009")


def test_a_database_that_only_gains_tables_is_not_legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables the first revision does not create are fine: a migration may add to a database."""
    url = sa.make_url(f"sqlite:///{tmp_path / 'app.db'}")
    execute(url, "CREATE TABLE audit (id INTEGER PRIMARY KEY)")
    plan = legacy_project(tmp_path / "p", sa.make_url(f"sqlite:///{tmp_path / 'other.db'}"), monkeypatch)
    monkeypatch.setenv("LEGACY_URL", f"sqlite:///{tmp_path / 'app.db'}")
    result = api.run_plan(plan, workdir=tmp_path / "w", target="0001")
    assert result.exit_code == 0, result.message
    assert {"audit", "users", "posts", "safeshift_versions"} <= table_names(url)


# -- Alembic: stamp ---------------------------------------------------------------------------


def test_alembic_legacy_database_baseline_is_a_stamp(db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = alembic_project(tmp_path / "app")
    raw = db_url.render_as_string(hide_password=False)
    cfg = Config(str(project / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", raw.replace("%", "%%"))
    command.upgrade(cfg, "0001")
    execute(db_url, "DROP TABLE alembic_version", "INSERT INTO owners (id, email) VALUES (1, 'a@example.org')")
    monkeypatch.setenv("DATABASE_URL", raw)
    api.init(project)
    plan = project / "safeshift.toml"

    refused = api.run_plan(plan)
    assert refused.exit_code == ExitCode.USAGE and "safeshift baseline <rev>" in refused.message
    assert "items, owners" in refused.message and "no alembic_version table" in refused.message
    assert [p.name for p in refused.phases] == ["preflight"] and backups(project) == []

    stamped = api.baseline(plan, "0001")
    assert stamped.previous is None and stamped.current == "0001"
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("0001",)]
    with pytest.raises(ConfigError, match="already at 0001"):
        api.baseline(plan, "0001")
    run = api.run_plan(plan)
    assert run.exit_code == 0, run.message
    assert run.message == "migrated 0001 → 0002"
    assert query(db_url, "SELECT id, email FROM owners") == [(1, "a@example.org")]
    forced = api.baseline(plan, "0001", force=True)  # back to 0001 on paper: nothing runs
    assert forced.current == "0001" and "note" in column_names(db_url, "items")


# -- command engine: its stamp command, or a clear refusal ------------------------------------

FAKE = Path(__file__).resolve().parent / "fixtures" / "fake_migrate.py"


def command_plan(folder: Path, stamp: bool) -> Path:
    tool = f'["{sys.executable}", "{FAKE}"'
    lines = [
        "[database]", 'url = "${TOOL_URL}"', "", "[migration]", 'engine = "command"',
        f'up = {tool}, "up", "--to", "{{target}}"]', f'current = {tool}, "current"]', f'pending = {tool}, "pending"]',
    ]
    if stamp:
        lines.append(f'stamp = {tool}, "stamp", "--to", "{{revision}}"]')
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "safeshift.toml").write_text("\n".join(lines) + "\n")
    return folder / "safeshift.toml"


def test_command_engine_baseline_needs_a_stamp_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tool.db").touch()
    monkeypatch.setenv("TOOL_URL", f"sqlite:///{tmp_path / 'tool.db'}")
    plan = command_plan(tmp_path / "no-stamp", stamp=False)
    result = CliRunner().invoke(app, ["baseline", "0001_notes", "--plan", str(plan)])
    assert result.exit_code == ExitCode.USAGE
    assert "migration.stamp: not set, so engine 'command' cannot record a baseline" in result.stderr

    plan = command_plan(tmp_path / "stamp", stamp=True)
    done = api.baseline(plan, "0001_notes")
    assert done.previous is None and done.current == "0001_notes"
    with pytest.raises(ConfigError, match="at or beyond"):
        api.baseline(plan, "0001_notes")
    status = api.status(plan)
    assert [p["id"] for p in status.pending] == ["0002_tags"]
