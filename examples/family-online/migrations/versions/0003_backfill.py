"""Backfill: a family per parent, then every user's ``family_id``, in small committed batches.

Revision ID: 0003
Revises: 0002

The set-based revision (examples/family 0002) moves the data in one statement, whose row
locks every writer waits for until it ends. Here both passes walk ``users`` by id with
:func:`safeshift.backfill.backfill`, one transaction of about 100 ms per batch, inside
Alembic's ``autocommit_block()`` so each batch really commits (env.py runs one
transaction per revision, which the block needs). Both passes are idempotent: a batch
redone after a crash finds its families already there and its users already set. Under
``safeshift run`` the runner's checkpoints and progress bar apply to them.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import Connection

from safeshift.backfill import backfill

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_IN_CHUNK = 5_000  # values per IN (...) list: below every database's parameter limit

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("is_parent", sa.Boolean),
    sa.column("parent_id", sa.Integer),
    sa.column("family_id", sa.Integer),
)
families = sa.table(
    "families",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("invite_code", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("founder_id", sa.Integer),
)

# A child's family is its parent's; a parent's is the one it founded (an index lookup).
founder = sa.case((users.c.is_parent == sa.true(), users.c.id), else_=users.c.parent_id)
family_of_user = sa.select(families.c.id).where(families.c.founder_id == founder).scalar_subquery()


def _fresh_codes(conn: Connection, n: int) -> list[str]:
    """``n`` invite codes used by no family yet (random codes collide across batches otherwise)."""
    codes: set[str] = set()
    while len(codes) < n:
        wanted = n - len(codes)
        batch = {"".join(secrets.choice(_CODE_ALPHABET) for _ in range(8)) for _ in range(wanted)} - codes
        taken: set[str] = set()
        listed = sorted(batch)
        for i in range(0, len(listed), _IN_CHUNK):
            chunk = listed[i : i + _IN_CHUNK]
            taken |= set(conn.execute(sa.select(families.c.invite_code).where(families.c.invite_code.in_(chunk))).scalars())
        codes |= batch - taken
    return list(codes)[:n]


def create_families(conn: Connection, lo: Any, hi: Any) -> int:
    """Found a family for each parent in ``lo < id <= hi`` that has none yet.

    Two index range scans (users by id, families by founder_id) rather than one NOT EXISTS:
    PostgreSQL's generic plan for a prepared anti-join may hash the whole families table
    on every batch, which makes each batch cost the size of the table.
    """
    parents_q = sa.select(users.c.id, users.c.username).where(users.c.id <= hi, users.c.is_parent == sa.true())
    founded_q = sa.select(families.c.founder_id).where(families.c.founder_id <= hi)
    if lo is not None:
        parents_q = parents_q.where(users.c.id > lo)
        founded_q = founded_q.where(families.c.founder_id > lo)
    founded = set(conn.execute(founded_q).scalars())
    parents = [(uid, name) for uid, name in conn.execute(parents_q.order_by(users.c.id)) if uid not in founded]
    if not parents:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    codes = _fresh_codes(conn, len(parents))
    conn.execute(
        sa.insert(families),
        [
            {"name": f"{username}'s Family", "invite_code": code, "created_at": now, "founder_id": uid}
            for (uid, username), code in zip(parents, codes, strict=True)
        ],
    )
    return len(parents)


def upgrade() -> None:
    if context.is_offline_mode():
        op.execute("-- backfill (runs online only): families per parent, then users.family_id, in committed batches")
        return
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        backfill(bind, users, apply=create_families, name="families:create")
        if bind.dialect.name == "postgresql":
            bind.exec_driver_sql("ANALYZE families")  # plan the lookups with the new rows counted
        backfill(
            bind,
            users,
            set_={"family_id": family_of_user},
            where=users.c.family_id.is_(None),
            name="users:family_id",
        )


def downgrade() -> None:
    if context.is_offline_mode():
        op.execute("-- undo the backfill (runs online only): users.family_id = NULL, then no families")
        return
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        backfill(bind, users, set_={"family_id": None}, where=users.c.family_id.is_not(None), name="users:family_id:undo", resume=False)
        bind.execute(sa.delete(families))
