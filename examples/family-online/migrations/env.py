"""Alembic environment of the online family example.

Like ``examples/family``'s, with one difference that matters: ``transaction_per_migration``.
Each revision commits on its own (expand, backfill, contract are separate steps), and it
is what lets a revision use ``op.get_context().autocommit_block()``: Alembic can only
leave and re-enter a transaction it started itself, and with one transaction per
revision it has always started one (also on SQLite and MariaDB, whose DDL Alembic does
not treat as transactional). Inside that block the backfill commits every batch.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

config = context.config


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ["FAMILY_DATABASE_URL"]
    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(os.environ["FAMILY_DATABASE_URL"])
    with engine.connect() as conn:
        context.configure(connection=conn, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
