"""The approval gate (digest of the reviewed plan) and the rehearsal on a scratch copy."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from helpers import APP_SIDE, EXAMPLES, family_plan, require_server, server_url
from safeshift.cli.app import app
from safeshift.demo import prepare_family_database
from safeshift.dialects import get_dialect
from safeshift.loading import load_plan
from safeshift.run import Approval, rehearse_plan, run_plan


def make_plan(tmp_path: Path, extra: str = "") -> Path:
    return family_plan(tmp_path / "plan", extra)


@pytest.fixture
def family_users() -> int:
    return 3000  # the family fixture's size here


def state(url: URL) -> tuple[str, list[str]]:
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    with engine.connect() as conn:
        rev = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        tables = dialect.table_names(conn)
    engine.dispose()
    return rev, tables


APPROVAL = "\n[approval]\nrequired = true\n"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_approval_digest_flow(family: URL, tmp_path: Path) -> None:
    plan_path = make_plan(tmp_path, APPROVAL)
    planned = run_plan(load_plan(plan_path), dry_run=True)
    assert planned.outcome == "planned" and planned.digest and len(planned.digest) == 16

    unapproved = run_plan(load_plan(plan_path))
    assert unapproved.outcome == "blocked" and int(unapproved.exit_code) == 2
    assert f"--approve {planned.digest}" in unapproved.message
    assert state(family)[0] == "0001"

    plan_path.write_text(plan_path.read_text() + "\n# edited after review\n")
    stale = run_plan(load_plan(plan_path), approval=Approval(digest=planned.digest))
    assert stale.outcome == "blocked" and int(stale.exit_code) == 2
    assert "does not match" in stale.message
    assert state(family)[0] == "0001"

    fresh = run_plan(load_plan(plan_path), dry_run=True).digest
    assert fresh != planned.digest
    approved = run_plan(load_plan(plan_path), approval=Approval(digest=fresh, by="alice"))
    assert approved.outcome == "succeeded", approved.message
    assert approved.approval.digest == fresh and approved.approval.by == "alice"
    assert approved.approval.at
    assert "Approved by alice" in Path(approved.report_md or "").read_text()


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_digest_covers_migration_files(family: URL, tmp_path: Path) -> None:
    """Editing a migration file (not the plan) also makes an approval stale."""
    import shutil

    copy = tmp_path / "family"
    shutil.copytree(EXAMPLES / "family", copy, ignore=shutil.ignore_patterns("__pycache__"))
    plan_path = copy / "safeshift.toml"
    plan_path.write_text(plan_path.read_text().split(APP_SIDE)[0] + APPROVAL)
    digest = run_plan(load_plan(plan_path), dry_run=True).digest
    revision = copy / "migrations" / "versions" / "0002_families.py"
    revision.write_text(revision.read_text() + "\n# a late edit\n")
    stale = run_plan(load_plan(plan_path), approval=Approval(digest=digest))
    assert stale.outcome == "blocked" and "does not match" in stale.message


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("typed,outcome", [("safeshift_demo_family.sqlite3", "succeeded"), ("prod", "blocked")])
def test_interactive_approval_types_database_name(family: URL, tmp_path: Path, typed: str, outcome: str) -> None:
    name = Path(family.database or "").name
    typed = typed if typed != "safeshift_demo_family.sqlite3" else name
    asked: list[str] = []

    def confirm(digest: str, database: str) -> str:
        asked.append(database)
        return typed

    result = run_plan(load_plan(make_plan(tmp_path, APPROVAL)), approval=Approval(confirm=confirm))
    assert asked == [name]
    assert result.outcome == outcome


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_cli_dry_run_prints_digest_and_approve_runs(family: URL, tmp_path: Path) -> None:
    plan = str(make_plan(tmp_path, APPROVAL))
    runner = CliRunner()
    dry = runner.invoke(app, ["run", "--plan", plan, "--dry-run"])
    assert dry.exit_code == 0
    digest = dry.stdout.split("plan digest: ")[1].split()[0]
    bad = runner.invoke(app, ["run", "--plan", plan, "--approve", "0" * 16])
    assert bad.exit_code == 2 and "does not match" in bad.stderr
    good = runner.invoke(app, ["run", "--plan", plan, "--approve", digest])
    assert good.exit_code == 0, good.output
    assert state(family)[0] == "0002"


def test_failed_rehearsal_blocks_with_target_unchanged(
    family: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFESHIFT_FAMILY_BREAK", "apply")
    result = run_plan(load_plan(make_plan(tmp_path)), rehearse=True)
    assert result.outcome == "blocked" and int(result.exit_code) == 1
    assert "rehearsal failed" in result.message
    assert [p.name for p in result.phases][-1] == "rehearse"
    assert state(family) [0] == "0001" and "families" not in state(family)[1]
    assert not list((tmp_path / "plan" / ".safeshift" / "backups").glob("*scratch*"))


def test_failed_post_check_in_rehearsal_blocks(family: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFESHIFT_FAMILY_BREAK", "check")
    result = rehearse_plan(load_plan(make_plan(tmp_path)))
    assert result.outcome == "blocked" and int(result.exit_code) == 1
    assert "users without a family" in result.message
    assert state(family)[0] == "0001"


@pytest.mark.slow
def test_rehearsal_predicts_apply_time(db_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same order of magnitude as the real apply (30,000 users, so the apply is long enough to
    time): a sanity bound on a shared machine, not a benchmark (those live in benchmarks/)."""
    require_server(db_kind)
    name = f"ss_reh_{uuid.uuid4().hex[:8]}"
    url, _ = prepare_family_database(db_kind, tmp_path, 30_000, name=name)  # type: ignore[arg-type]
    monkeypatch.setenv("FAMILY_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        result = run_plan(load_plan(make_plan(tmp_path)), rehearse=True)
    finally:
        if db_kind != "sqlite":
            get_dialect(server_url(db_kind)).drop_database(name)
    assert result.outcome == "succeeded", result.message
    predicted = result.rehearsal.predicted_apply_seconds
    real = next(p.seconds for p in result.phases if p.name == "apply")
    assert result.rehearsal.statement_count > 0 and result.rehearsal.statements
    assert predicted is not None and real / 5 <= predicted <= real * 5, (predicted, real)
    assert "Predicted apply time" in Path(result.report_md or "").read_text()


@pytest.mark.parametrize("db_kind", ["mysql"])
def test_rehearsal_asks_mariadb_for_each_ddl_lock_class(family: URL, tmp_path: Path) -> None:
    """On a second scratch copy: ADD COLUMN is instant, the index in place, the foreign key copies."""
    result = rehearse_plan(load_plan(make_plan(tmp_path)))
    assert result.outcome == "rehearsed", result.message
    found = result.rehearsal.lock_classes

    def lock_class(fragment: str) -> str:
        return next(lc.lock_class for lc in found if fragment in lc.sql)

    by_kind = {
        "add column": lock_class("ADD COLUMN family_id"),
        "index": lock_class("CREATE INDEX ix_users_family_id"),
        "foreign key": lock_class("ADD CONSTRAINT fk_users_family_id"),
    }
    assert by_kind == {"add column": "instant", "index": "inplace", "foreign key": "copy"}, found
    assert state(family)[0] == "0001"
    assert "lock class (asked of the server)" in Path(result.report_md or "").read_text()
