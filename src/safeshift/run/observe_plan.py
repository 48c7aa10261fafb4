"""``safeshift lint --observe``: the pending migration applied to a schema-only copy, observed.

Outside a run: no run lock, no journal, nothing written beside the plan. The copy (and, on
MySQL/MariaDB, the second one the replay asks the server on) lives in a temporary folder or
as a scratch database named after a fresh id, and is dropped on the way out, also on error.
The real database is only read: its revision, and its tables' statistics for the sizes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from safeshift.config.models import Plan
from safeshift.errors import ConfigError, SafeshiftError
from safeshift.run import observe
from safeshift.run.context import Options, RunContext, error_text
from safeshift.run.phases.validate import WHERE, migrate_copy


def observe_pending(plan: Plan) -> tuple[observe.Observation, str, str]:
    """The observation of the plan's pending migration, what it covers (``alembic 0001→0002``)
    and the server's version (the advice is for it).

    Raises a one-line :class:`SafeshiftError` (exit 2) when the migration cannot be observed:
    commands, no database, a copy that cannot be made or migrated.
    """
    ctx = RunContext.create(plan, options=Options(dry_run=True))
    why = observe.unobservable(ctx, asked=True)
    if why is not None:
        raise ConfigError(f"lint --observe: cannot observe this migration: {why}")
    ctx.dialect.check_reachable()
    with ctx.dialect.connected() as conn:
        ctx.result.facts = ctx.dialect.server_facts(conn)
        conn.rollback()
        start = ctx.migrator.current(conn)
        target = ctx.migrator.resolve_target(plan.migration.target)
        pending = ctx.migrator.pending(conn, plan.migration.target)
    ctx.result.start_revision, ctx.result.target_revision = start, target
    covers = f"{ctx.migrator.name} {start or 'base'}→{target}"
    if not pending:
        return observe.Observation(WHERE, skipped=f"nothing to observe: the database is at {start or 'base'}"), covers, ctx.result.facts.version
    with tempfile.TemporaryDirectory(prefix="safeshift-observe-") as tmp:
        folder = Path(tmp)
        try:
            with observe.schema_copy(ctx, "observe", folder) as conn:
                failure, recorder = migrate_copy(ctx, conn, observing=True)
                if failure is not None:
                    raise SafeshiftError(f"lint --observe: {failure.replace('on the copy', 'on a schema-only copy (no rows)')}")
            assert recorder is not None  # observing=True
            return observe.judge(ctx, recorder, WHERE, lambda: observe.schema_copy(ctx, "replay", folder)), covers, ctx.result.facts.version
        except SafeshiftError:
            raise
        except Exception as exc:  # NotImplementedError too: an in-memory database has no file to copy
            raise SafeshiftError(f"lint --observe: cannot make a schema-only copy to observe on: {error_text(exc)}") from None
