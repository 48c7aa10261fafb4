"""The migrator interface: how a migration is applied, reversed and described.

``upgrade`` and ``downgrade`` return what they printed or ran (redacted, JSON-ready, for the
journal). When they fail, that partial output travels on the exception itself
(:func:`attach_output` / :func:`output_of`), which is re-raised unchanged so callers still
see the driver's error type (lock-timeout detection depends on it).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy.engine import Connection

from safeshift.registry import Registry
from safeshift.secrets import first_line

if TYPE_CHECKING:
    from safeshift.config.models import Plan


@dataclass(frozen=True)
class Rendered:
    """One revision's SQL for the lint, or why it could not be rendered offline."""

    revision: str | None
    statements: list[str]
    error: str | None = None


@dataclass(frozen=True)
class Revision:
    id: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Output = dict[str, Any]
_OUTPUT_ATTR = "safeshift_migrator_output"
E = TypeVar("E", bound=BaseException)


def attach_output(exc: E, output: Output | None) -> E:
    """Let ``exc`` carry what the migrator printed or ran before it failed; returns ``exc`` (raise it again)."""
    if output is not None:
        # an exception type without a __dict__ loses the output, never the error
        with contextlib.suppress(AttributeError):
            setattr(exc, _OUTPUT_ATTR, output)
    return exc


def output_of(exc: BaseException) -> Output | None:
    """What the migrator printed or ran before ``exc`` (see :func:`attach_output`), or None."""
    output = getattr(exc, _OUTPUT_ATTR, None)
    return output if isinstance(output, dict) else None


class Migrator(ABC):
    """Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str]
    # Whether render() gives SQL statements (linted) rather than commands.
    renders_sql: ClassVar[bool] = True
    # Tables that only record the revision: their rows are bookkeeping, never the application's.
    version_tables: ClassVar[tuple[str, ...]] = ()

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

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
    def upgrade(self, conn: Connection, target: str) -> Output | None:
        """Apply pending revisions up to ``target`` using ``conn``; what was printed or run, if anything.

        On failure the partial output is attached to the exception (:func:`attach_output`).
        """

    @abstractmethod
    def downgrade(self, conn: Connection, revision: str | None) -> Output | None:
        """Go back to ``revision`` (None: base); output as for :meth:`upgrade`."""

    def check_files(self, start: str | None, target: str, dialect_name: str, *, downgrade: bool) -> None:
        """Read, decode and split every file the pending migration would run (its down files
        too when the rollback downgrades), so a broken file stops preflight (ConfigError), not apply."""

    def check_target(self, conn: Connection) -> None:
        """Refuse (ConfigError) a migration set-up that would apply to another database than ``conn``'s."""

    def reached(self, current: str | None, target: str | None) -> bool | None:
        """Whether the database's revision ``current`` is the resolved ``target`` (None: cannot tell).

        Read back on safeshift's own connection after apply: a migration that "succeeded"
        against another database (an ``env.py`` that connects elsewhere) is caught here.
        """
        return current == target

    def files(self) -> list[Path]:
        """Every file that defines the migration, hashed into the approval digest."""
        return []

    def render(self, start: str | None, target: str, dialect_name: str) -> list[str]:
        """The SQL or commands an upgrade would run, for ``--dry-run``."""
        return []

    def render_each(self, start: str | None, target: str, dialect_name: str) -> list[Rendered]:
        """The pending migration's SQL per revision, so one that cannot be rendered is named and
        the others are still linted. Here: the whole span as one piece."""
        try:
            return [Rendered(None, self.render(start, target, dialect_name))]
        except Exception as exc:
            return [Rendered(None, [], first_line(exc))]


MIGRATORS: Registry[type[Migrator]] = Registry("engine")
