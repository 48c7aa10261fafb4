"""An Alembic project as ``alembic init`` writes it: its env.py ignores the connection safeshift
passes and builds an engine from ``sqlalchemy.url`` in alembic.ini.

The plan's database must be the one migrated, whatever the ini says; and an env.py that
connects somewhere else entirely is caught by reading the revision back on safeshift's own
connection, so the run rolls back instead of reporting a success it did not measure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode

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


def test_an_env_py_that_connects_elsewhere_is_caught_and_rolled_back(
    target: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert "did it run against another database" in result.message
    assert "things" not in tables(get_dialect(target).url)
    assert os.path.exists(elsewhere)
