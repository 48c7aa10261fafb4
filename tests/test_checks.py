"""The built-in check kinds, each passing and failing on purpose on every database."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from checks_support import (
    events,
    execute,
    families,
    family_rows,
    insert,
    insert_unchecked,
    make,
    members,
    pets,
    run,
    teams,
    users,
)

# --- no_nulls -------------------------------------------------------------------------------


def test_no_nulls_passes_on_a_filled_column(db: Engine) -> None:
    family_rows(db)
    result = run(db, make("no_nulls", column="users.family_id"))
    assert result.passed and result.value == 0 and not result.error


def test_no_nulls_names_offending_rows_by_primary_key(db: Engine) -> None:
    family_rows(db)
    execute(db, users.update().where(users.c.id.in_([5, 3])).values(family_id=None))
    result = run(db, make("no_nulls", column="users.family_id", name="users without a family"))
    assert not result.passed and not result.error
    assert result.name == "users without a family"
    assert result.value == 2 and result.samples == [3, 5]


def test_no_nulls_composite_key_samples_are_lists(db: Engine) -> None:
    insert(db, members, [{"org": "b", "num": 1, "label": None}, {"org": "a", "num": 2, "label": None}, {"org": "a", "num": 1, "label": "x"}])
    result = run(db, make("no_nulls", column="members.label"))
    assert result.value == 2 and result.samples == [["a", 2], ["b", 1]]


def test_no_nulls_without_primary_key_counts_but_cannot_name(db: Engine) -> None:
    insert(db, events, [{"user_id": None, "what": "x"}])
    result = run(db, make("no_nulls", column="events.user_id"))
    assert not result.passed and result.value == 1 and result.samples == []
    assert "set key" in result.message
    named = run(db, make("no_nulls", column="events.user_id", key="what"))
    assert named.samples == ["x"]


def test_no_nulls_samples_are_capped_at_ten(db: Engine) -> None:
    insert(db, users, [{"id": i, "family_id": None} for i in range(1, 26)])
    result = run(db, make("no_nulls", column="users.family_id"))
    assert result.value == 25 and result.samples == list(range(1, 11))


def test_a_failing_query_fails_the_check_without_raising(db: Engine) -> None:
    result = run(db, make("no_nulls", column="no_such_table.family_id"))
    assert not result.passed and result.error
    assert result.message.startswith("check could not run:")


# --- no_orphans / fk_valid ------------------------------------------------------------------


def test_no_orphans_passes_and_ignores_nulls(db: Engine) -> None:
    family_rows(db)
    execute(db, users.update().where(users.c.id == 4).values(family_id=None))
    assert run(db, make("no_orphans", child="users.family_id", parent="families.id")).passed


def test_no_orphans_on_a_self_reference_names_the_children(db: Engine) -> None:
    family_rows(db)
    execute(db, users.update().where(users.c.id.in_([4, 5])).values(parent_id=99))
    result = run(db, make("no_orphans", child="users.parent_id", parent="users.id"))
    assert not result.passed and result.value == 2 and result.samples == [4, 5]


def test_no_orphans_composite_reference(db: Engine) -> None:
    insert(db, teams, [{"org": "a", "num": 1, "title": "t1"}])
    insert(
        db,
        members,
        [
            {"org": "m", "num": 1, "team_org": "a", "team_num": 1},  # fine
            {"org": "m", "num": 2, "team_org": "a", "team_num": 2},  # orphan
            {"org": "m", "num": 3, "team_org": "a", "team_num": None},  # partly NULL: not an orphan
            {"org": "m", "num": 4, "team_org": None, "team_num": None},
        ],
    )
    check = make("no_orphans", child=["members.team_org", "members.team_num"], parent=["teams.org", "teams.num"])
    result = run(db, check)
    assert result.value == 1 and result.samples == [["m", 2]]


def test_no_orphans_without_key_shows_the_missing_parents(db: Engine) -> None:
    insert(db, events, [{"user_id": 7, "what": "a"}, {"user_id": 7, "what": "b"}, {"user_id": 3, "what": "c"}])
    result = run(db, make("no_orphans", child="events.user_id", parent="users.id"))
    assert result.value == 3 and result.samples == [3, 7]


def test_fk_valid_passes_with_constraint_and_clean_rows(db: Engine) -> None:
    family_rows(db)
    insert(db, pets, [{"id": 1, "owner_id": 1}, {"id": 2, "owner_id": None}])
    result = run(db, make("fk_valid", child="pets.owner_id", parent="users.id"))
    assert result.passed, result.message
    assert result.details["constraint"] == "fk_pets_owner"


def test_fk_valid_fails_without_a_constraint_even_when_rows_are_clean(db: Engine) -> None:
    family_rows(db)
    result = run(db, make("fk_valid", child="users.family_id", parent="families.id"))
    assert not result.passed and result.value == 0
    assert "no FOREIGN KEY constraint users.family_id → families.id" in result.message


def test_fk_valid_fails_on_rows_the_constraint_did_not_stop(db: Engine) -> None:
    family_rows(db)
    insert_unchecked(db, pets, [{"id": 1, "owner_id": 1}, {"id": 2, "owner_id": 42}])
    result = run(db, make("fk_valid", child="pets.owner_id", parent="users.id"))
    assert not result.passed and result.value == 1 and result.samples == [2]
    assert result.details["constraint"] == "fk_pets_owner"


# --- unique ---------------------------------------------------------------------------------


def test_unique_passes_and_nulls_never_clash(db: Engine) -> None:
    insert(db, users, [{"id": i, "email": None} for i in range(1, 4)] + [{"id": 4, "email": "x@y"}])
    assert run(db, make("unique", table="users", columns="email")).passed


def test_unique_counts_extra_copies_and_shows_the_values(db: Engine) -> None:
    rows = [{"id": 1, "email": "b"}, {"id": 2, "email": "b"}, {"id": 3, "email": "b"}, {"id": 4, "email": "a"}, {"id": 5, "email": "a"}, {"id": 6, "email": "c"}]
    insert(db, users, rows)
    result = run(db, make("unique", table="users", columns=["email"]))
    assert not result.passed and result.value == 3 and result.samples == ["a", "b"]


def test_unique_composite_columns(db: Engine) -> None:
    insert(
        db,
        members,
        [
            {"org": "a", "num": 1, "label": "x", "team_num": 1},
            {"org": "a", "num": 2, "label": "x", "team_num": 2},  # different pair
            {"org": "a", "num": 3, "label": "x", "team_num": None},
            {"org": "a", "num": 4, "label": "x", "team_num": None},  # NULL: no clash
            {"org": "a", "num": 5, "label": "y", "team_num": 1},
            {"org": "a", "num": 6, "label": "y", "team_num": 1},  # clash
        ],
    )
    result = run(db, make("unique", table="members", columns=["label", "team_num"]))
    assert result.value == 1 and result.samples == [["y", 1]]


# --- no_cycles ------------------------------------------------------------------------------


def test_no_cycles_passes_on_a_tree(db: Engine) -> None:
    family_rows(db)
    assert run(db, make("no_cycles", table="users", column="parent_id")).passed


def test_no_cycles_lists_members_not_the_rows_leading_in(db: Engine) -> None:
    insert(
        db,
        users,
        [
            {"id": 1, "parent_id": 2},  # 1 <-> 2
            {"id": 2, "parent_id": 1},
            {"id": 3, "parent_id": 4},  # 3 -> 4 -> 5 -> 3
            {"id": 4, "parent_id": 5},
            {"id": 5, "parent_id": 3},
            {"id": 6, "parent_id": 6},  # points at itself
            {"id": 7, "parent_id": 1},  # leads into a cycle, is not in one
            {"id": 8, "parent_id": None},
            {"id": 9, "parent_id": 42},  # dangling
        ],
    )
    result = run(db, make("no_cycles", table="users", column="parent_id", key="id"))
    assert not result.passed and result.value == 6 and result.samples == [1, 2, 3, 4, 5, 6]


def test_no_cycles_only_looks_max_depth_hops_ahead(db: Engine) -> None:
    insert(db, users, [{"id": i, "parent_id": i % 5 + 1} for i in range(1, 6)])  # a 5-cycle
    assert run(db, make("no_cycles", table="users", column="parent_id", max_depth=4)).passed
    assert run(db, make("no_cycles", table="users", column="parent_id", max_depth=5)).value == 5


# --- every ----------------------------------------------------------------------------------


def test_every_family_has_a_parent(db: Engine) -> None:
    family_rows(db)
    check = make("every", table="families", related="users.family_id", related_filter={"is_parent": True})
    assert run(db, check).passed
    insert(db, families, [{"id": 3, "name": "c"}, {"id": 4, "name": "d"}])
    insert(db, users, [{"id": 6, "family_id": 3, "is_parent": False}])  # a child is not enough
    result = run(db, check)
    assert not result.passed and result.value == 2 and result.samples == [3, 4]


def test_every_with_a_minimum(db: Engine) -> None:
    family_rows(db)  # family 1 has 3 members, family 2 has 2
    assert run(db, make("every", table="families", related="users.family_id", min=2)).passed
    result = run(db, make("every", table="families", related="users.family_id", min=3))
    assert result.value == 1 and result.samples == [2]


# --- not_empty / row_count / count_matches ------------------------------------------------------


def test_not_empty(db: Engine) -> None:
    empty = run(db, make("not_empty", table="users"))
    assert not empty.passed and empty.value == 0 and "no rows" in empty.message
    family_rows(db)
    assert run(db, make("not_empty", table="users")).passed


ROW_COUNT_CASES: list[tuple[str, dict[str, int] | None, bool]] = [
    ("== snapshot", {"users": 5}, True),
    ("== snapshot + 0", {"users": 5}, True),
    ("== snapshot", {"users": 6}, False),
    ("== snapshot.couples", {"couples": 5}, True),
    ("== 2 * snapshot.couples", {"couples": 2}, False),
    ("== 2 * snapshot.couples + 1", {"couples": 2}, True),
    (">= 1", None, True),
]


def test_row_count_expectations(db: Engine) -> None:
    family_rows(db)
    for expect, snapshot, passed in ROW_COUNT_CASES:
        result = run(db, make("row_count", table="users", expect=expect), snapshot=snapshot)
        assert (result.passed, result.value, result.error) == (passed, 5, False), expect


def test_row_count_reports_the_resolved_expectation_and_missing_snapshots(db: Engine) -> None:
    family_rows(db)
    result = run(db, make("row_count", table="users", expect="== 2 * snapshot.couples"), snapshot={"couples": 2})
    assert result.expected == "== 4 (2 * snapshot.couples)"
    before = run(db, make("row_count", table="users"), snapshot=None)
    assert not before.passed and before.error and "snapshot" in before.message


def test_count_matches(db: Engine) -> None:
    family_rows(db)
    parents = "SELECT COUNT(*) FROM users WHERE is_parent = TRUE"
    same = make("count_matches", left="SELECT COUNT(*) FROM families", right=parents)
    result = run(db, same)
    assert result.passed and result.value == 2
    more = run(db, make("count_matches", left="SELECT COUNT(*) FROM users", right=parents, op="<="))
    assert not more.passed and more.value == 5 and "right is 2" in more.message
    broken = run(db, make("count_matches", left="SELECT COUNT(*) FROM nowhere", right=parents))
    assert not broken.passed and broken.error


# --- index_exists ---------------------------------------------------------------------------


INDEX_CASES: list[tuple[str, list[str], bool]] = [
    ("users", ["family_id"], True),  # a plain index
    ("users", ["id"], True),  # the primary key
    ("members", ["team_org"], True),  # leading column of a composite index
    ("members", ["team_org", "team_num"], True),
    ("members", ["team_num"], False),  # second column only: no help for lookups
    ("teams", ["title"], True),  # a unique constraint
    ("users", ["email"], False),
]


def test_index_exists(db: Engine) -> None:
    for table, columns, passed in INDEX_CASES:
        result = run(db, make("index_exists", table=table, columns=columns))
        assert result.passed is passed, (table, columns, result.message)
        if not passed:
            assert "found:" in result.message and not result.error


# --- latency --------------------------------------------------------------------------------


@pytest.fixture
def many_users(db: Engine) -> Engine:
    insert(db, users, [{"id": i, "family_id": i % 200, "is_parent": i % 3 == 0} for i in range(1, 4001)])
    with db.begin() as conn:  # planners need statistics to prefer the index
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE users")
        elif conn.dialect.name in ("mysql", "mariadb"):
            conn.exec_driver_sql("ANALYZE TABLE users")
        else:
            conn.exec_driver_sql("ANALYZE")
    return db


LOOKUP = "SELECT id FROM users WHERE family_id = :family_id"


def test_latency_within_budget_using_the_index(many_users: Engine) -> None:
    check = make("latency", query=LOOKUP, params={"family_id": 7}, budget_ms=500, runs=5, uses_index="ix_users_family_id")
    result = run(many_users, check)
    assert result.passed, result.message
    assert result.details["runs"] == 5 and "ix_users_family_id" in result.details["indexes_used"]


def test_latency_over_budget_or_without_the_index_fails(many_users: Engine) -> None:
    slow = run(many_users, make("latency", query=LOOKUP, params={"family_id": 7}, budget_ms=0.0001, runs=3))
    assert not slow.passed and "over the 0.0001 ms budget" in slow.message
    other = make("latency", query=LOOKUP, params={"family_id": 7}, budget_ms=500, runs=3, uses_index="ix_missing")
    result = run(many_users, other)
    assert not result.passed and "does not use index ix_missing" in result.message
