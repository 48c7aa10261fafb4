"""A second real project, the size the issue measured: MLflow's tracking-store history as
the ``mlflow-skinny`` package ships it (68 revisions, its env.py and alembic.ini untouched;
the ini names ``script_location = mlflow/store/db_migrations``, relative to site-packages).

MLflow creates its first tables from its own models before its history runs (its
``_initialize_tables``); the test does the same, then safeshift migrates the plan's database
to head on each database, names every revision its lint cannot render, and rolls back,
proven, when a revision appended at the end fails. Rows MLflow wrote survive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import failing_revision
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode

mlflow = pytest.importorskip("mlflow")  # mlflow-skinny: a dev dependency, installed by `make test`

pytestmark = pytest.mark.slow

MIGRATIONS = Path(mlflow.__file__).parent / "store" / "db_migrations"
INI = MIGRATIONS / "alembic.ini"


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _plan(folder: Path, ini: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "safeshift.toml"
    plan.write_text(
        f'[database]\nurl = "${{MLFLOW_DB}}"\n\n[migration]\nengine = "alembic"\nconfig = "{ini}"\n\n'
        f'[backup]\nverify = "scan"\n{extra}'
    )
    return plan


def _revision(url: URL) -> str | None:
    engine = get_dialect(url).create_engine()
    try:
        with engine.connect() as conn:
            if "alembic_version" not in sa.inspect(conn).get_table_names():
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def target(db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> URL:
    """MLflow's initial tables, with an experiment in them, as MLflow leaves a new database."""
    from mlflow.store.tracking.dbmodels.initial_models import Base

    engine = get_dialect(db_url).create_engine()
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (7, 'kept', 'active')")
            )
    finally:
        engine.dispose()
    monkeypatch.setenv("MLFLOW_DB", db_url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)
    return db_url


def test_mlflow_history_lint_names_what_it_could_not_render(target: URL, tmp_path: Path) -> None:
    plan = _plan(tmp_path / "plan", INI)
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    out = " ".join(result.output.split())
    assert "not linted: revision" in out and "SS094" in out
    assert _revision(target) is None  # blocked at preflight: nothing changed
    report = next((tmp_path / "w" / ".safeshift" / "runs").glob("*/report.md")).read_text()
    assert "could not be rendered to SQL offline" in report


def test_mlflow_history_migrates_to_head_and_a_failing_revision_rolls_back(target: URL, tmp_path: Path) -> None:
    head = _head()
    # MLflow applies its history during downtime: its renames and rewrites are accepted here as a
    # reviewer would (the lint still runs and lists them; it does not block)
    accept = '\n[lint]\ndisable = ["SS094"]\nfail_on = "never"\n'
    done = api.run_plan(_plan(tmp_path / "plan", INI, accept), workdir=tmp_path / "w")
    assert done.exit_code == ExitCode.OK, done.message
    assert done.message == f"migrated base → {head}" and _revision(target) == head
    engine = get_dialect(target).create_engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM experiments WHERE experiment_id = 7")).scalar() == "kept"
    finally:
        engine.dispose()

    project = tmp_path / "project"
    shutil.copytree(MIGRATIONS, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "versions" / "zz_fails.py").write_text(failing_revision(head, "experiments"))
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("script_location = mlflow/store/db_migrations", f"script_location = {project}"))
    broken = api.run_plan(
        _plan(tmp_path / "plan2", ini, accept + '\n[rollback]\nstrategy = "downgrade-then-restore"\n'),
        workdir=tmp_path / "w",
    )
    assert broken.exit_code == ExitCode.ROLLED_BACK, broken.message
    assert "this release's migration is broken" in broken.message and "proven equal" in broken.message
    assert _revision(target) == head
