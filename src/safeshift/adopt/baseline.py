"""``safeshift baseline REV``: record revisions as applied without running them.

For a database whose schema was built before safeshift (by hand, another tool, a dump): the
migrator writes its version record (SQL files: rows with their checksums; Alembic: stamp;
command: the plan's ``stamp`` command), under the database's run lock, never beside a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safeshift.errors import ConnectError, SafeshiftError

if TYPE_CHECKING:
    from safeshift.config.models import Plan
    from safeshift.dialects import Dialect


@dataclass
class BaselineResult:
    """What ``safeshift baseline REV`` recorded: revisions marked applied, none of them run."""

    database: str
    engine: str
    revision: str
    previous: str | None
    current: str | None
    recorded: list[dict[str, Any]]
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "engine": self.engine,
            "revision": self.revision,
            "previous": self.previous,
            "current": self.current,
            "recorded": self.recorded,
        }


def record_baseline(plan: Plan, dialect: Dialect, revision: str, *, force: bool = False) -> BaselineResult:
    """Stamp ``revision`` on the plan's database (see :func:`safeshift.api.baseline`)."""
    from safeshift.journal import now_iso
    from safeshift.migrators import get_migrator
    from safeshift.run.context import new_run_id
    from safeshift.secrets import first_line, safe_url

    migrator = get_migrator(plan)
    engine = dialect.create_engine()
    try:
        with dialect.run_lock(engine, f"baseline-{new_run_id()}", now_iso()), engine.connect() as conn:
            previous = migrator.current(conn)
            recorded = migrator.stamp(conn, revision, force=force)
            current = migrator.current(conn)
    except SafeshiftError:
        raise
    except Exception as exc:
        raise ConnectError(f"baseline on {safe_url(dialect.url)} failed: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return BaselineResult(
        database=safe_url(dialect.url),
        engine=migrator.name,
        revision=revision,
        previous=previous,
        current=current,
        recorded=[r.to_dict() for r in recorded],
    )
