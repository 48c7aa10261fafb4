"""Migrators: how a migration is applied (Alembic, a folder of SQL files, an external tool).

The plan chooses one with ``[migration] engine = "alembic" | "sql" | "command"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safeshift.migrators.alembic import AlembicMigrator
from safeshift.migrators.base import MIGRATORS, Migrator, Revision, attach_output, output_of
from safeshift.migrators.command import CommandMigrator
from safeshift.migrators.sqlfiles import SqlFilesMigrator

if TYPE_CHECKING:
    from safeshift.config.models import Plan

__all__ = [
    "MIGRATORS",
    "AlembicMigrator",
    "CommandMigrator",
    "Migrator",
    "Revision",
    "SqlFilesMigrator",
    "attach_output",
    "get_migrator",
    "output_of",
]


def get_migrator(plan: Plan) -> Migrator:
    """The migrator the plan's ``migration.engine`` names."""
    cls = MIGRATORS.get(plan.migration.engine, where=f"{plan.source.name}: migration.engine")
    return cls(plan)
