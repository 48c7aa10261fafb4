"""Verify: the post-checks against the migrated database; any failure rolls back."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from safeshift.run.context import RunContext, failure_message
from safeshift.run.outcome import PhaseFailed


def verify(ctx: RunContext, conn: Connection) -> None:
    with ctx.phase("verify") as ph:
        results = ctx.run_checks(conn, ctx.post_checks, ctx.result.snapshot)
        failed = [r for r in results if not r.passed]
        ph.detail.update(passed=len(results) - len(failed), failed=len(failed))
        if failed:
            raise PhaseFailed(failure_message("post-check", failed))
