"""Expand: add ``families`` and a nullable, indexed ``users.family_id``; move no data.

Revision ID: 0002
Revises: 0001

Every statement here takes its table lock only for an instant, and waits for it at most a
few seconds (a lock timeout), so a long transaction elsewhere makes the step fail and be
retried instead of queueing every writer behind it:

- PostgreSQL: ``ADD COLUMN`` without a default is a catalog change; the index is built
  ``CONCURRENTLY``, outside a transaction, so writes continue while it is built.
- MariaDB/MySQL: ``ALGORITHM=INSTANT`` for the column, ``INPLACE, LOCK=NONE`` for the index:
  the server refuses rather than silently copying the table.
- SQLite: ``ADD COLUMN`` is a schema edit; the foreign key goes on here, because SQLite
  cannot add one later without rebuilding the table.

``families.founder_id`` (unique) ties each family to the parent who founds it, so the
backfill can create families batch by batch and find a user's family by an index lookup.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LOCK_TIMEOUT_S = 5


def _dialect() -> str:
    return str(context.get_context().dialect.name)


def lock_timeout() -> None:
    """Bound lock waits unless the caller (safeshift's [apply] lock_timeout) already did."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    if _dialect() == "postgresql":
        if bind.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar() == "0":
            op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
    elif _dialect() in ("mysql", "mariadb"):
        if int(bind.exec_driver_sql("SELECT @@SESSION.lock_wait_timeout").scalar() or 0) > 60:
            op.execute(f"SET SESSION lock_wait_timeout = {LOCK_TIMEOUT_S}")


def upgrade() -> None:
    lock_timeout()
    op.create_table(
        "families",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("invite_code", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("founder_id", sa.Integer, nullable=True),
        sa.UniqueConstraint("invite_code", name="uq_families_invite_code"),
        sa.UniqueConstraint("founder_id", name="uq_families_founder_id"),
    )
    dialect = _dialect()
    if dialect == "postgresql":
        op.add_column("users", sa.Column("family_id", sa.Integer, nullable=True))
        with op.get_context().autocommit_block():
            op.create_index("ix_users_family_id", "users", ["family_id"], postgresql_concurrently=True)
    elif dialect in ("mysql", "mariadb"):
        op.execute("ALTER TABLE users ADD COLUMN family_id INTEGER NULL, ALGORITHM=INSTANT")
        op.execute("CREATE INDEX ix_users_family_id ON users (family_id) ALGORITHM=INPLACE LOCK=NONE")
    else:
        op.execute("ALTER TABLE users ADD COLUMN family_id INTEGER REFERENCES families (id)")
        op.create_index("ix_users_family_id", "users", ["family_id"])


def downgrade() -> None:
    lock_timeout()
    op.drop_index("ix_users_family_id", table_name="users")
    if _dialect() == "sqlite":  # a column in a foreign key: SQLite needs the table rebuilt
        with op.batch_alter_table("users") as batch:
            batch.drop_column("family_id")
    else:
        op.drop_column("users", "family_id")
    op.drop_table("families")
