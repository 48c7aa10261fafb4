"""``safeshift init``: a first plan from a project's files and its live schema.

From nothing: a project made by the real ``alembic init`` (its ini keeps the placeholder URL),
two revisions, a database at the first one with rows; ``init`` writes a plan with checks for
the live tables and ``run`` migrates to head with every row intact. Then detection of every
migrator kind (external tools by a version table the test creates), and the rules: never
overwrite, ``--print`` writes nothing, the URL stays ``${DATABASE_URL}``.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL
from typer.testing import CliRunner

import safeshift
from helpers import ALEMBIC_ITEMS, alembic_project, column_names, query
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import load_plan
from safeshift.migrators import get_migrator

PLACEHOLDER = "driver://user:pass@localhost/dbname"


def raw(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def at_first_revision(project: Path, url: URL) -> None:
    """The database at 0001 with rows; the ini file keeps its placeholder URL."""
    cfg = Config(str(project / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", raw(url).replace("%", "%%"))
    command.upgrade(cfg, "0001")
    engine = get_dialect(url).create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO owners (id, email) VALUES (1, 'a@example.org'), (2, 'b@example.org')"))
            conn.execute(
                sa.text("INSERT INTO items (id, name, owner_id) VALUES (:id, :name, :owner)"),
                [{"id": i, "name": n, "owner": o} for i, n, o in ALEMBIC_ITEMS],
            )
    finally:
        engine.dispose()




def checks_of(plan: Path) -> list[dict[str, Any]]:
    return list(tomllib.loads(plan.read_text())["checks"]["post"])


def test_from_nothing_alembic_init_then_safeshift_init_and_run(
    db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = alembic_project(tmp_path / "app")
    at_first_revision(project, db_url)
    monkeypatch.setenv("DATABASE_URL", raw(db_url))
    runner = CliRunner()

    init = runner.invoke(app, ["init", "--dir", str(project)])
    assert init.exit_code == 0, init.output
    plan = project / "safeshift.toml"
    assert "wrote" in init.stdout and "revision: 0001; pending: 0002" in init.stdout
    assert "config.attributes.get(\"connection\")" in init.stdout  # the stock env.py: the lines to add
    text = plan.read_text()
    assert 'url = "${DATABASE_URL}"' in text and raw(db_url) not in text
    load_plan(plan)
    checks = checks_of(plan)
    assert {"kind": "row_count", "table": "owners", "expect": "== snapshot"} in checks
    assert {"kind": "row_count", "table": "items", "expect": "== snapshot"} in checks
    assert {"kind": "fk_valid", "child": "items.owner_id", "parent": "owners.id", "baseline": True} in checks
    assert {"kind": "unique", "table": "owners", "columns": ["email"]} in checks
    assert {"kind": "no_nulls", "column": "items.name"} in checks
    assert not any(c.get("table") == "alembic_version" for c in checks)

    run = runner.invoke(app, ["run", "--plan", str(plan)])
    assert run.exit_code == 0, run.output
    assert "migrated 0001 → 0002" in run.stdout
    assert query(db_url, "SELECT id, name, owner_id FROM items ORDER BY id") == ALEMBIC_ITEMS
    assert query(db_url, "SELECT COUNT(*) FROM owners") == [(2,)]
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert "note" in column_names(db_url, "items")
    assert PLACEHOLDER in (project / "alembic.ini").read_text()  # safeshift never needed the ini's URL


def test_init_never_overwrites_and_print_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    project = alembic_project(tmp_path / "app")
    runner = CliRunner()
    shown = runner.invoke(app, ["init", "--dir", str(project), "--print"])
    assert shown.exit_code == 0, shown.output
    assert "[migration]" in shown.stdout and "nothing written" in shown.stdout
    assert not (project / "safeshift.toml").exists()

    (project / "safeshift.toml").write_text("# mine\n")
    again = runner.invoke(app, ["init", "--dir", str(project)])
    assert again.exit_code == 2
    assert "already exists; init never overwrites" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert (project / "safeshift.toml").read_text() == "# mine\n"


def test_without_a_database_url_the_plan_has_no_checks_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_DB", raising=False)
    project = alembic_project(tmp_path / "app")
    result = api.init(project, url_env="APP_DB")
    assert result.written and result.checks == 0 and result.database is None
    assert any("$APP_DB is not set" in note for note in result.notes)
    plan = load_plan(project / "safeshift.toml")
    assert plan.database.url == "${APP_DB}" and not plan.checks.post
    assert plan.migration.engine == "alembic" and plan.migration.config == "alembic.ini"


def test_env_py_that_uses_the_connection_needs_no_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    project = alembic_project(tmp_path / "app")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "def run_migrations_online() -> None:",
        'def run_migrations_online() -> None:\n    connection = config.attributes.get("connection")',
    ))
    assert api.init(project, write=False).env_py == []


@pytest.mark.parametrize(
    ("files", "directory"),
    [
        ({"migrations/0001_init.up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);"}, "migrations"),
        ({"db/sql/postgresql/0001_init.up.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);"}, "db/sql"),
    ],
)
def test_a_folder_of_sql_files_is_the_sql_engine(
    files: dict[str, str], directory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, sql in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(sql)
    result = api.init(tmp_path)
    plan = load_plan(tmp_path / "safeshift.toml")
    assert result.engine == "sql" and plan.migration.engine == "sql" and plan.migration.directory == directory
    assert plan.rollback.strategy == "restore"  # no down files: nothing to downgrade with


def test_an_empty_folder_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["init", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no migration project found" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "safeshift.toml").exists()


def test_sql_project_on_a_live_database_infers_checks_and_names_the_baseline(
    db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_dialect(db_url).create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(50) NOT NULL)"))
            conn.execute(sa.text("CREATE UNIQUE INDEX users_email ON users (email)"))
    finally:
        engine.dispose()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_users.up.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    (tmp_path / "migrations" / "0001_users.down.sql").write_text("DROP TABLE users;\n")
    monkeypatch.setenv("DATABASE_URL", raw(db_url))
    result = api.init(tmp_path)
    assert result.engine == "sql" and result.tables == ["users"] and result.current is None
    assert any("safeshift baseline <rev>" in note for note in result.notes)
    checks = checks_of(tmp_path / "safeshift.toml")
    assert {"kind": "unique", "table": "users", "columns": ["email"]} in checks
    assert load_plan(tmp_path / "safeshift.toml").rollback.strategy == "downgrade-then-restore"


# -- external tools, known by their version table -----------------------------------------------

def _prisma(md: sa.MetaData) -> tuple[sa.Table, list[dict[str, Any]]]:
    table = sa.Table(
        "_prisma_migrations", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("migration_name", sa.String(255), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("applied_steps_count", sa.Integer, nullable=False),
    )
    when = sa.func.current_timestamp()
    rows = [
        {"id": "a", "checksum": "x", "finished_at": when, "migration_name": "20240101000000_init", "rolled_back_at": None, "started_at": when, "applied_steps_count": 1},
        {"id": "b", "checksum": "x", "finished_at": None, "migration_name": "20240102000000_add_posts", "rolled_back_at": when, "started_at": when, "applied_steps_count": 0},
    ]
    return table, rows


def _django(md: sa.MetaData) -> tuple[sa.Table, list[dict[str, Any]]]:
    table = sa.Table(
        "django_migrations", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("app", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("applied", sa.DateTime, nullable=False),
    )
    return table, [{"id": 1, "app": "shop", "name": "0001_initial", "applied": sa.func.current_timestamp()}]


def _flyway(md: sa.MetaData) -> tuple[sa.Table, list[dict[str, Any]]]:
    table = sa.Table(
        "flyway_schema_history", md,
        sa.Column("installed_rank", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.String(50)),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("script", sa.String(1000), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
    )
    return table, [
        {"installed_rank": 1, "version": "1", "description": "init", "script": "V1__init.sql", "success": True},
        {"installed_rank": 2, "version": "1.1", "description": "more", "script": "V1_1__more.sql", "success": True},
    ]


def _dbmate(md: sa.MetaData) -> tuple[sa.Table, list[dict[str, Any]]]:
    table = sa.Table("schema_migrations", md, sa.Column("version", sa.String(128), primary_key=True))
    return table, [{"version": "20240101000000"}]


def _golang(md: sa.MetaData) -> tuple[sa.Table, list[dict[str, Any]]]:
    table = sa.Table(
        "schema_migrations", md,
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("dirty", sa.Boolean, nullable=False),
    )
    return table, [{"version": 1, "dirty": False}]


# tool -> (version table and rows, migration files, current, pending ids)
TOOL_CASES: dict[str, tuple[Any, dict[str, str], str, list[str]]] = {
    "prisma": (_prisma, {
        "prisma/schema.prisma": "",
        "prisma/migrations/20240101000000_init/migration.sql": "",
        "prisma/migrations/20240102000000_add_posts/migration.sql": "",
        "prisma/migrations/20240103000000_add_tags/migration.sql": "",
    }, "20240101000000_init", ["20240102000000_add_posts", "20240103000000_add_tags"]),
    "django": (_django, {
        "manage.py": "",
        "shop/migrations/__init__.py": "",
        "shop/migrations/0001_initial.py": "",
        "shop/migrations/0002_price.py": "",
    }, "shop.0001_initial", ["shop.0002_price"]),
    "flyway": (_flyway, {"sql/V1__init.sql": "", "sql/V1_1__more.sql": "", "sql/V2__users.sql": ""}, "1.1", ["2"]),
    "dbmate": (_dbmate, {
        "db/migrations/20240101000000_init.sql": "", "db/migrations/20240102000000_posts.sql": "",
    }, "20240101000000", ["20240102000000"]),
    "golang-migrate": (_golang, {
        "migrations/000001_init.up.sql": "", "migrations/000001_init.down.sql": "",
        "migrations/000002_posts.up.sql": "", "migrations/000002_posts.down.sql": "",
    }, "1", ["2"]),
}


def tool_project(tool: str, url: URL, folder: Path) -> None:
    """A project of ``tool``: its migration files, its version table and a table of the application."""
    make, files, _current, _pending = TOOL_CASES[tool]
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    md = sa.MetaData()
    table, rows = make(md)
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50), nullable=False))
    engine = get_dialect(url).create_engine()
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            for row in rows:
                conn.execute(table.insert().values(**row))
    finally:
        engine.dispose()


@pytest.mark.parametrize("tool", list(TOOL_CASES))
def test_an_external_tool_is_found_by_its_version_table(
    tool: str, db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool_project(tool, db_url, tmp_path)
    monkeypatch.setenv("DATABASE_URL", raw(db_url))
    result = api.init(tmp_path)
    _make, _files, current, pending = TOOL_CASES[tool]
    assert result.engine == "command" and result.current == current, result.found
    assert result.tables == ["users"]  # the tool's table is bookkeeping, not checked
    plan = load_plan(tmp_path / "safeshift.toml")
    assert plan.migration.engine == "command" and plan.rollback.strategy == "restore"
    assert plan.migration.current is not None and plan.migration.current[:3] == ("safeshift", "revisions", tool)
    assert plan.migration.pending is not None and plan.migration.pending[-1] == "--pending"
    # what the plan's current and pending commands print, asked in the plan's folder
    monkeypatch.chdir(tmp_path)
    folder = plan.migration.current[plan.migration.current.index("--dir") + 1]
    assert api.tool_revisions(tool, folder).current == current
    listed = api.tool_revisions(tool, folder, pending=True)
    assert [p["id"] for p in listed.pending or []] == pending


@pytest.mark.slow
def test_the_preset_commands_run_through_the_command_engine(
    db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan's current/pending commands as the command engine runs them: `safeshift revisions`
    in a subprocess, in the plan's folder, the URL in its environment."""
    tool_project("prisma", db_url, tmp_path)
    monkeypatch.setenv("DATABASE_URL", raw(db_url))
    api.init(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(Path(safeshift.__file__).resolve().parents[1]))
    plan = load_plan(tmp_path / "safeshift.toml")
    migrator = get_migrator(plan)
    engine = get_dialect(db_url).create_engine()
    try:
        with engine.connect() as conn:
            assert migrator.current(conn) == "20240101000000_init"
            assert [r.id for r in migrator.pending(conn, "head")] == ["20240102000000_add_posts", "20240103000000_add_tags"]
    finally:
        engine.dispose()


def test_revisions_cli_prints_plain_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = tmp_path / "app.db"
    tool_project("dbmate", sa.make_url(f"sqlite:///{url}"), tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{url}")
    runner = CliRunner()
    current = runner.invoke(app, ["revisions", "dbmate", "--dir", str(tmp_path / "db" / "migrations")])
    assert current.exit_code == 0 and current.stdout == "20240101000000\n"
    pending = runner.invoke(app, ["revisions", "dbmate", "--dir", str(tmp_path / "db" / "migrations"), "--pending"])
    assert pending.exit_code == 0 and pending.stdout == "20240102000000 posts\n"
    unknown = runner.invoke(app, ["revisions", "liquibase"])
    assert unknown.exit_code == 2 and "expected prisma" in unknown.stderr
    monkeypatch.delenv("DATABASE_URL")
    unset = runner.invoke(app, ["revisions", "dbmate"])
    assert unset.exit_code == 2 and "$DATABASE_URL is not set" in unset.stderr


def test_bad_url_env_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--url-env"):
        api.init(tmp_path, url_env="NOT A NAME")
