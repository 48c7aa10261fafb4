"""Apply: upgrade to the target under the plan's lock timeout, with its backfills in place.

A lock timeout that left nothing behind (schema and revision as before the failed step) is
retried with backoff; anything else fails the phase, and the run rolls back.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from safeshift import faults
from safeshift.backfill import (
    BackfillProgress,
    JournalCheckpoints,
    backfill_context,
    run_backfill_step,
)
from safeshift.dialects.base import SchemaShape
from safeshift.migrators.base import Output, output_of
from safeshift.run.context import RunContext, error_text
from safeshift.run.executed import recording, unrecorded
from safeshift.run.outcome import PhaseFailed
from safeshift.secrets import safe_url

OnOutput = Callable[[Output | None], None]
State = tuple[SchemaShape, str | None]  # the schema and revision a retry must find unchanged


def apply(ctx: RunContext, conn: Connection) -> None:
    settings = ctx.plan.apply
    with ctx.phase("apply") as ph:
        ctx.apply_started = True
        ph.detail["session"] = ctx.dialect.prepare_apply_session(conn, settings.lock_timeout)
        if conn.in_transaction():
            conn.commit()
        waits: list[dict[str, Any]] = []
        ph.detail["lock_waits"] = waits
        _count_statements(conn)
        raw = conn.connection.dbapi_connection  # kept: an interrupt can leave SQLAlchemy without it
        # backfills (plan steps, or inside a revision) checkpoint into this journal: a retry
        # or a resumed run continues them where the attempt before stopped
        checkpoints = None
        if ctx.journal is not None:
            checkpoints = JournalCheckpoints(ctx.journal, previous=ctx.record.checkpoints if ctx.record else None)
        backfills: list[dict[str, Any]] = []  # every attempt's: a retry continues from the checkpoints
        base: list[State] = [(ctx.schema, ctx.result.start_revision)]
        if ctx.plan.migration.backfill:
            base[0] = _state(ctx, conn)  # a resumed run starts part-way
        attempt = 0
        ran: dict[str, Any] = {}  # the last attempt's statements (an attempt that failed keeps its own)

        def record(output: Output | None) -> None:
            if output is not None:
                ph.detail.setdefault("output", []).append({"attempt": attempt, **output})
                ctx.event(ph.name, "output", attempt=attempt, output=output)

        def segment_done() -> None:  # after each committed upgrade between backfills: move the retry base
            base[0] = _state(ctx, conn)

        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                with (
                    ctx.dialect.apply_transactions(conn),  # SQLite: BEGIN IMMEDIATE, a live writer waits
                    ctx.dialect.settings_on_every_connection(settings.lock_timeout),
                    backfill_context(checkpoints=checkpoints, progress=lambda p: backfill_progress(ctx, p)) as bf,
                    recording(conn, ran),  # what ran, folded by text, with durations (the report's SQL)
                ):
                    try:
                        migrate(ctx, conn, record, segment_done)
                    finally:
                        backfills.extend({"attempt": attempt, **r.to_dict()} for r in bf.results)
                        if backfills:
                            ph.detail["backfills"] = backfills
                if conn.in_transaction():
                    conn.commit()
                ph.detail.update(ran)
                break
            except BaseException as exc:
                ph.detail.update(ran)
                record(output_of(exc))
                _abort(conn, raw)
                waited = round(time.perf_counter() - started, 3)
                if _may_retry(ctx, conn, exc, attempt, base[0]):
                    delay = settings.retry_backoff * 2 ** (attempt - 1)
                    waits.append({"attempt": attempt, "waited_s": waited, "retry_in_s": delay, "error": error_text(exc)})
                    ctx.event("apply", "lock_timeout", attempt=attempt, retry_in_s=delay)
                    time.sleep(delay)
                    continue
                if ctx.dialect.is_lock_timeout(exc):
                    waits.append({"attempt": attempt, "waited_s": waited, "error": error_text(exc)})
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise PhaseFailed(f"apply failed: {error_text(exc)}") from exc
        ph.detail["attempts"] = attempt
        revision = ctx.migrator.current(conn)  # read back on our own connection: a claim is a measurement
        ph.detail["revision"] = revision
        target = ctx.result.target_revision
        if ctx.migrator.reached(revision, target) is False:
            raise PhaseFailed(
                f"the migration reported success, but {safe_url(ctx.url)} is at {revision or 'base'}, not the "
                f"target {target}: did it run against another database? (an env.py must use the connection "
                "safeshift passes in config.attributes['connection'], or sqlalchemy.url)"
            )


def migrate(ctx: RunContext, conn: Connection, on_output: OnOutput, segment_done: Callable[[], None] | None = None) -> None:
    """Upgrade to the target, running the plan's backfills where their ``after`` says.

    For each step: upgrade to its ``after`` (unless the database is already there or
    past it), commit, backfill (every batch its own committed transaction, so the
    connection must be outside a transaction); then upgrade the rest of the way.
    ``segment_done`` is called after each committed upgrade between backfills.
    """
    migrator = ctx.migrator
    target = ctx.plan.migration.target
    steps = ctx.plan.migration.backfill
    if not steps:
        on_output(migrator.upgrade(conn, target))
        return

    def segment(goal: str) -> None:
        output = migrator.upgrade(conn, goal)
        if conn.in_transaction():
            conn.commit()
        on_output(output)
        if segment_done is not None:
            segment_done()

    final = migrator.resolve_target(target)
    at_target = False
    for step in steps:
        if not at_target:
            goal = migrator.resolve_target(step.after) if step.after is not None else final
            pending = [r.id for r in migrator.pending(conn, target)]
            # a goal not pending is already reached (the target: when nothing is pending; an
            # external tool may list its revisions under other names than "head")
            if pending and (goal == final or goal in pending):
                segment(step.after or target)
            at_target = goal == final
        if conn.in_transaction():
            conn.commit()
        run_backfill_step(conn, step)  # checkpoints, progress and results via the backfill context
        if step.lock_timeout_s is not None:  # the step's own timeout must not carry over to the DDL after it
            ctx.dialect.prepare_apply_session(conn, ctx.plan.apply.lock_timeout)
            if conn.in_transaction():
                conn.commit()
    if not at_target:
        segment(target)


def backfill_progress(ctx: RunContext, p: BackfillProgress) -> None:
    ctx.progress(f"backfill {p.name}", p.rows_done, p.rows_total)


def _state(ctx: RunContext, conn: Connection) -> State:
    try:
        with unrecorded(conn):
            return ctx.dialect.schema_shape(conn), ctx.migrator.current(conn)
    finally:
        if conn.in_transaction():
            conn.rollback()


def _may_retry(ctx: RunContext, conn: Connection, exc: BaseException, attempt: int, base: State) -> bool:
    """Retry only a lock timeout that left nothing behind: the schema and revision are still
    those before the failed step (the snapshot's, or where the last upgrade between
    backfills left them; the retry continues the backfills from their checkpoints)."""
    if not isinstance(exc, Exception) or not ctx.dialect.is_lock_timeout(exc):
        return False
    if attempt > ctx.plan.apply.retries:
        return False
    return _state(ctx, conn) == base


def _abort(conn: Connection, raw: Any) -> None:
    """Roll back the apply transaction, also when an interrupt (Ctrl-C) invalidated the
    connection mid-statement: SQLAlchemy then drops it without a rollback, and its locks
    (SQLite's write lock, a server's row and table locks) would outlive the failure."""
    with contextlib.suppress(Exception):
        if not conn.invalidated and conn.in_transaction():
            conn.rollback()
    with contextlib.suppress(Exception):
        raw.rollback()


def _count_statements(conn: Connection) -> None:
    """Fault points inside apply: ``apply:statement:<n>`` after the n-th statement."""
    if not os.environ.get(faults.ENV, "").startswith("apply:statement:"):
        return
    counter = {"n": 0}

    def after(*_args: Any) -> None:
        counter["n"] += 1
        faults.hit(f"apply:statement:{counter['n']}")

    event.listen(conn, "after_cursor_execute", after)

