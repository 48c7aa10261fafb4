"""table_unchanged: checksums of key ranges before and after, narrowed down to the first keys."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from checks_support import (
    capture,
    events,
    execute,
    insert,
    make,
    members,
    run,
    users,
)
from safeshift.checks import CaptureFailed
from safeshift.checks.table_unchanged import TableState
from safeshift.dialects import get_dialect

SNAPSHOT = {"users": 0}
things_md = sa.MetaData()
things = sa.Table(
    "things",
    things_md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("ratio", sa.Float),
    sa.Column("seen", sa.DateTime),
    sa.Column("flag", sa.Boolean),
    sa.Column("a", sa.String(20)),
    sa.Column("b", sa.String(20)),
)


def _users(db: Engine, n: int) -> None:
    rows = [{"id": i, "family_id": i % 7 or None, "email": f"u{i}@x", "is_parent": i % 2 == 0} for i in range(1, n + 1)]
    insert(db, users, rows)


def _check(**config: Any) -> Any:
    return make("table_unchanged", **{"table": "users", **config})


def _after(db: Engine, check: Any, baseline: dict[str, Any]) -> Any:
    return run(db, check, snapshot=SNAPSHOT, baseline=baseline)


def test_untouched_table_passes(db: Engine) -> None:
    _users(db, 100)
    check = _check()
    baseline = capture(db, check)
    state = baseline[check.name]
    assert isinstance(state, TableState) and state.rows == 100 and state.key == ("id",)
    result = _after(db, check, baseline)
    assert result.passed and result.value == 0, result.message


@pytest.mark.parametrize(
    ("change", "key", "what"),
    [
        (users.update().where(users.c.id == 37).values(email="changed@x"), 37, "changed"),
        (users.update().where(users.c.id == 38).values(family_id=None), 38, "changed"),
        (users.update().where(users.c.id == 40).values(nick=""), 40, "changed"),  # NULL -> ''
        (users.delete().where(users.c.id == 52), 52, "deleted"),
        (users.insert().values(id=1000, email="new@x"), 1000, "inserted"),
        (users.insert().values(id=-5, email="new@x"), -5, "inserted"),
    ],
)
def test_a_change_is_found_and_named(db: Engine, change: sa.Executable, key: int, what: str) -> None:
    _users(db, 100)
    check = _check(segments=4)
    baseline = capture(db, check)
    execute(db, change)
    result = _after(db, check, baseline)
    assert not result.passed and not result.error, result.message
    assert result.value == 1  # one of the top-level segments differs
    assert result.samples == [key]
    assert result.details["differences"] == [{"key": key, "change": what}]
    assert f"{key} {what}" in result.message


def test_several_changes_are_listed_in_key_order(db: Engine) -> None:
    _users(db, 300)
    check = _check()
    baseline = capture(db, check)
    execute(db, users.update().where(users.c.id.in_([250, 3, 120])).values(email="x"))
    execute(db, users.delete().where(users.c.id == 200))
    result = _after(db, check, baseline)
    assert result.samples == [3, 120, 200, 250]
    assert result.details["rows_before"] == 300 and result.details["rows_after"] == 299


def test_values_moving_between_columns_are_a_change(db: Engine) -> None:
    things_md.create_all(db)
    row = {"id": 1, "price": Decimal("9.50"), "ratio": 0.1, "seen": dt.datetime(2024, 1, 2, 3, 4, 5), "flag": True, "a": "ab", "b": "c"}
    insert(db, things, [row, {**row, "id": 2, "a": None, "b": None, "price": None}])
    check = _check(table="things")
    baseline = capture(db, check)
    assert _after(db, check, baseline).passed
    execute(db, things.update().where(things.c.id == 1).values(a="a", b="bc"))
    result = _after(db, check, baseline)
    assert result.samples == [1] and result.details["differences"][0]["change"] == "changed"


def test_composite_key(db: Engine) -> None:
    insert(db, members, [{"org": org, "num": n, "label": f"{org}{n}"} for org in "abc" for n in range(1, 6)])
    check = _check(table="members", segments=2)
    baseline = capture(db, check)
    execute(db, members.update().where(members.c.org == "b", members.c.num == 4).values(label="moved"))
    result = _after(db, check, baseline)
    assert result.samples == [["b", 4]]
    assert baseline[check.name].key == ("org", "num")


def test_coarse_leaves_name_the_key_range_of_several_changes(db: Engine) -> None:
    _users(db, 200)
    check = _check(max_leaves=4, segments=2)  # 50 rows per leaf
    baseline = capture(db, check)
    assert len(baseline[check.name].leaves) == 4
    execute(db, users.update().where(users.c.id.in_([120, 130])).values(email="x"))
    result = _after(db, check, baseline)
    assert not result.passed
    assert result.details["differences"] == [{"from": 101, "to": 151, "rows_before": 50, "rows_after": 50}]
    assert result.samples == ["keys 101 to 151 (50 rows before, 50 after)"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (users.update().where(users.c.id == 120).values(email="x"), {"key": 120, "change": "changed"}),
        (users.update().where(users.c.id == 101).values(family_id=None), {"key": 101, "change": "changed"}),
        (users.update().where(users.c.id == 150).values(is_parent=False, email="y"), {"key": 150, "change": "changed"}),
        (users.delete().where(users.c.id == 101), {"key": 101, "change": "deleted"}),
        (
            users.delete().where(users.c.id == 133),
            {"from": 132, "to": 134, "rows_before": 50, "rows_after": 49, "change": "deleted"},
        ),
        (users.insert().values(id=1000, email="new", is_parent=False), {"key": 1000, "change": "inserted"}),
    ],
    ids=["changed", "changed-first-to-null", "changed-last", "deleted-first", "deleted-middle", "inserted"],
)
def test_a_single_change_in_a_coarse_leaf_is_named(db: Engine, change: sa.Executable, expected: dict[str, Any]) -> None:
    """Many rows per leaf, one row different: the weighted checksum names it anyway."""
    _users(db, 200)
    check = _check(max_leaves=4, segments=2)
    baseline = capture(db, check)
    execute(db, change)
    result = _after(db, check, baseline)
    assert not result.passed
    assert result.details["differences"] == [expected]


def test_capture_keeps_at_most_max_leaves_and_still_names_the_key(db: Engine) -> None:
    _users(db, 5000)
    check = _check(max_leaves=64)
    baseline = capture(db, check)
    state = baseline[check.name]
    assert len(state.leaves) <= 64 and state.rows_per_leaf == 79
    execute(db, users.update().where(users.c.id == 4321).values(email="x"))
    (diff,) = _after(db, check, baseline).details["differences"]
    assert diff == {"key": 4321, "change": "changed"}


def test_a_table_empty_at_capture(db: Engine) -> None:
    check = _check()
    baseline = capture(db, check)
    assert _after(db, check, baseline).passed
    _users(db, 3)
    result = _after(db, check, baseline)
    assert result.samples == [1, 2, 3] and {d["change"] for d in result.details["differences"]} == {"inserted"}


def test_before_the_snapshot_there_is_nothing_to_compare(db: Engine) -> None:
    _users(db, 3)
    assert run(db, _check(), snapshot=None).passed
    after = run(db, _check(), snapshot=SNAPSHOT)
    assert not after.passed and after.error


def test_a_table_without_primary_key_needs_a_key(db: Engine) -> None:
    insert(db, events, [{"user_id": 1, "what": "a"}, {"user_id": 2, "what": "b"}])
    check = _check(table="events")
    failed = capture(db, check)[check.name]
    assert isinstance(failed, CaptureFailed) and "set key" in failed.message
    keyed = _check(table="events", key=["user_id", "what"])
    baseline = capture(db, keyed)
    execute(db, events.delete().where(events.c.user_id == 2))
    assert _after(db, keyed, baseline).samples == [[2, "b"]]


def test_only_the_captured_columns_are_compared(db: Engine) -> None:
    _users(db, 10)
    check = _check(columns=["id", "email"])
    baseline = capture(db, check)
    execute(db, users.update().values(nick="ignored"))
    assert _after(db, check, baseline).passed
    execute(db, users.update().where(users.c.id == 2).values(email="y"))
    assert _after(db, check, baseline).samples == [2]


def test_a_large_table_is_compared_in_the_database(tmp_path: Path) -> None:
    """50k rows on SQLite: capture keeps max_leaves checksums, measure runs a few aggregates."""
    path = tmp_path / "big.sqlite3"
    path.touch()
    engine = get_dialect(sa.make_url(f"sqlite:///{path}")).create_engine()
    try:
        users.metadata.create_all(engine)
        _users(engine, 50_000)
        check = _check(max_leaves=1024)
        baseline = capture(engine, check)
        assert len(baseline[check.name].leaves) <= 1024
        statements: list[str] = []

        def queries() -> list[str]:
            return [q for q in statements if q.startswith("SELECT")]

        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert _after(engine, check, baseline).passed
        assert len(queries()) == 16  # one aggregate per segment, no row fetched
        execute(engine, users.update().where(users.c.id == 31_337).values(email="x"))
        statements.clear()
        (diff,) = _after(engine, check, baseline).details["differences"]
        assert diff == {"key": 31_337, "change": "changed"}
        assert len(queries()) <= 16 * 4
    finally:
        engine.dispose()


def test_single_change_is_solved_in_a_large_leaf() -> None:
    """The locator's algebra on a 5,000-row leaf: every kind of single change, at the edges too."""
    import random

    from safeshift.checks.table_unchanged import Leaf, _single_change

    rng = random.Random(7)
    keys = list(range(10, 50_010, 10))
    hashes = [rng.getrandbits(63) for _ in keys]

    def leaf_of(hs: list[int]) -> Leaf:
        return Leaf(start=(keys[0],), count=len(hs), checksum=sum(hs),
                    weighted=sum((p + 1) * h for p, h in enumerate(hs)))

    before = leaf_of(hashes)
    for i in (0, 1, 2_500, len(keys) - 1):
        changed = [*hashes[:i], rng.getrandbits(63), *hashes[i + 1:]]
        assert _single_change(before, keys, changed) == {"key": keys[i], "change": "changed"}
        new_key = keys[i] + 5
        ins_keys = [*keys[: i + 1], new_key, *keys[i + 1:]]
        inserted = [*hashes[: i + 1], rng.getrandbits(63), *hashes[i + 1:]]
        assert _single_change(before, ins_keys, inserted) == {"key": new_key, "change": "inserted"}
        del_keys, deleted = keys[:i] + keys[i + 1:], hashes[:i] + hashes[i + 1:]
        found = _single_change(before, del_keys, deleted)
        if i == 0:
            assert found == {"key": keys[0], "change": "deleted"}
        else:
            assert found is not None and found["change"] == "deleted"
            assert found["from"] == keys[i - 1] and found["to"] == (keys[i + 1] if i + 1 < len(keys) else None)
    two = list(hashes)
    two[3], two[4_000] = rng.getrandbits(63), rng.getrandbits(63)
    assert _single_change(before, keys, two) is None  # two changes: only the range can be named


KEY_TYPES: dict[str, tuple[Any, list[Any]]] = {
    "boolean": (sa.Boolean, [False, True]),
    "uuid": (sa.Uuid, [uuid.UUID(int=i * 7919) for i in range(1, 41)]),
    "text": (sa.String(20), [f"k{i:03d}" for i in range(40)]),
    "numeric": (sa.Numeric(10, 2), [Decimal(i) / 4 for i in range(40)]),
    "date": (sa.Date, [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(40)]),
}


@pytest.mark.parametrize("key_type", [*KEY_TYPES, "composite"])
def test_every_primary_key_type_is_hashed_and_a_change_named(db: Engine, key_type: str) -> None:
    """Row hashing needs only equality and order of the key: boolean and uuid keys too (no min() on PostgreSQL)."""
    md = sa.MetaData()
    if key_type == "composite":
        table = sa.Table(
            "keyed", md,
            sa.Column("a", sa.Boolean, primary_key=True), sa.Column("b", sa.Uuid, primary_key=True),
            sa.Column("v", sa.Integer),
        )
        keys = [{"a": i % 2 == 0, "b": uuid.UUID(int=i)} for i in range(1, 41)]
    else:
        column_type, values = KEY_TYPES[key_type]
        table = sa.Table("keyed", md, sa.Column("k", column_type, primary_key=True), sa.Column("v", sa.Integer))
        keys = [{"k": value} for value in values]
    md.create_all(db)
    insert(db, table, [{**key, "v": i} for i, key in enumerate(keys)])
    check = make("table_unchanged", table="keyed", max_leaves=8)  # several rows per leaf: the leaves' first keys count
    baseline = capture(db, check)
    assert not isinstance(baseline[check.name], CaptureFailed), baseline[check.name]
    assert run(db, check, snapshot={"keyed": len(keys)}, baseline=baseline).passed
    changed = keys[len(keys) // 2]
    execute(db, table.update().where(*(table.c[k] == v for k, v in changed.items())).values(v=-1))
    result = run(db, check, snapshot={"keyed": len(keys)}, baseline=baseline)
    assert not result.passed and not result.error, result.message
