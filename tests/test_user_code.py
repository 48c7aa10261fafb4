"""User code and user SQL in checks are hostile: they can read, never write, and never end the run.

A ``sql`` check that deletes, a Python check that inserts and commits, one that calls
``sys.exit`` or raises KeyboardInterrupt: each is a failed check (a pre-check blocks, a
post-check rolls back), and the database keeps every row. On every dialect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode

ROWS = 50

CHECKS_PY = '''
import sys

import sqlalchemy as sa


def exits(conn):
    sys.exit(1)


def exits_zero(conn):
    sys.exit(0)


def interrupts(conn):
    raise KeyboardInterrupt


def writes(conn):
    conn.execute(sa.text("DELETE FROM items"))
    conn.commit()
    return True


def counts(conn):
    return conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar_one() > 0
'''


@pytest.fixture
def items_rows() -> int:
    return ROWS


def write_plan(folder: Path, phase: str, check: str) -> Path:
    plan = items_plan(folder, f'\n[rollback]\nstrategy = "downgrade"\n\n[[checks.{phase}]]\n{check}\n')
    (folder / "user_checks.py").write_text(CHECKS_PY)
    return plan


def rows(db: ItemsDb) -> int:
    engine = get_dialect(db.url).create_engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar_one())
    finally:
        engine.dispose()


def tables(db: ItemsDb) -> set[str]:
    engine = get_dialect(db.url).create_engine()
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


SQL_DELETE = 'name = "deletes"\nkind = "sql"\nquery = "DELETE FROM items"\nexpect = ">= 0"'
SQL_DELETE_SAMPLE = (  # the query deletes, the sample commits it
    'name = "deletes, then commits"\nkind = "sql"\nquery = "DELETE FROM items RETURNING id"\nexpect = "== 0"\n'
    'sample = "COMMIT"'
)


@pytest.mark.parametrize("check", [SQL_DELETE, SQL_DELETE_SAMPLE], ids=["query", "sample"])
def test_a_writing_sql_check_fails_and_changes_nothing(items_db: ItemsDb, tmp_path: Path, check: str) -> None:
    report = api.check(write_plan(tmp_path / "plan", "post", check), phase="post")
    assert not report.passed
    assert rows(items_db) == ROWS


def test_a_python_check_that_writes_and_commits_fails_and_changes_nothing(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan", "post", 'name = "writes"\nkind = "python"\nfunction = "user_checks:writes"')
    report = api.check(plan, phase="post")
    assert not report.passed and report.results[0].error, report.results[0].to_dict()
    assert rows(items_db) == ROWS


@pytest.mark.parametrize("function", ["exits", "exits_zero", "interrupts"])
def test_a_post_check_that_exits_rolls_the_run_back(items_db: ItemsDb, tmp_path: Path, function: str) -> None:
    check = f'name = "{function}"\nkind = "python"\nfunction = "user_checks:{function}"'
    result = api.run_plan(write_plan(tmp_path / "plan", "post", check), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert function in result.message and "could not run" in result.message
    assert "extra" not in tables(items_db) and rows(items_db) == ROWS


@pytest.mark.parametrize("function", ["exits", "exits_zero"])
def test_a_pre_check_that_exits_blocks_the_run(items_db: ItemsDb, tmp_path: Path, function: str) -> None:
    check = f'name = "{function}"\nkind = "python"\nfunction = "user_checks:{function}"'
    result = api.run_plan(write_plan(tmp_path / "plan", "pre", check), workdir=tmp_path / "w")
    assert result.outcome == "blocked" and result.exit_code == ExitCode.CHECKS_FAILED, result.message
    assert "exit(" in result.message
    assert "extra" not in tables(items_db)


def test_checks_leave_the_session_writable_for_the_migration(items_db: ItemsDb, tmp_path: Path) -> None:
    """Pre-checks run read-only on the connection apply uses next: the migration must still write."""
    check = 'name = "has rows"\nkind = "python"\nfunction = "user_checks:counts"'
    result = api.run_plan(write_plan(tmp_path / "plan", "pre", check), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.OK, result.message
    assert "extra" in tables(items_db)


def test_a_capture_that_fails_stops_the_run_at_the_snapshot(items_db: ItemsDb, tmp_path: Path) -> None:
    """A check that cannot record "before" could not judge "after": stop while nothing changed."""
    check = 'name = "items stay"\nkind = "table_unchanged"\ntable = "items"\nkey = ["no_such_column"]'
    # without the schema-copy validation, which names the missing column before the snapshot (exit 2)
    plan = items_plan(tmp_path / "plan", f'\n[preflight]\nschema_copy = false\n\n[[checks.post]]\n{check}\n')
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "blocked" and result.exit_code == ExitCode.CHECKS_FAILED, result.message
    assert "snapshot: capturing 'items stay' failed" in result.message
    assert [p.name for p in result.phases] == ["preflight", "snapshot"]
    assert result.phases[-1].status == "blocked"
    assert "extra" not in tables(items_db)
