"""The chores-tracker schema before families (the same tables as examples/family 0001).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # parent_id has no foreign key, as in the legacy schema: that is how children whose
    # parent row is missing come to exist, and why the cutover checks for them first.
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("hashed_password", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_parent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("parent_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_users_parent_id", "users", ["parent_id"])
    op.create_table(
        "chores",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("reward", sa.Numeric(10, 2), nullable=False),
        sa.Column("is_completed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("assignee_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("creator_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    )
    op.create_index("ix_chores_assignee_id", "chores", ["assignee_id"])
    op.create_table(
        "reward_adjustments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
    )
    op.create_index("ix_reward_adjustments_child_id", "reward_adjustments", ["child_id"])


def downgrade() -> None:
    op.drop_table("reward_adjustments")
    op.drop_table("chores")
    op.drop_index("ix_users_parent_id", table_name="users")
    op.drop_table("users")
