"""The runbook's edge-case suite (``EdgeCaseTestSuite``) as one ``kind = "python"`` check.

Invariants of the family cutover that the built-in kinds do not express: each returns
``(passed, message, offending ids)`` and safeshift reports every sub-check by name.
Queries are SQLAlchemy Core, so the suite runs unchanged on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SAMPLES = 10
# Codes come from the migration's alphabet: no 0/O, 1/I, so they can be read out loud.
INVITE_CODE = re.compile(r"^[A-HJ-NP-Z2-9]{8}$")

users = sa.table(
    "users",
    sa.column("id"),
    sa.column("username"),
    sa.column("is_parent"),
    sa.column("parent_id"),
    sa.column("family_id"),
)
families = sa.table("families", sa.column("id"), sa.column("name"), sa.column("invite_code"))

Verdict = tuple[bool, str, list[Any]]


def _verdict(conn: Connection, offenders: sa.Select[Any], what: str) -> Verdict:
    # Count first, fetch samples only when there are offenders: with ORDER BY ... LIMIT the
    # planner picks a "first rows fast" plan (PostgreSQL walks the primary key with a nested
    # loop), which is the slowest plan there is when the answer is "none".
    counted = sa.select(sa.func.count()).select_from(offenders.order_by(None).subquery())
    if not conn.execute(counted).scalar_one():
        return (True, "", [])
    ids = list(conn.execute(offenders.limit(SAMPLES)).scalars())
    return (not ids, f"{what}, e.g. id {ids[0]}" if ids else "", ids)


def children_share_parent_family(conn: Connection) -> Verdict:
    child, parent = users.alias("c"), users.alias("p")
    offenders = (
        sa.select(child.c.id)
        .join(parent, parent.c.id == child.c.parent_id)
        .where(child.c.family_id != parent.c.family_id)
        .order_by(child.c.id)
    )
    return _verdict(conn, offenders, "children in another family than their parent")


def invite_codes_well_formed(conn: Connection) -> Verdict:
    # Streamed in chunks: the families table is never held in memory as a whole.
    query = sa.select(families.c.id, families.c.invite_code).order_by(families.c.id)
    bad = []
    result = conn.execute(query.execution_options(yield_per=5_000))
    try:
        for family_id, code in result:
            if code is None or not INVITE_CODE.match(code):
                bad.append(family_id)
                if len(bad) >= SAMPLES:
                    break
    finally:
        result.close()
    return (not bad, f"malformed invite codes, e.g. family {bad[0]}" if bad else "", bad)


def families_named_after_a_parent(conn: Connection) -> Verdict:
    founder: sa.Select[Any] = (
        sa.select(sa.literal_column("1"))
        .select_from(users)
        .where(
            users.c.family_id == families.c.id,
            users.c.is_parent == sa.true(),
            families.c.name == sa.type_coerce(users.c.username, sa.String) + "'s Family",
        )
    )
    offenders = sa.select(families.c.id).where(~founder.exists()).order_by(families.c.id)
    return _verdict(conn, offenders, "families not named after one of their parents")


def edge_cases(conn: Connection) -> dict[str, Verdict]:
    """The suite: every sub-check runs, so one report shows all that is wrong."""
    return {
        "parent and child share a family": children_share_parent_family(conn),
        "invite codes are well-formed": invite_codes_well_formed(conn),
        "every family is named after a parent": families_named_after_a_parent(conn),
    }
