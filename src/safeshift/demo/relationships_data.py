"""A seeded, repeatable data set for the relationships example (the schema of 0001_baseline).

Couples with a second partner who has not joined yet are always there (the migration must
make them PENDING relationships with one member); duplicate invite codes only with
``edge_cases`` (the pre-check must block them). Rows go in through chunked SQLAlchemy Core
inserts so the same code fills SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CHUNK = 20_000
PENDING_SHARE = 0.05  # couples whose second partner has not joined
DUPLICATE_PAIRS = 3  # with edge cases: pairs of couples sharing an invite code
TABLES = ["users", "couples", "sessions", "points", "streaks"]
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_START = datetime(2023, 1, 1)
_SPAN_S = 2 * 365 * 86_400
_REASONS = ["session completed", "daily check-in", "streak bonus", "challenge won"]

_users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("display_name", sa.String),
    sa.column("created_at", sa.DateTime),
)
_couples = sa.table(
    "couples",
    sa.column("id", sa.Integer),
    sa.column("partner1_id", sa.Integer),
    sa.column("partner2_id", sa.Integer),
    sa.column("invite_code", sa.String),
    sa.column("created_at", sa.DateTime),
)
_sessions = sa.table(
    "sessions",
    sa.column("id", sa.Integer),
    sa.column("couple_id", sa.Integer),
    sa.column("started_at", sa.DateTime),
    sa.column("duration_seconds", sa.Integer),
    sa.column("score", sa.Integer),
)
_points = sa.table(
    "points",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("couple_id", sa.Integer),
    sa.column("amount", sa.Integer),
    sa.column("reason", sa.String),
    sa.column("created_at", sa.DateTime),
)
_streaks = sa.table(
    "streaks",
    sa.column("id", sa.Integer),
    sa.column("couple_id", sa.Integer),
    sa.column("current_days", sa.Integer),
    sa.column("longest_days", sa.Integer),
    sa.column("last_activity_on", sa.Date),
)


@dataclass
class RelationshipsData:
    """What was generated, including the ids of the couples a check should name."""

    users: int = 0
    couples: int = 0
    pending_couples: int = 0
    partners: int = 0  # relationship members the migration must create
    sessions: int = 0
    points: int = 0
    streaks: int = 0
    pending_couple_ids: list[int] = field(default_factory=list)  # the first few
    duplicate_invite_couple_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _code(rng: random.Random) -> str:
    return "".join(rng.choice(_CODE_ALPHABET) for _ in range(8))


def generate(
    conn: Connection,
    couples: int = 50_000,
    *,
    seed: int = 42,
    edge_cases: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RelationshipsData:
    """Fill an empty 0001_baseline schema; the same seed gives the same rows."""
    if couples < 1:
        raise ValueError("the relationships data set needs at least 1 couple")
    rng = random.Random(seed)
    data = RelationshipsData()
    users: list[dict[str, Any]] = []
    couple_rows: list[dict[str, Any]] = []
    codes: set[str] = set()

    def new_user(created: datetime) -> int:
        uid = len(users) + 1
        users.append(
            {"id": uid, "email": f"user{uid}@example.test", "display_name": f"User {uid}", "created_at": created}
        )
        return uid

    for cid in range(1, couples + 1):
        created = _START + timedelta(seconds=rng.randrange(_SPAN_S))
        # the last couple always waits for its second partner, so the case is never missing
        pending = cid == couples or rng.random() < PENDING_SHARE
        code = _code(rng)
        while code in codes:
            code = _code(rng)
        codes.add(code)
        partner1 = new_user(created)
        partner2 = None if pending else new_user(created + timedelta(minutes=rng.randrange(1, 10_000)))
        couple_rows.append(
            {"id": cid, "partner1_id": partner1, "partner2_id": partner2, "invite_code": code, "created_at": created}
        )
        if pending:
            data.pending_couples += 1
            if len(data.pending_couple_ids) < 10:
                data.pending_couple_ids.append(cid)

    if edge_cases and couples >= 2:
        # invite codes shared by two couples: legal in the legacy schema, fatal for the new one
        picked = rng.sample(range(couples), min(2 * DUPLICATE_PAIRS, couples - couples % 2))
        for first, second in zip(picked[0::2], picked[1::2], strict=True):
            couple_rows[second]["invite_code"] = couple_rows[first]["invite_code"]
            data.duplicate_invite_couple_ids += [couple_rows[first]["id"], couple_rows[second]["id"]]
        data.duplicate_invite_couple_ids.sort()

    session_rows: list[dict[str, Any]] = []
    point_rows: list[dict[str, Any]] = []
    streak_rows: list[dict[str, Any]] = []
    for couple in couple_rows:
        members = [m for m in (couple["partner1_id"], couple["partner2_id"]) if m is not None]
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            session_rows.append(
                {
                    "id": len(session_rows) + 1,
                    "couple_id": couple["id"],
                    "started_at": couple["created_at"] + timedelta(hours=rng.randrange(1, 5000)),
                    "duration_seconds": rng.randrange(300, 3600),
                    "score": rng.randrange(0, 101) if rng.random() < 0.8 else None,
                }
            )
        for _ in range(rng.choice((0, 1, 2, 3))):
            point_rows.append(
                {
                    "id": len(point_rows) + 1,
                    "user_id": rng.choice(members),
                    # a few points belong to a user alone (no couple): they must stay unlinked
                    "couple_id": None if rng.random() < 0.05 else couple["id"],
                    "amount": rng.choice((5, 10, 10, 20, 50)),
                    "reason": rng.choice(_REASONS),
                    "created_at": couple["created_at"] + timedelta(hours=rng.randrange(1, 5000)),
                }
            )
        if len(members) == 2 and rng.random() < 0.7:
            current = rng.randrange(0, 60)
            streak_rows.append(
                {
                    "id": len(streak_rows) + 1,
                    "couple_id": couple["id"],
                    "current_days": current,
                    "longest_days": current + rng.randrange(0, 90),
                    "last_activity_on": date(2024, 12, 31) - timedelta(days=rng.randrange(0, 30)),
                }
            )

    plan = [
        (_users, users),
        (_couples, couple_rows),
        (_sessions, session_rows),
        (_points, point_rows),
        (_streaks, streak_rows),
    ]
    total = sum(len(rows) for _, rows in plan)
    done = 0
    for tbl, rows in plan:
        for chunk in _chunks(rows):
            conn.execute(sa.insert(tbl), chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    conn.commit()
    data.users = len(users)
    data.couples = len(couple_rows)
    data.partners = sum(1 + (c["partner2_id"] is not None) for c in couple_rows)
    data.sessions = len(session_rows)
    data.points = len(point_rows)
    data.streaks = len(streak_rows)
    return data
