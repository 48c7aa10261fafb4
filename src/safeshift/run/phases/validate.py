"""Validate: the migration applied to a schema-only copy, and every post-check run there.

Between preflight and any backup. The copy has the database's tables, indexes, views and
triggers but no rows (except the migration's version table, so it is at the same
revision), so it takes seconds whatever the database's size. A post-check naming a table or
column the migration does not make, or whose SQL the database refuses, stops the run here
(exit 2) instead of after maintenance went on. Results on empty tables are not judged:
only the database's refusals count (no such table or column, a syntax error). ``[preflight] schema_copy = false`` turns it off for a migration that
cannot run on empty tables.

The same copy shows the migration's locks (``[lint] observe``, on by default): every statement
that ran is captured with the locks it took (:mod:`safeshift.run.observe`) and linted; a lock
stronger than the lint declared, at or above ``[lint] fail_on``, stops the run here (exit 1). A
plan without post-checks makes the copy for this alone, and then a copy that cannot be made
or migrated is recorded as not observed, never a stop.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from safeshift.checks import Check, CheckContext, read_only
from safeshift.checks.base import short_error
from safeshift.checks.references import missing_references
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode, PlanProblems, SafeshiftError
from safeshift.run import observe
from safeshift.run.context import RunContext, error_text
from safeshift.run.outcome import PhaseResult, Rehearsal, Stop
from safeshift.run.phases.rehearse import apply_on_copy
from safeshift.secrets import safe_url

LABEL = "schema"  # the scratch database's label: <db>_safeshift_schema_<run>
WHERE = "a schema-only copy"


def skipped_because(ctx: RunContext) -> str | None:
    """Why the step does not run for this plan, or None when it does."""
    if not ctx.plan.preflight.schema_copy:
        return "[preflight] schema_copy = false"
    if not ctx.post_checks:
        return "no post-checks"
    if not ctx.migrator.version_tables:
        return f"engine {ctx.migrator.name} keeps its revision where safeshift cannot copy it"
    return None


def validate(ctx: RunContext) -> None:
    """Raise PlanProblems (exit 2) naming each post-check that errs on the migrated schema, or
    Stop (exit 1) when the migration itself fails on the copy or locks more than the lint said."""
    checks_skipped = skipped_because(ctx)
    unobserved = observe.unobservable(ctx) if ctx.plan.preflight.schema_copy else "[preflight] schema_copy = false"
    if checks_skipped is not None and unobserved is not None:
        return
    target = ctx.result.target_revision or ctx.plan.migration.target
    with ctx.phase("validate") as ph:
        if checks_skipped is not None:
            ph.detail["post_checks"] = f"skipped ({checks_skipped})"
            _observe_only(ctx)
        else:
            _validate(ctx, ph, target, observing=unobserved is None)
        observed = ctx.result.observed
        if observed is not None:
            ph.detail["observed"] = observed.summary()
            observe.stop_if_blocking(observed)


def _validate(ctx: RunContext, ph: PhaseResult, target: str, *, observing: bool) -> None:
    try:
        url = ctx.dialect.schema_only_copy(LABEL, ctx.run_id, ctx.backup_dir, ctx.migrator.version_tables)
    except Exception as exc:  # NotImplementedError too: an in-memory database has no file to copy
        raise SafeshiftError(
            f"cannot make a schema-only copy to validate the post-checks: {error_text(exc)} "
            "(set [preflight] schema_copy = false to skip this step)"
        ) from None
    ph.detail["copy"] = safe_url(url)
    try:
        engine = get_dialect(url).create_engine()
        try:
            with engine.connect() as conn:
                recorder = _migrate(ctx, conn, observing=observing)
                if recorder is not None:
                    ctx.result.observed = observe.conclude(ctx, recorder, WHERE, lambda: observe.schema_copy(ctx, "replay"))
                missing = missing_references(ctx.post_checks, conn, f" after the migration to {target}")
                named = {id(m.check) for m in missing}  # their queries would only fail the same way
                problems = [str(m) for m in missing]
                problems += _errors(ctx, conn, [c for c in ctx.post_checks if id(c) not in named], target)
        finally:
            engine.dispose()
    finally:
        ctx.dialect.drop_scratch_copy(url)
    ph.detail.update(post_checks=len(ctx.post_checks), problems=len(problems))
    if problems:
        raise PlanProblems(ctx.plan.source.name, problems)


def _observe_only(ctx: RunContext) -> None:
    """No post-checks: the copy is made for the observation alone, and whatever keeps it from
    being made or migrated is recorded (not observed), never a stop: the post-check validation
    never asked for it."""
    try:
        with observe.schema_copy(ctx, LABEL) as conn:
            failure, recorder = migrate_copy(ctx, conn, observing=True)
            if recorder is not None and failure is None:
                ctx.result.observed = observe.conclude(ctx, recorder, WHERE, lambda: observe.schema_copy(ctx, "replay"))
    except Exception as exc:  # an in-memory database, an env.py that would escape the copy...
        failure = f"cannot make or migrate a schema-only copy: {error_text(exc)}"
    if failure is not None:
        ctx.result.observed = observe.Observation(WHERE, skipped=f"{failure} ([lint] observe = false turns this off)")


def migrate_copy(ctx: RunContext, conn: Connection, *, observing: bool) -> tuple[str | None, observe.Recorder | None]:
    """Migrate the schema-only copy behind ``conn`` as apply would: why it failed (or None), and
    with ``observing`` every statement the migration ran, observed (the session's own settings not)."""
    scratch = get_dialect(conn.engine.url)
    scratch.prepare_apply_session(conn, ctx.plan.apply.lock_timeout)
    if conn.in_transaction():
        conn.commit()
    rehearsal = Rehearsal(database=safe_url(conn.engine.url))
    if not observing:
        return apply_on_copy(ctx, conn, rehearsal), None
    with observe.recording(conn) as recorder:
        return apply_on_copy(ctx, conn, rehearsal), recorder


def _migrate(ctx: RunContext, conn: Connection, *, observing: bool) -> observe.Recorder | None:
    failure, recorder = migrate_copy(ctx, conn, observing=observing)
    if failure is not None:
        raise Stop(
            "blocked",
            f"{failure.replace('on the copy', 'on a schema-only copy (no rows)')}; nothing was changed "
            "(a migration that needs rows to run: set [preflight] schema_copy = false)",
            ExitCode.CHECKS_FAILED,
        )
    return recorder


def _errors(ctx: RunContext, conn: Connection, checks: list[Check[Any]], target: str) -> list[str]:
    """Each check whose queries the migrated schema refuses: only the database's errors count
    (no such table or column, bad SQL); a value that fails on empty tables does not."""
    problems: list[str] = []
    scratch = get_dialect(conn.engine.url)
    check_ctx = CheckContext(conn=conn, snapshot=None, base_dir=ctx.plan.base_dir)
    with read_only(conn):
        for check in checks:
            try:
                check.measure(check_ctx)
            except BaseException as exc:  # user code: whatever it raises on empty tables is its own business
                if scratch.is_schema_error(exc):
                    problems.append(
                        f"checks.post[{check.index}] (check {check.name!r}): fails on the schema migrated to "
                        f"{target}: {short_error(exc)}"
                    )
            finally:
                if conn.in_transaction():
                    conn.rollback()
    return problems
