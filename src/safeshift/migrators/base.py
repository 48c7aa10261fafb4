"""The migrator interface: how a migration is applied, reversed and described.

``upgrade`` and ``downgrade`` return what they printed or ran (redacted, JSON-ready, for the
journal). When they fail, that partial output travels on the exception itself
(:func:`attach_output` / :func:`output_of`), which is re-raised unchanged so callers still
see the driver's error type (lock-timeout detection depends on it).
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.errors import ConfigError
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

    def check_untracked(self, conn: Connection, start: str | None, pending: list[Revision], dialect_name: str) -> None:
        """Refuse (ConfigError, exit 2) to apply onto a schema this migrator never recorded.

        A database at no revision that already holds a table the first pending revision
        creates was built another way (by hand, another tool, a restored dump): applying
        would fail on "already exists" after the backup, or half-apply. ``safeshift baseline
        REV`` records the revision its schema is at. Tables the migration does not create are
        fine (a migration that only adds to a database), and so is a first revision that
        cannot be rendered offline (apply will say). Engines without a version table of their
        own (``command``: the tool keeps its history) are not checked.
        """
        if start is not None or not pending or not self.version_tables:
            return
        try:
            creates = created_tables(self.render(None, pending[0].id, dialect_name))
        except Exception:
            return
        ours = {t.casefold() for t in self.version_tables}
        began = not conn.in_transaction()
        try:
            existing = {t.casefold(): t for t in sa.inspect(conn).get_table_names()}
            has_versions = any(t in existing for t in ours)
        finally:
            if began and conn.in_transaction():
                conn.rollback()
        clash = sorted({existing[t.casefold()] for t in creates if t.casefold() in existing and t.casefold() not in ours})
        if clash:
            table = self.version_tables[0]
            where = f"{table} is empty" if has_versions else f"there is no {table} table"
            shown = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
            raise ConfigError(
                f"the database already has {shown} but no revision is recorded ({where}): revision "
                f"{pending[0].id} would create {'it' if len(clash) == 1 else 'them'} again; nothing was changed. "
                "If the schema is already at a revision, record it without running anything: safeshift baseline <rev>"
            )

    def stamp(self, conn: Connection, revision: str, *, force: bool = False) -> list[Revision]:
        """Record ``revision`` and every revision before it as applied without running any of them
        (``safeshift baseline``); returns the revisions recorded. Refused (ConfigError) when the
        database is already at ``revision`` or beyond, unless ``force``."""
        raise ConfigError(f"{self.plan.source.name}: migration.engine: engine {self.name!r} cannot record a baseline")

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


_CREATE_TABLE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?P<temp>(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\s+)?(?:UNLOGGED\s+)?TABLE\s+"
    r"(?P<exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>[^\s(]+)",
    re.IGNORECASE,
)


def created_tables(statements: list[str]) -> list[str]:
    """The tables ``statements`` create unconditionally (no ``IF NOT EXISTS``, no temporary
    tables), by their bare names: ``"app"."users"`` and `` `users` `` are ``users``."""
    names: list[str] = []
    for text in statements:
        lines = text.strip().splitlines()
        while lines and lines[0].lstrip().startswith("--"):  # a file's header, a suppression note
            lines.pop(0)
        match = _CREATE_TABLE.match("\n".join(lines).strip())
        if match is None or match["temp"] or match["exists"]:
            continue
        name = match["name"].rsplit(".", 1)[-1].strip('"`[]')
        if name:
            names.append(name)
    return names
