"""Verify: the post-checks against the migrated database; any failure rolls back."""

from __future__ import annotations

import contextlib

from sqlalchemy.engine import Connection

from safeshift.run.context import RunContext, error_text, failure_message
from safeshift.run.outcome import PhaseFailed


def verify(ctx: RunContext, conn: Connection) -> None:
    with ctx.phase("verify") as ph:
        results = ctx.run_checks(conn, ctx.post_checks, ctx.result.snapshot)
        failed = [r for r in results if not r.passed]
        ph.detail.update(passed=len(results) - len(failed), failed=len(failed))
        _after_state(ctx, conn, ph.detail)
        if failed:
            raise PhaseFailed(failure_message("post-check", failed))


def _after_state(ctx: RunContext, conn: Connection, detail: dict[str, object]) -> None:
    """The migrated database's shape and row counts, for the report's "before → after".

    Catalog reads and the same counts the snapshot took; a failure to read them is noted,
    never a reason to roll back (the post-checks decide that).
    """
    try:
        ctx.result.schema_after = ctx.dialect.schema_shape(conn)
        ctx.result.rows_after = ctx.dialect.row_counts(conn)
    except Exception as exc:  # noqa: BLE001
        detail["after_state"] = f"not read: {error_text(exc)}"
    finally:
        with contextlib.suppress(Exception):
            if conn.in_transaction():
                conn.rollback()
