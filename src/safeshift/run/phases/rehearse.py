"""Rehearse: apply and verify on a scratch copy restored from the fresh backup, timing every statement.

The target is not touched. Every statement is also observed there (``[lint] observe``: the
locks it took, linted from what ran; a finding at or above ``fail_on`` blocks the run), and on
MySQL/MariaDB the server is asked, on a second copy, which lock class each DDL needs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from safeshift.backfill import MemoryCheckpoints, backfill_context
from safeshift.checks import run_checks
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ExitCode
from safeshift.migrators.base import Output, output_of
from safeshift.run import observe
from safeshift.run.context import RunContext, error_text, failure_message
from safeshift.run.outcome import LockClass, Rehearsal, Stop
from safeshift.run.phases.apply import backfill_progress, migrate
from safeshift.secrets import safe_url


def rehearse(ctx: RunContext) -> Rehearsal:
    """Raises :class:`Stop` (blocked) when the migration or a post-check fails on the copy."""
    with ctx.phase("rehearse") as ph:
        failure: str | None = None
        with ctx.scratch("rehearsal") as (url, engine):
            rehearsal = Rehearsal(database=safe_url(url))
            ctx.result.rehearsal = rehearsal
            timer = StatementTimer(engine)
            scratch = get_dialect(url)
            recording = ctx.migrator.renders_sql  # what runs through our connection can be captured
            with engine.connect() as conn:
                scratch.prepare_apply_session(conn, ctx.plan.apply.lock_timeout)
                if conn.in_transaction():
                    conn.commit()
                with observe.recording(conn) if recording else contextlib.nullcontext() as recorder:
                    failure = apply_on_copy(ctx, conn, rehearsal)
                if failure is None:
                    started = time.perf_counter()
                    results = run_checks(ctx.post_checks, ctx.check_context(conn, ctx.result.snapshot))
                    rehearsal.verify_seconds = round(time.perf_counter() - started, 4)
                    rehearsal.checks = results
                    failed = [r for r in results if not r.passed]
                    if failed:
                        failure = failure_message("post-check on the copy", failed)
        if failure is None and recorder is not None:
            _observed(ctx, rehearsal, recorder)
        rehearsal.statements = timer.slowest(20)
        rehearsal.statement_count = timer.count
        rehearsal.passed = failure is None
        ph.detail.update(
            predicted_apply_seconds=rehearsal.apply_seconds, statements=timer.count, passed=rehearsal.passed
        )
        if failure is not None:
            raise Stop("blocked", f"rehearsal failed, nothing changed on the target: {failure}", ExitCode.CHECKS_FAILED)
        if rehearsal.observed is not None:
            ph.detail["observed"] = rehearsal.observed.summary()
            observe.stop_if_blocking(rehearsal.observed)
        return rehearsal


def _refuse_if_migration_escapes_the_copy(ctx: RunContext, conn: Connection) -> None:
    """An env.py that takes its URL from elsewhere (``os.environ["DATABASE_URL"]``) reaches the
    plan's database at preflight, as it should, but on a copy it would migrate the real
    database instead: it must use the connection it is given before anything runs on a copy."""
    try:
        ctx.migrator.check_target(conn)
    except ConfigError as exc:
        raise ConfigError(
            "the migration cannot run on a copy: it does not use the connection safeshift passes and would "
            f"reach the real database ({exc.message}); nothing was changed. Make env.py use "
            "config.attributes['connection'], or skip the copies: [preflight] schema_copy = false, no rehearsal"
        ) from None


def apply_on_copy(ctx: RunContext, conn: Connection, rehearsal: Rehearsal) -> str | None:
    """Migrate the copy behind ``conn`` to the target as apply would (backfills included, with
    checkpoints of its own); why it failed, or None. Timings and output go on ``rehearsal``."""
    outputs: list[Output | None] = []
    _refuse_if_migration_escapes_the_copy(ctx, conn)
    started = time.perf_counter()
    failure: str | None = None
    try:
        # checkpoints of its own: the copy's must never let the real run skip a batch
        with (
            ctx.dialect.apply_transactions(conn),  # as apply begins its transactions on the target
            ctx.dialect.settings_on_every_connection(ctx.plan.apply.lock_timeout),
            backfill_context(
                checkpoints=MemoryCheckpoints(), progress=lambda p: backfill_progress(ctx, p), isolated=True
            ) as bf,
        ):
            try:
                migrate(ctx, conn, outputs.append)
            finally:
                rehearsal.backfills = [r.to_dict() for r in bf.results]
        if conn.in_transaction():
            conn.commit()
        revision = ctx.migrator.current(conn)
        if ctx.migrator.reached(revision, ctx.result.target_revision) is False:
            failure = (
                f"the migration reported success, but the copy is at {revision or 'base'}, not the target "
                f"{ctx.result.target_revision}: did it run against another database?"
            )
    except Exception as exc:
        outputs.append(output_of(exc))
        failure = f"the migration failed on the copy: {error_text(exc)}"
    rehearsal.output = next((o for o in reversed(outputs) if o is not None), None)
    rehearsal.apply_seconds = round(time.perf_counter() - started, 4)
    return failure


def _observed(ctx: RunContext, rehearsal: Rehearsal, recorder: observe.Recorder) -> None:
    """What each statement took on the copy (``[lint] observe``), and on MySQL/MariaDB the lock
    class the server accepts for each DDL, asked on a second copy where what ran is replayed
    (:func:`safeshift.run.observe.replay`: ALGORITHM=INSTANT, then INPLACE with LOCK=NONE)."""

    @contextlib.contextmanager
    def second_copy() -> Iterator[Connection]:
        with ctx.scratch("probe") as (_url, engine), engine.connect() as conn:
            yield conn

    if ctx.plan.lint.observe:
        observed = observe.conclude(ctx, recorder, "the rehearsal's copy", second_copy)
    elif ctx.dialect.asks_lock_classes:  # the lock classes still: the rehearsal always asked them
        with second_copy() as conn:
            kept = recorder.kept
            observed = observe.Observation("the rehearsal's copy", skipped="[lint] observe = false")
            observed.replayed = [(r.text, done) for r, done in zip(kept, observe.replay(conn, kept), strict=True)]
    else:
        return
    rehearsal.observed = observed
    rehearsal.lock_classes = [
        LockClass(" ".join(sql.split())[:200], done.lock_class, done.error)
        for sql, done in observed.replayed
        if done.lock_class is not None or done.error is not None
    ]


class StatementTimer:
    """Times every statement an engine runs (the rehearsal's per-statement durations)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._timings: list[tuple[float, str]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("safeshift_started", []).append(time.perf_counter())

    def _after(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["safeshift_started"].pop()
        self.count += 1
        self._timings.append((time.perf_counter() - started, " ".join(statement.split())[:300]))

    def slowest(self, n: int) -> list[dict[str, Any]]:
        return [{"seconds": round(t, 4), "sql": sql} for t, sql in sorted(self._timings, reverse=True)[:n]]
