"""Baseline mode: violations present at the snapshot are tolerated, new ones fail and are named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from checks_support import (
    capture,
    execute,
    families,
    family_rows,
    insert,
    insert_unchecked,
    make,
    pets,
    run,
    users,
)
from safeshift.checks import CaptureFailed
from safeshift.checks.base import Check

SNAPSHOT = {"users": 0}  # any snapshot: the run is past the snapshot phase

Dirty = Callable[[Engine], None]


def _null_family(ids: list[int]) -> Dirty:
    return lambda e: insert(e, users, [{"id": i, "family_id": None} for i in ids])


def _orphans(ids: list[int]) -> Dirty:
    return lambda e: insert(e, users, [{"id": i, "family_id": 900 + i} for i in ids])


def _same_email(ids: list[int]) -> Dirty:
    return lambda e: insert(e, users, [{"id": i, "email": "dup@x"} for i in ids])


def _cycle(ids: list[int]) -> Dirty:  # each id pair points at each other
    return lambda e: insert(e, users, [{"id": i, "parent_id": i + 1 if i % 2 else i - 1} for i in ids])


def _unowned_pets(ids: list[int]) -> Dirty:
    return lambda e: insert_unchecked(e, pets, [{"id": i, "owner_id": 900 + i} for i in ids])


def _childless(ids: list[int]) -> Dirty:
    return lambda e: insert(e, families, [{"id": i, "name": f"f{i}"} for i in ids])


CASES: dict[str, tuple[Callable[[], Check], Dirty, Dirty, list[Any]]] = {
    # kind: (the check, dirt before the change, dirt the change adds, new offenders as shown)
    "no_nulls": (lambda: make("no_nulls", column="users.family_id", baseline=True), _null_family([11, 12]), _null_family([13]), [13]),
    "no_orphans": (lambda: make("no_orphans", child="users.family_id", parent="families.id", baseline=True), _orphans([11]), _orphans([12, 13]), [12, 13]),
    "unique": (lambda: make("unique", table="users", columns="email", baseline=True), _same_email([11, 12]), _same_email([13]), ["dup@x"]),
    "no_cycles": (lambda: make("no_cycles", table="users", column="parent_id", baseline=True), _cycle([11, 12]), _cycle([13, 14]), [13, 14]),
    "fk_valid": (lambda: make("fk_valid", child="pets.owner_id", parent="users.id", baseline=True), _unowned_pets([1]), _unowned_pets([2]), [2]),
    "every": (
        lambda: make("every", table="families", related="users.family_id", related_filter={"is_parent": True}, baseline=True),
        _childless([11]),
        _childless([12]),
        [12],
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_old_dirt_passes_new_dirt_fails_and_is_named(db: Engine, kind: str) -> None:
    new_check, before, change, new = CASES[kind]
    family_rows(db)
    before(db)
    check = new_check()
    plain = type(check)(check.config.model_copy(update={"baseline": False}), "post", 0)
    assert not run(db, plain).passed  # the dirt is real
    baseline = capture(db, check)
    assert check.name in baseline
    clean = run(db, check, snapshot=SNAPSHOT, baseline=baseline)
    assert clean.passed, clean.message
    assert clean.details["baseline_count"] == clean.value > 0
    change(db)
    result = run(db, check, snapshot=SNAPSHOT, baseline=baseline)
    assert not result.passed and not result.error
    assert result.samples == new and result.details["new_offenders"] == new
    assert "new" in result.message


def test_fixed_dirt_still_passes(db: Engine) -> None:
    check = make("no_nulls", column="users.family_id", baseline=True)
    _null_family([1, 2])(db)
    baseline = capture(db, check)
    execute(db, users.delete().where(users.c.id == 1))
    result = run(db, check, snapshot=SNAPSHOT, baseline=baseline)
    assert result.passed and result.value == 1


def test_before_the_snapshot_baseline_mode_tolerates_everything(db: Engine) -> None:
    _null_family([1])(db)
    result = run(db, make("no_nulls", column="users.family_id", baseline=True), snapshot=None)
    assert result.passed and result.value == 1 and "tolerates" in result.message


def test_after_the_snapshot_a_missing_baseline_is_a_failure(db: Engine) -> None:
    result = run(db, make("no_nulls", column="users.family_id", baseline=True), snapshot=SNAPSHOT)
    assert not result.passed and result.error and "no baseline was captured" in result.message


def test_a_failed_capture_is_reported_by_the_check(db: Engine) -> None:
    check = make("no_nulls", column="nowhere.family_id", baseline=True)
    baseline = capture(db, check)
    assert isinstance(baseline[check.name], CaptureFailed)
    result = run(db, check, snapshot=SNAPSHOT, baseline=baseline)
    assert not result.passed and "capturing the baseline failed" in result.message


def test_checks_without_baseline_mode_capture_nothing(db: Engine) -> None:
    assert capture(db, make("no_nulls", column="users.family_id"), make("not_empty", table="users")) == {}


def test_past_the_cap_only_the_count_is_compared(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from safeshift.checks import violations

    monkeypatch.setattr(violations, "BASELINE_CAP", 2)
    check = make("no_nulls", column="users.family_id", baseline=True)
    _null_family([1, 2, 3])(db)
    baseline = capture(db, check)
    assert not baseline[check.name].complete and len(baseline[check.name].keys) == 2
    assert run(db, check, snapshot=SNAPSHOT, baseline=baseline).passed
    _null_family([4])(db)
    grown = run(db, check, snapshot=SNAPSHOT, baseline=baseline)
    assert not grown.passed and grown.samples == [] and "compared by count" in grown.message
