"""Rollback: the plan's strategy (downgrade, restore, or downgrade then restore), each step proven.

Maintenance goes back on first (the runbook stops the application while it rolls back).
A server that went away gets ``[rollback] wait_for_database`` seconds to return. Then, before
any step, a verified backup of the database as it is now (what the application wrote since
apply included): no rollback step runs without one.
"""

from __future__ import annotations

import time
from pathlib import Path

from safeshift.dialects.base import BackupInfo
from safeshift.errors import BackupError, SafeshiftError
from safeshift.migrators import output_of
from safeshift.run.context import RunContext, error_text
from safeshift.run.manifest import write_manifest
from safeshift.run.outcome import Rollback, RollbackStep
from safeshift.run.phases.maintenance import switch
from safeshift.run.phases.prove import prove
from safeshift.secrets import safe_url


def rollback(ctx: RunContext, reason: str) -> Rollback:
    """Roll back and prove; the caller turns the proof into the run's verdict."""
    strategy = ctx.plan.rollback.strategy
    record = Rollback(reason=reason, strategy=strategy)
    ctx.result.rollback = record
    try:
        switch(ctx, True)
    except SafeshiftError as exc:
        record.maintenance = exc.message
    steps = ["downgrade", "restore"] if strategy == "downgrade-then-restore" else [strategy]
    _wait_for_database(ctx)
    try:
        with ctx.phase("rollback:backup") as ph:
            record.backup = _backup_now(ctx)
            ph.detail.update(path=record.backup.path, bytes=record.backup.bytes, verified=record.backup.verified)
    except Exception as exc:  # without it nothing is changed further: a person decides
        why = f"no backup of the current state, so no rollback step ran: {error_text(exc)}"
        record.steps.append(RollbackStep("backup", ok=False, error=why))
        record.proof = prove(ctx)
        return record
    for step in steps:
        _wait_for_database(ctx)
        try:
            with ctx.phase(f"rollback:{step}"):
                _STEPS[step](ctx, record)
        except Exception as exc:
            record.steps.append(RollbackStep(step, ok=False, error=error_text(exc)))
            continue
        record.steps.append(RollbackStep(step, ok=True))
        if record.proof is not None:
            record.earlier.append(record.proof)
        record.proof = prove(ctx)
        if record.proof.equal:
            break
    return record


def _backup_now(ctx: RunContext) -> BackupInfo:
    """The database as it is before the rollback touches it, verified by its row counts.

    The application may still be writing (no maintenance hook), so each table's rows in the
    file must lie between its counts just before and just after the backup, and no table may
    be missing: the file is complete, whatever was written while it was taken.
    """
    assert ctx.engine is not None
    with ctx.connect() as conn:
        before = ctx.dialect.row_counts(conn)
    dest = ctx.backup_dir / f"{ctx.run_id}.before-rollback{ctx.dialect.backup_suffix}"
    info = ctx.dialect.backup(ctx.engine, dest, lambda done, total: ctx.progress("backup before rollback", done, total))
    held = ctx.dialect.backup_counts(info)
    with ctx.connect() as conn:
        after = ctx.dialect.row_counts(conn)
    for table in sorted(set(before) | set(after)):
        low, high = sorted((before.get(table, 0), after.get(table, 0)))
        got = held.get(table)
        if got is None or not low <= got <= high:
            raise BackupError(f"backup {dest.name}: table {table} holds {got} rows, expected {low}..{high}")
    info.verify_detail = {"method": "counts between before and after", "tables_compared": len(before)}
    info.verified = True
    write_manifest(dest, safe_url(ctx.url), ctx.run_id, held)
    return info


def _downgrade(ctx: RunContext, record: Rollback) -> None:
    with ctx.connect() as conn:
        if ctx.migrator.current(conn) == ctx.result.start_revision:
            return  # nothing was applied: a downgrade would only add its own bookkeeping (a version table)
        output = None
        try:
            with ctx.dialect.apply_transactions(conn):  # SQLite: a live writer waits, not fails the downgrade
                output = ctx.migrator.downgrade(conn, ctx.result.start_revision)
            if conn.in_transaction():
                conn.commit()
        except BaseException as exc:
            output = output_of(exc)
            raise
        finally:
            if output is not None:
                record.output.append(output)
                ctx.event("rollback:downgrade", "output", output=output)


def _restore(ctx: RunContext, record: Rollback) -> None:
    assert ctx.engine is not None
    if ctx.result.backup is None:
        raise SafeshiftError("no backup to restore from")
    ctx.dialect.restore(ctx.engine, Path(ctx.result.backup.path))


_STEPS = {"downgrade": _downgrade, "restore": _restore}


def _wait_for_database(ctx: RunContext) -> None:
    """Wait for a server that went away (restart, failover), up to the plan's limit."""
    deadline = time.monotonic() + ctx.plan.rollback.wait_for_database
    delay = 0.5
    while True:
        try:
            ctx.dialect.check_reachable()
            return
        except SafeshiftError as exc:
            if time.monotonic() >= deadline:
                ctx.event("rollback", "database_unreachable", error=exc.message)
                return  # the step fails and says why; the proof cannot pass
            ctx.event("rollback", "waiting_for_database", error=exc.message)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
