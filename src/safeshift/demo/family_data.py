"""A seeded, repeatable data set for the family example (users, chores, reward adjustments).

Rows are inserted in chunks through SQLAlchemy Core so the same code fills SQLite,
PostgreSQL and MariaDB quickly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CHUNK = 20_000
PARENT_SHARE = 0.35

_users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("username", sa.String),
    sa.column("hashed_password", sa.String),
    sa.column("is_active", sa.Boolean),
    sa.column("is_parent", sa.Boolean),
    sa.column("parent_id", sa.Integer),
)
_chores = sa.table(
    "chores",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("reward", sa.Numeric),
    sa.column("is_completed", sa.Boolean),
    sa.column("assignee_id", sa.Integer),
    sa.column("creator_id", sa.Integer),
)
_adjustments = sa.table(
    "reward_adjustments",
    sa.column("id", sa.Integer),
    sa.column("child_id", sa.Integer),
    sa.column("parent_id", sa.Integer),
    sa.column("amount", sa.Numeric),
    sa.column("reason", sa.String),
)
_CHORES = ["Feed the cat", "Take out trash", "Wash dishes", "Tidy room", "Water plants", "Homework"]


@dataclass
class FamilyData:
    """What was generated, including the ids of deliberate troublemakers."""

    users: int = 0
    parents: int = 0
    chores: int = 0
    reward_adjustments: int = 0
    cycle_ids: list[int] = field(default_factory=list)
    missing_parent_ids: list[int] = field(default_factory=list)
    childless_parent_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _user(uid: int, is_parent: bool, parent_id: int | None, bits: int) -> dict[str, Any]:
    return {
        "id": uid,
        "email": f"user{uid}@example.test",
        "username": f"user{uid:07d}",
        "hashed_password": f"$2b$12$demo{bits:032x}",
        "is_active": True,
        "is_parent": is_parent,
        "parent_id": parent_id,
    }


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def generate(
    conn: Connection,
    users: int = 100_000,
    *,
    seed: int = 42,
    edge_cases: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FamilyData:
    """Fill an empty chores-tracker schema (revision 0001); the same seed gives the same rows."""
    if users < 2:
        raise ValueError("the family data set needs at least 2 users")
    rng = random.Random(seed)
    data = FamilyData()
    n_parents = max(1, int(users * PARENT_SHARE))
    parent_ids = list(range(1, n_parents + 1))
    user_rows = [_user(uid, True, None, rng.getrandbits(128)) for uid in parent_ids]
    children: list[tuple[int, int]] = []
    for uid in range(n_parents + 1, users + 1):
        parent = rng.choice(parent_ids)
        children.append((uid, parent))
        user_rows.append(_user(uid, False, parent, rng.getrandbits(128)))
    next_id = users + 1
    if edge_cases:
        # two cycles (a -> b -> a, c -> d -> e -> c), children of parents that do not exist,
        # and parents with no children at all
        for size in (2, 3):
            ids = list(range(next_id, next_id + size))
            for i, uid in enumerate(ids):
                user_rows.append(_user(uid, False, ids[(i + 1) % size], rng.getrandbits(128)))
            data.cycle_ids += ids
            next_id += size
        for _ in range(3):
            user_rows.append(_user(next_id, False, users * 10 + next_id, rng.getrandbits(128)))
            data.missing_parent_ids.append(next_id)
            next_id += 1
        for _ in range(2):
            user_rows.append(_user(next_id, True, None, rng.getrandbits(128)))
            data.childless_parent_ids.append(next_id)
            next_id += 1
    chore_rows: list[dict[str, Any]] = []
    adjustment_rows: list[dict[str, Any]] = []
    for child, parent in children:
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            chore_rows.append(
                {
                    "id": len(chore_rows) + 1,
                    "title": rng.choice(_CHORES),
                    "reward": Decimal(rng.randint(50, 1000)) / 100,
                    "is_completed": rng.random() < 0.5,
                    "assignee_id": child,
                    "creator_id": parent,
                }
            )
        if rng.random() < 0.3:
            adjustment_rows.append(
                {
                    "id": len(adjustment_rows) + 1,
                    "child_id": child,
                    "parent_id": parent,
                    "amount": Decimal(rng.randint(-500, 500)) / 100,
                    "reason": "bonus" if rng.random() < 0.5 else "penalty",
                }
            )
    total = len(user_rows) + len(chore_rows) + len(adjustment_rows)
    done = 0
    for tbl, rows in ((_users, user_rows), (_chores, chore_rows), (_adjustments, adjustment_rows)):
        for chunk in _chunks(rows):
            conn.execute(sa.insert(tbl), chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    conn.commit()
    data.users = len(user_rows)
    data.parents = n_parents + len(data.childless_parent_ids)
    data.chores = len(chore_rows)
    data.reward_adjustments = len(adjustment_rows)
    return data
