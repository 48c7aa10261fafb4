"""Migration-engine registry: how a migration is applied (Alembic, a folder of SQL files, an external tool)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from safeshift.engines.alembic import AlembicEngine
from safeshift.engines.base import MigrationEngine, Revision
from safeshift.engines.command import CommandEngine
from safeshift.engines.sqlfiles import SqlFilesEngine
from safeshift.errors import ConfigError

if TYPE_CHECKING:
    from safeshift.config.models import Plan

__all__ = ["CommandEngine", "MigrationEngine", "Revision", "SqlFilesEngine", "get_engine", "register_engine"]

_REGISTRY: dict[str, type[MigrationEngine]] = {
    cls.name: cls for cls in (AlembicEngine, SqlFilesEngine, CommandEngine)
}


def register_engine(cls: type[MigrationEngine]) -> type[MigrationEngine]:
    _REGISTRY[cls.name] = cls
    return cls


def get_engine(plan: Plan) -> MigrationEngine:
    cls = _REGISTRY.get(plan.migration.engine)
    if cls is None:
        raise ConfigError(f"{plan.source.name}: migration.engine: unknown engine {plan.migration.engine!r}")
    return cls(plan)
