"""The migration-engine interface: how a migration is applied, reversed and described."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from safeshift.config.models import Plan


@dataclass(frozen=True)
class Revision:
    id: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MigrationEngine(ABC):
    """Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str]
    # Whether render() gives SQL statements (linted) rather than commands.
    renders_sql: ClassVar[bool] = True

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        # What the last upgrade/downgrade printed or did (redacted, JSON-ready) for the journal.
        self.last_output: dict[str, Any] | None = None

    @abstractmethod
    def current(self, conn: Connection) -> str | None:
        """The database's revision now; None for an empty (base) database."""

    @abstractmethod
    def resolve_target(self, target: str) -> str:
        """The concrete revision a target such as ``head`` names (ConfigError when unknown)."""

    @abstractmethod
    def pending(self, conn: Connection, target: str) -> list[Revision]:
        """Revisions to apply, oldest first."""

    @abstractmethod
    def upgrade(self, conn: Connection, target: str) -> None:
        """Apply pending revisions up to ``target`` using ``conn``."""

    @abstractmethod
    def downgrade(self, conn: Connection, revision: str | None) -> None:
        """Go back to ``revision`` (None: base)."""

    def files(self) -> list[Path]:
        """Every file that defines the migration, hashed into the approval digest."""
        return []

    def render(self, start: str | None, target: str, dialect_name: str) -> list[str]:
        """The SQL or commands an upgrade would run, for ``--dry-run``."""
        return []
