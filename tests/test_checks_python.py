"""kind = "python": functions from the plan's folder, their return shapes and their failures."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from checks_support import (
    execute,
    family_rows,
    make,
    run,
    users,
)
from safeshift.checks import CheckResult

MODULE = """
import sqlalchemy as sa

def count_nulls(conn):
    return conn.execute(sa.text("SELECT COUNT(*) FROM users WHERE family_id IS NULL")).scalar()

def always(conn):
    return True

def never(conn):
    return False, "nope", [3, 1]

def with_context(conn, ctx):
    return ctx.snapshot["users"] == 5

def suite(conn):
    nulls = count_nulls(conn)
    return {
        "no user without family": (nulls == 0, f"{nulls} users without family", [4]),
        "codes unique": (False, "3 dupes"),
        "is a number": nulls,
        "plain": True,
    }

def pairs(conn):
    return [("first", True), ("second", 0)]

def broken(conn):
    return conn.execute(sa.text("SELECT * FROM nowhere")).scalar()

def odd(conn):
    return "yes"

class Holder:
    @staticmethod
    def nested(conn):
        return True
"""


@pytest.fixture
def plan_dir(tmp_path: Path) -> tuple[Path, str]:
    """A plan folder holding a module with a unique name (imports are cached per name)."""
    name = f"checks_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / f"{name}.py").write_text(textwrap.dedent(MODULE))
    return folder, name


def _run(db: Engine, plan_dir: tuple[Path, str], function: str, **config: Any) -> CheckResult:
    folder, module = plan_dir
    check = make("python", function=function.replace("MOD", module), **config)
    return run(db, check, base_dir=folder, snapshot={"users": 5})


def test_bool_number_and_tuple_results(db: Engine, plan_dir: tuple[Path, str]) -> None:
    family_rows(db)
    assert _run(db, plan_dir, "MOD:always").passed
    counted = _run(db, plan_dir, "MOD:count_nulls")
    assert counted.passed and counted.value == 0
    assert not _run(db, plan_dir, "MOD:count_nulls", expect=">= 1").passed
    assert not _run(db, plan_dir, "MOD:count_nulls", expect="== snapshot.users").passed  # 0 != 5
    never = _run(db, plan_dir, "MOD:never")
    assert not never.passed and never.message == "nope" and never.samples == [3, 1]
    assert _run(db, plan_dir, "MOD.with_context").passed
    assert _run(db, plan_dir, "MOD:Holder.nested").passed


def test_a_suite_reports_every_sub_check(db: Engine, plan_dir: tuple[Path, str]) -> None:
    family_rows(db)
    result = _run(db, plan_dir, "MOD:suite")
    assert not result.passed and result.value == 1
    assert result.message == "codes unique: 3 dupes"
    subs = {c["name"]: c for c in result.details["checks"]}
    assert list(subs) == ["no user without family", "codes unique", "is a number", "plain"]
    assert subs["no user without family"]["passed"] and subs["is a number"]["value"] == 0
    assert subs["codes unique"] == {"name": "codes unique", "passed": False, "value": False, "message": "3 dupes", "samples": []}
    assert _run(db, plan_dir, "MOD:pairs").passed


def test_failing_sub_checks_lend_their_samples(db: Engine, plan_dir: tuple[Path, str]) -> None:
    family_rows(db)
    execute(db, users.update().where(users.c.id == 4).values(family_id=None))
    result = _run(db, plan_dir, "MOD:suite")
    assert result.value == 3
    assert result.samples == ["no user without family: 4"]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("MOD:broken", "nowhere"),
        ("MOD:odd", "expected bool, a number"),
        ("MOD:missing", "has no attribute 'missing'"),
        ("no_such_module_xyz:f", "No module named 'no_such_module_xyz'"),
    ],
)
def test_errors_fail_the_check(db: Engine, plan_dir: tuple[Path, str], function: str, message: str) -> None:
    result = _run(db, plan_dir, function)
    assert not result.passed and result.error and message in result.message


def test_the_plan_folder_is_only_on_sys_path_while_importing(db: Engine, plan_dir: tuple[Path, str]) -> None:
    _run(db, plan_dir, "MOD:always")
    assert str(plan_dir[0]) not in sys.path


def test_each_plan_gets_its_own_module_of_a_shared_name(db: Engine, tmp_path: Path) -> None:
    results = []
    for verdict in ("True", "False"):
        folder = tmp_path / verdict
        folder.mkdir()
        (folder / "shared_name_checks.py").write_text(f"def check(conn):\n    return {verdict}\n")
        results.append(run(db, make("python", function="shared_name_checks:check"), base_dir=folder).passed)
    assert results == [True, False]
