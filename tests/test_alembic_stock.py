"""An Alembic project as ``alembic init`` writes it: its env.py ignores the connection safeshift
passes and builds an engine from ``sqlalchemy.url`` in alembic.ini.

The plan's database must be the one migrated, whatever the ini says; and an env.py that
connects somewhere else entirely is caught by reading the revision back on safeshift's own
connection, so the run rolls back instead of reporting a success it did not measure.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from helpers import ItemsDb
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.migrators.alembic import AlembicMigrator

REVISION = '''"""add things

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("things")
'''

ELSEWHERE = '''    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )'''


def stock_project(folder: Path, dev_url: str) -> Path:
    """``alembic init`` untouched but for the ini's URL (a developer's own database) and one revision."""
    ini = folder / "alembic.ini"
    command.init(Config(str(ini)), str(folder / "migrations"))
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", dev_url))
    (folder / "migrations" / "versions" / "0001_things.py").write_text(REVISION)
    plan = folder / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "${STOCK_URL}"\n\n[migration]\nengine = "alembic"\nconfig = "alembic.ini"\n\n'
        '[backup]\nverify = "scan"\n\n[rollback]\nstrategy = "downgrade"\n'
    )
    return plan


def tables(url: URL | str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def target(db_url: URL, monkeypatch: pytest.MonkeyPatch) -> URL:
    monkeypatch.setenv("STOCK_URL", db_url.render_as_string(hide_password=False))
    return db_url


def test_the_plans_database_is_migrated_not_the_inis(target: URL, tmp_path: Path) -> None:
    dev = tmp_path / "dev.db"
    plan = stock_project(tmp_path / "project", f"sqlite:///{dev}")
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.OK, result.message
    assert result.message == "migrated base → 0001"
    assert "things" in tables(get_dialect(target).url)
    assert not dev.exists() or tables(f"sqlite:///{dev}") == set()


def test_the_rehearsal_migrates_its_copy_not_the_inis_database(target: URL, tmp_path: Path) -> None:
    dev = tmp_path / "dev.db"
    plan = stock_project(tmp_path / "project", f"sqlite:///{dev}")
    result = api.rehearse_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.OK, result.message
    assert result.rehearsal is not None and result.rehearsal.statement_count > 0
    assert "things" not in tables(get_dialect(target).url)
    assert not dev.exists() or tables(f"sqlite:///{dev}") == set()


def elsewhere_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A project whose env.py builds its engine from another variable: another database."""
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("ELSEWHERE_URL", f"sqlite:///{elsewhere}")
    plan = stock_project(tmp_path / "project", "sqlite:///unused.db")
    env_py = tmp_path / "project" / "migrations" / "env.py"
    text = env_py.read_text()
    assert ELSEWHERE in text
    env_py.write_text(
        "import os\n" + text.replace(ELSEWHERE, '    connectable = sa_create_engine(os.environ["ELSEWHERE_URL"])')
        .replace("from sqlalchemy import pool", "from sqlalchemy import pool\nfrom sqlalchemy import create_engine as sa_create_engine")
    )
    return plan, elsewhere


def test_an_env_py_that_connects_elsewhere_is_refused_at_preflight(
    target: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, elsewhere = elsewhere_project(tmp_path, monkeypatch)
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "blocked" and result.exit_code == ExitCode.USAGE, result.message
    assert "env.py connects to sqlite:///" in result.message and "config.attributes['connection']" in result.message
    assert [p.name for p in result.phases] == ["preflight"]
    assert "things" not in tables(get_dialect(target).url)
    assert not elsewhere.exists() or "things" not in tables(f"sqlite:///{elsewhere}")


def test_a_migration_that_ran_elsewhere_is_caught_by_reading_the_revision_back(
    target: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were the preflight probe fooled, apply's read-back still rolls back."""
    monkeypatch.setattr(AlembicMigrator, "check_target", lambda self, conn: None)
    plan, elsewhere = elsewhere_project(tmp_path, monkeypatch)
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert "did it run against another database" in result.message
    assert "things" not in tables(get_dialect(target).url)
    assert os.path.exists(elsewhere)


OWN_CONNECTION_ENV = '''from alembic import context

if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    # an env.py that opens a connection of its own from the engine safeshift's connection came from
    engine = context.config.attributes["connection"].engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
'''

ALTER_ITEMS = (
    REVISION.replace("Revision ID: 0001\nRevises:", "Revision ID: 0002\nRevises: 0001")
    .replace('revision = "0001"\ndown_revision = None', 'revision = "0002"\ndown_revision = "0001"')
    .replace(
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        'op.add_column("items", sa.Column("note", sa.String(20)))',
    )
    .replace('op.drop_table("things")', 'op.drop_column("items", "note")')
)


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_the_lock_timeout_reaches_connections_the_migration_opens_itself(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table lock held elsewhere: the ALTER on env.py's own connection gives up after lock_timeout."""
    monkeypatch.setenv("STOCK_URL", items_db.url.render_as_string(hide_password=False))
    plan = stock_project(tmp_path / "project", "sqlite:///unused.db")
    (tmp_path / "project" / "migrations" / "env.py").write_text(OWN_CONNECTION_ENV)
    (tmp_path / "project" / "migrations" / "versions" / "0002_note.py").write_text(ALTER_ITEMS)
    text = plan.read_text()
    plan.write_text(text.replace('config = "alembic.ini"', 'config = "alembic.ini"\ntarget = "0001"'))
    first = api.run_plan(plan, workdir=tmp_path / "w")  # the database starts at 0001, its version table there
    assert first.exit_code == ExitCode.OK, first.message
    plan.write_text(text + '\n[apply]\nlock_timeout = 1\nretries = 0\n')
    holder_engine = get_dialect(items_db.url).create_engine()
    holder = holder_engine.connect()
    try:
        holder.execute(sa.text("SELECT * FROM items")).fetchall()  # an open transaction: the ALTER must wait
        release = threading.Timer(20.0, holder.rollback)  # without the timeout the ALTER waits this long
        release.start()
        started = time.monotonic()
        result = api.run_plan(plan, workdir=tmp_path / "w")
        waited = time.monotonic() - started
        release.cancel()
    finally:
        holder.close()
        holder_engine.dispose()
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    apply = next(p for p in result.phases if p.name == "apply")
    assert apply.detail["lock_waits"] and apply.detail["lock_waits"][0]["waited_s"] < 10, apply.detail
    assert waited < 20, waited


INSPECTING = (
    REVISION.replace("Revision ID: 0001\nRevises:", "Revision ID: 0002\nRevises: 0001")
    .replace('revision = "0001"\ndown_revision = None', 'revision = "0002"\ndown_revision = "0001"')
    .replace(
        '    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        '    if "more" not in sa.inspect(op.get_bind()).get_table_names():  # needs a live database\n'
        '        op.create_table("more", sa.Column("id", sa.Integer, primary_key=True))',
    )
    .replace('op.drop_table("things")', 'op.drop_table("more")')
)


def test_a_revision_that_cannot_be_rendered_is_named_and_counts_against_fail_on(target: URL, tmp_path: Path) -> None:
    plan = stock_project(tmp_path / "project", "sqlite:///unused.db")
    (tmp_path / "project" / "migrations" / "versions" / "0002_more.py").write_text(INSPECTING)
    blocked = api.run_plan(plan, workdir=tmp_path / "w")
    assert blocked.outcome == "blocked" and blocked.exit_code == ExitCode.CHECKS_FAILED, blocked.message
    assert "SS094" in blocked.message and "revision 0002 could not be rendered" in blocked.message
    assert "things" not in tables(get_dialect(target).url)
    report = Path(blocked.report_md or "").read_text()
    assert "| SS094 | error | the migration | revision 0002 could not be rendered" in report
    linted = api.lint_plan(plan)
    codes = [f.code for f in linted.findings]
    assert "SS094" in codes and linted.statements  # 0001 was still linted
    plan.write_text(plan.read_text() + '\n[lint]\ndisable = ["SS094"]\n')
    accepted = api.run_plan(plan, workdir=tmp_path / "w")
    assert accepted.exit_code == ExitCode.OK, accepted.message
    # accepted unlinted, and still listed as such: the report never reads as a full lint
    listed = [f for f in accepted.lint if f["code"] == "SS094"]
    assert listed and all(f["suppressed"] for f in listed), accepted.lint
    assert "revision 0002 could not be rendered" in Path(accepted.report_md or "").read_text()


def test_an_env_py_that_reads_the_plans_url_from_the_environment_never_migrates_it_from_a_copy(
    target: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.environ["DATABASE_URL"]`` in env.py: the plan's database at preflight (allowed), but
    on the rehearsal's copy it would migrate the real database: refused before anything runs."""
    monkeypatch.setenv("ELSEWHERE_URL", get_dialect(target).url.render_as_string(hide_password=False))
    plan = stock_project(tmp_path / "project", "sqlite:///unused.db")
    env_py = tmp_path / "project" / "migrations" / "env.py"
    text = env_py.read_text()
    env_py.write_text(
        "import os\n" + text.replace(ELSEWHERE, '    connectable = sa_create_engine(os.environ["ELSEWHERE_URL"])')
        .replace("from sqlalchemy import pool", "from sqlalchemy import pool\nfrom sqlalchemy import create_engine as sa_create_engine")
    )
    result = api.rehearse_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.USAGE, result.message
    assert "cannot run on a copy" in result.message
    assert "things" not in tables(get_dialect(target).url)


def test_a_dollar_quoted_function_body_is_one_statement_in_the_offline_render() -> None:
    """PL/pgSQL bodies hold ``;`` on their own lines: the render must not cut them there
    (MLflow's secrets trigger did, and the lint then saw an unterminated ``$$``)."""
    from safeshift.migrators.alembic import _split_sql

    script = (
        "-- Running upgrade a -> b\n\n"
        "CREATE OR REPLACE FUNCTION f()\nRETURNS TRIGGER AS $$\nBEGIN\n    RAISE EXCEPTION 'x';\n"
        "    RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n\n"
        "CREATE TABLE t (id INTEGER);\n"
    )
    parts = _split_sql(script)
    assert len(parts) == 2 and parts[0].endswith("$$ LANGUAGE plpgsql;") and parts[1].startswith("CREATE TABLE t")
