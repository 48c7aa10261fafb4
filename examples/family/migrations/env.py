"""Alembic environment of the family example.

Uses the connection safeshift passes in ``config.attributes["connection"]`` (Alembic's
recipe for sharing a connection); the plain ``alembic`` CLI falls back to FAMILY_DATABASE_URL.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

config = context.config


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ["FAMILY_DATABASE_URL"]
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(os.environ["FAMILY_DATABASE_URL"])
    with engine.connect() as conn:
        context.configure(connection=conn, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
