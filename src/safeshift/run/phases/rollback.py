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
from safeshift.run.state import Decision
from safeshift.run.writes import Writes, diff_tables, save_writes
from safeshift.secrets import safe_url


def rollback(ctx: RunContext, reason: str) -> Rollback:
    """Roll back and prove; the caller turns the proof (and the writes' fate) into the verdict."""
    strategy = ctx.plan.rollback.strategy
    record = Rollback(reason=reason, strategy=strategy)
    ctx.result.rollback = record
    ctx.write_state(Decision(rollback=True, reason=reason))  # a recovery must continue this, never resume
    try:
        switch(ctx, True)
    except SafeshiftError as exc:
        record.maintenance = exc.message
    steps = ["downgrade", "restore"] if strategy == "downgrade-then-restore" else [strategy]
    _wait_for_database(ctx)
    with ctx.holding_before():
        try:
            with ctx.phase("rollback:backup") as ph:
                record.backup, held = _backup_now(ctx)
                ph.detail.update(path=record.backup.path, bytes=record.backup.bytes, verified=record.backup.verified)
        except Exception as exc:  # without it nothing is changed further: a person decides
            why = f"no backup of the current state, so no rollback step ran: {error_text(exc)}"
            record.steps.append(RollbackStep("backup", ok=False, error=why))
            record.proof = prove(ctx)
            return record
        for step in steps:
            if step == "restore" and not _may_restore(ctx, record):
                break  # the writes are kept, or a person decides: record.writes says which
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
        if record.writes is None and record.proof is not None and record.proof.only_rows_differ:
            # a downgrade-only rollback: the rows that differ stay, listed
            record.writes = _writes(ctx, record.proof.changed_tables, record)
        if record.writes is not None:
            record.writes.created = _dropped_with_rows(ctx, held)
            ctx.event("rollback", "writes", **record.writes.to_dict())
    return record


def _writes(ctx: RunContext, tables: list[str], record: Rollback) -> Writes | None:
    """Rows of ``tables`` that differ from the before-state (the run's backup, in a scratch copy).
    The migrator's version table is its own bookkeeping: never an application's write."""
    tables = [t for t in tables if t not in ctx.migrator.version_tables]
    if not tables or ctx.result.backup is None:
        return None
    with ctx.phase("rollback:writes") as ph, ctx.before_copy() as engine, engine.connect() as before, ctx.connect() as now:
        found = diff_tables(before, now, tables)
        ph.detail.update(tables=[t.summary() for t in found])
    if not found:
        return None
    return Writes(tables=found, policy=ctx.plan.rollback.on_writes, live=ctx.application_live)


def _dropped_with_rows(ctx: RunContext, held: dict[str, int]) -> dict[str, int]:
    """Tables the migration made that held rows when the rollback began and are gone now
    (their rows live on in the backup taken before the rollback)."""
    try:
        with ctx.connect() as conn:
            present = set(ctx.dialect.table_names(conn))  # names only: no shape is compared here
    except Exception:  # unknown: name every table that held rows and was not there before
        present = set()
    skip = set(ctx.result.snapshot) | present | set(ctx.migrator.version_tables)
    return {t: n for t, n in held.items() if n and t not in skip}


def _may_restore(ctx: RunContext, record: Rollback) -> bool:
    """Before a restore: what would it discard? Keep it, stop, or save it, by the plan's policy.

    Only rows that differ from the before-state are looked at: after a downgrade, the
    tables its proof found different; without one, every table the state before had (a
    column the migration added is left out of the comparison, so the migration itself
    does not count as a write). No maintenance was off and none configured to be: the
    differences are the migration's own, and the restore goes ahead (they are saved all
    the same).
    """
    if record.proof is not None:
        tables = record.proof.changed_tables
    else:  # no downgrade ran: prove first (a failed migration may have left nothing to undo)
        record.proof = prove(ctx, quick=not ctx.application_live)
        if record.proof.equal:
            return False  # already equal to the snapshot: a restore would only end sessions and cost time
        tables = []
        if ctx.application_live:  # the hashes skip unchanged tables; reshaped ones are compared by key
            with ctx.connect() as conn:
                shapes = ctx.dialect.schema_shape(conn)
            reshaped = [t for t in ctx.result.snapshot if t in shapes and shapes[t] != ctx.schema.get(t)]
            tables = sorted(set(record.proof.changed_tables) | set(reshaped))
    writes = _writes(ctx, tables, record)
    if writes is None:
        return True
    record.writes = writes
    policy = ctx.plan.rollback.on_writes
    if writes.live and policy == "keep" and record.proof is not None and record.proof.only_rows_differ:
        writes.fate = "kept"
        return False
    if writes.live and policy == "stop":
        writes.fate = "stopped"
        ctx.keep_maintenance = True
        return False
    path, attempt = ctx.run_dir / "discarded-writes.sql", 1
    while path.exists():  # an interrupted rollback saved some already: keep that file as it is
        attempt += 1
        path = ctx.run_dir / f"discarded-writes-{attempt}.sql"
    with ctx.phase("rollback:save-writes") as ph, ctx.connect() as conn:
        ph.detail["statements"] = save_writes(conn, writes.tables, path)
        ph.detail["path"] = str(path)
    writes.fate, writes.saved_to = "saved", str(path)
    return True


def _backup_now(ctx: RunContext) -> tuple[BackupInfo, dict[str, int]]:
    """The database as it is before the rollback touches it, verified by its row counts.

    The application may still be writing (no maintenance hook), so each table's rows in the
    file must lie between its counts just before and just after the backup, and no table may
    be missing: the file is complete, whatever was written while it was taken.
    """
    assert ctx.engine is not None
    with ctx.connect() as conn:
        before = ctx.dialect.row_counts(conn)
    dest = ctx.backup_dir / f"{ctx.run_id}.before-rollback{ctx.dialect.backup_suffix}"
    attempt = 1
    while dest.exists():  # an interrupted rollback's backup holds what the application wrote: keep it
        attempt += 1
        dest = ctx.backup_dir / f"{ctx.run_id}.before-rollback-{attempt}{ctx.dialect.backup_suffix}"
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
    return info, held


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
    ctx.dialect.restore(
        ctx.engine, Path(ctx.result.backup.path), lambda done, total: ctx.progress("restoring the backup", done, total)
    )


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
