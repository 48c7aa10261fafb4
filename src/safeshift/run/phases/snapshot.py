"""Snapshot: row counts, columns and the checks' before-states, journaled before any change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from safeshift.checks import CaptureFailed, Check, capture_baseline, get_check_class
from safeshift.errors import ExitCode
from safeshift.run.context import RunContext
from safeshift.run.outcome import Stop
from safeshift.run.state import Snapshot, save_baseline

PROOF_PREFIX = "rollback proof: table unchanged: "


def snapshot(ctx: RunContext, conn: Connection) -> None:
    result = ctx.result
    with ctx.phase("snapshot") as ph:
        result.snapshot = ctx.dialect.row_counts(conn)
        ctx.schema = ctx.dialect.schema_shape(conn)
        conn.rollback()
        # before-states of checks that compare before/after (table_unchanged, baseline mode),
        # and, with prove_contents = "snapshot", a content hash of every table for the
        # rollback proof ("backup": hashed from the verified backup if a proof is needed)
        ctx.proof_checks = table_hash_checks(ctx, conn)
        hashed_now = ctx.proof_checks if ctx.plan.rollback.prove_contents == "snapshot" else []
        ctx.baseline = capture_baseline(
            ctx.pre_checks + ctx.post_checks + hashed_now, ctx.check_context(conn, None),
            ctx.steps([], "before-states"),
        )
        failed = {name: state.message for name, state in ctx.baseline.items() if isinstance(state, CaptureFailed)}
        if failed:  # a check that cannot see "before" cannot prove "after": stop while nothing changed
            name, message = next(iter(failed.items()))
            more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
            raise Stop("blocked", f"snapshot: capturing {name!r} failed: {message}{more}", ExitCode.CHECKS_FAILED)
        save_baseline(ctx.run_dir, ctx.baseline)
        ctx.write_state(Snapshot(result.snapshot, ctx.schema))
        ph.detail.update(
            tables=len(result.snapshot),
            rows=sum(result.snapshot.values()),
            row_hashes=ctx.plan.rollback.prove_contents,
        )


def table_hash_checks(ctx: RunContext, conn: Connection) -> list[Check[Any]]:
    """``table_unchanged`` for every table with a primary key: the proof compares contents, not just counts."""
    if ctx.plan.rollback.prove_contents == "off":
        return []
    cls = get_check_class("table_unchanged")
    if cls is None:
        return []
    insp = inspect(conn)
    checks: list[Check[Any]] = []
    for index, name in enumerate(ctx.result.snapshot):
        if insp.get_pk_constraint(name).get("constrained_columns"):
            config = cls.Config.model_validate({"kind": "table_unchanged", "table": name, "name": f"{PROOF_PREFIX}{name}"})
            checks.append(cls(config, "proof", index))
    return checks
