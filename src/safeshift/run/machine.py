"""The run as a state machine: the phase order of each mode, and the ONE place that decides
a run's outcome, message and exit code (:func:`settle`).

Phases before the change (preflight, validate, approve, snapshot, backup, rehearse) may stop the
run with :class:`Stop`: nothing was changed. From maintenance-on on, any failure goes to
the rollback, and the rollback's proof decides between "rolled back" and "failed".
"""

from __future__ import annotations

from collections.abc import Callable

from safeshift.config.load import with_target
from safeshift.errors import ConfigError, ExitCode, SafeshiftError
from safeshift.journal import Journal, now_iso
from safeshift.logs import route
from safeshift.migrators import get_migrator
from safeshift.run import notices
from safeshift.run.context import RunContext, error_text
from safeshift.run.dryrun import plan_statements
from safeshift.run.outcome import LockLost, PhaseFailed, PhaseResult, RunResult, Stop, Verdict
from safeshift.run.phases.apply import apply
from safeshift.run.phases.approve import approve
from safeshift.run.phases.backup import backup
from safeshift.run.phases.cutover import cutover, cutover_smoke
from safeshift.run.phases.maintenance import off_on_the_way_out, switch
from safeshift.run.phases.preflight import preflight
from safeshift.run.phases.rehearse import rehearse
from safeshift.run.phases.rollback import rollback
from safeshift.run.phases.snapshot import snapshot
from safeshift.run.phases.validate import validate
from safeshift.run.recovery import RunRecord, abandon, all_runs, interrupted_runs, process_identity
from safeshift.run.report import write_report
from safeshift.run.state import load_baseline, save_baseline
from safeshift.secrets import safe_url

Body = Callable[[RunContext], Verdict]


def execute(ctx: RunContext, body: Body) -> RunResult:
    """Run ``body`` under the database's run lock, journaled, always settled and reported."""
    result = ctx.result
    if not ctx.options.dry_run:
        ctx.journal = Journal(ctx.run_dir / "journal.jsonl")
        result.journal = str(ctx.journal.path)
        ctx.event("run", "started", plan=str(ctx.plan.source), database=safe_url(ctx.url), **process_identity())
        notices.open_notifier(ctx)
    verdict: Verdict | None = None
    unroute = route(ctx.log)  # Alembic's log lines: into the journal, not onto the terminal
    try:
        ctx.dialect.check_reachable()
        ctx.engine = ctx.dialect.create_engine()
        with ctx.dialect.run_lock(ctx.engine, ctx.run_id, result.started):
            if not ctx.options.dry_run:
                _remove_leftovers_of_dead_runs(ctx)
            verdict = body(ctx)
    except Stop as stop:
        verdict = Verdict(stop.outcome, stop.message, stop.exit_code)
    except LockLost as lost:  # fenced: nothing more is changed, the journal says where it stopped
        verdict = Verdict("lost_lock", lost.message, ExitCode.ROLLBACK_FAILED)
    except (Exception, KeyboardInterrupt) as exc:  # never a traceback: say what happened and whether anything changed
        verdict = _failure(ctx, exc)
    finally:
        if verdict is None:  # an exit nobody caught (SystemExit): the run did not finish its work
            verdict = _failure(ctx, RuntimeError("the run was ended"))
        warning = off_on_the_way_out(ctx)
        if warning is not None:
            verdict = Verdict(verdict.outcome, f"{verdict.message}; {warning}", verdict.exit_code)
        if ctx.engine is not None:
            ctx.engine.dispose()
        settle(result, verdict)
        unroute()
        if ctx.journal is not None:
            ctx.event("run", "finished", outcome=result.outcome, message=result.message)
            result.schema_before = ctx.schema  # the report's "before" shape
            write_report(result, ctx.run_dir)
            notices.finished(ctx)  # waits at most the webhooks' timeout; their fate is journaled
            ctx.journal.close()
    return result


def settle(result: RunResult, verdict: Verdict) -> None:
    """The only writer of a run's outcome, message and exit code."""
    result.outcome = verdict.outcome
    result.message = verdict.message
    result.exit_code = verdict.exit_code
    result.finished = now_iso()


def _failure(ctx: RunContext, exc: BaseException) -> Verdict:
    """An error that escaped the phases: blocked if nothing had changed, else failed (a person must act)."""
    if ctx.apply_started:
        return Verdict("failed", error_text(exc), ExitCode.ROLLBACK_FAILED)
    code = exc.exit_code if isinstance(exc, SafeshiftError) else ExitCode.USAGE
    return Verdict("blocked", error_text(exc), code)


# -- the modes ---------------------------------------------------------------------------
def full_run(ctx: RunContext) -> Verdict:
    """preflight → validate → [approve] → snapshot → backup → [rehearse] → the change; or the dry run's plan.

    Approval comes before the snapshot and the backup: everything that can be proven without
    them is (the validation too), and a refused approval leaves no backup behind.
    """
    _refuse_if_interrupted(ctx)
    with ctx.connect() as conn:
        preflight(ctx, conn)
    validate(ctx)
    if ctx.options.dry_run:
        ctx.result.statements = plan_statements(ctx)
        return Verdict.of("planned", "dry run: nothing was changed")
    approve(ctx)
    with ctx.connect() as conn:
        snapshot(ctx, conn)
        backup(ctx)
    if ctx.options.rehearse:
        rehearse(ctx)
    return _change(ctx)


def rehearse_only(ctx: RunContext) -> Verdict:
    """preflight → validate → snapshot → backup → rehearse on a copy; the target is not changed."""
    _refuse_if_interrupted(ctx)
    with ctx.connect() as conn:
        preflight(ctx, conn)
    validate(ctx)
    with ctx.connect() as conn:
        snapshot(ctx, conn)
        backup(ctx)
    rehearsal = rehearse(ctx)
    return Verdict.of(
        "rehearsed",
        f"rehearsal passed: apply took {rehearsal.apply_seconds or 0:.2f}s on the copy "
        f"({rehearsal.statement_count} statements)",
    )


def resume(ctx: RunContext) -> Verdict:
    """An interrupted run whose migration completed (or can continue): finish apply, verify, succeed or roll back."""
    from safeshift.run.phases.verify import verify

    record, result = _adopted(ctx), ctx.result
    try:
        if not record.apply_finished:  # a checkpointed backfill: apply again, it continues
            with ctx.connect() as conn:
                apply(ctx, conn)
        with ctx.connect() as conn:
            revision = ctx.migrator.current(conn)
            if ctx.migrator.reached(revision, result.target_revision) is False:
                raise PhaseFailed(f"the database is at {revision}, not {result.target_revision}")
            verify(ctx, conn)
        switch(ctx, False)
        cutover(ctx)  # the smoke probes and the watch window, as the run would have
    except (Exception, KeyboardInterrupt) as exc:  # any failure from here on means rollback
        return _rolled_back(ctx, error_text(exc))
    return Verdict.of(
        "succeeded", f"resumed run {record.run_id}: migrated {result.start_revision or 'base'} → {result.target_revision}"
    )


def recover_by_rollback(ctx: RunContext) -> Verdict:
    """Roll back an interrupted (or unproven) run and prove the database equals its snapshot."""
    record = _adopted(ctx)
    died = record.last_phase or "its start"
    if not ctx.result.snapshot:
        return Verdict.of("noop", f"run {record.run_id} died in {died} before its snapshot: nothing was changed")
    if not record.apply_started:
        return _nothing_changed(ctx, record.run_id, died)
    if record.finished:  # it ended, exit 4: its rollback was not proven, or it stopped for a person
        why = "it stopped before discarding the application's writes" if record.outcome == "stopped" else "its rollback was not proven"
        return _rolled_back(ctx, f"rollback of run {record.run_id} again ({why})")
    return _rolled_back(ctx, f"rollback of interrupted run {record.run_id} (died in {died})")


def _nothing_changed(ctx: RunContext, run_id: str, died: str) -> Verdict:
    """A run that died before apply changed nothing: say so after looking (revision and full
    schema as at its snapshot; rows are the application's to change), with no maintenance
    switch, downgrade or hashing. A schema that differs anyway was changed by someone else."""
    with ctx.phase("prove") as ph, ctx.connect() as conn:
        revision = ctx.migrator.current(conn)
        schema = ctx.dialect.schema_shape(conn)
        differences = [f"revision is {revision or 'base'}, expected {ctx.result.start_revision or 'base'}"] if (
            revision != ctx.result.start_revision
        ) else []
        differences += [f"table {t} differs from the snapshot" for t in sorted(set(schema) | set(ctx.schema)) if schema.get(t) != ctx.schema.get(t)]
        ph.detail.update(equal=not differences, differences=differences)
        if differences:
            ph.status = "failed"
    if not differences:
        return Verdict.of("noop", f"run {run_id} died in {died}, before apply: nothing was changed (revision and schema as at its snapshot)")
    return Verdict(
        "failed",
        f"run {run_id} died in {died}, before apply, but the database differs from its snapshot: {'; '.join(differences[:3])}; "
        "a person must look (something else changed it)",
        ExitCode.ROLLBACK_FAILED,
    )


def planned_rollback(ctx: RunContext) -> Verdict:
    """Undo a run that succeeded (the runbook's planned rollback): maintenance on, backup, downgrade
    to its start revision, proof against its before-state (rows written since are the
    application's, kept or saved by the plan's policy), maintenance off, smoke probes."""
    record = _adopted(ctx)
    _refuse_if_interrupted(ctx)
    result = ctx.result
    database = safe_url(ctx.url)
    later = [
        r for r in all_runs(ctx.workdir)
        if r.database == database and r.run_id not in (record.run_id, ctx.run_id) and r.apply_started
        and (r.started or "") > (record.started or "")
    ]
    with ctx.connect() as conn:
        revision = ctx.migrator.current(conn)
    moved = f"the database is at {revision or 'base'}, not run {record.run_id}'s target {result.target_revision}"
    if not ctx.options.force and (later or revision != result.target_revision):
        why = f"run {later[-1].run_id} changed this database after it" if later else moved
        raise Stop("blocked", f"cannot roll back run {record.run_id}: {why}; nothing was changed (--force to roll back anyway)")
    ctx.event("run", "undoes", run=record.run_id, revision=revision)
    for state in (record.revisions, record.snapshot, record.backup):  # so a crash of this run can be recovered
        if state is not None:
            ctx.write_state(state)
    save_baseline(ctx.run_dir, ctx.baseline)
    ctx.apply_started = True  # from here on a failure is the rollback's: never "nothing changed"
    ctx.went_live = True  # the application ran on the migrated database since that run
    verdict = _rolled_back(ctx, f"planned rollback of run {record.run_id}")
    if verdict.outcome != "rolled_back" or not ctx.plan.smoke:
        return verdict
    try:
        switch(ctx, False)
        cutover_smoke(ctx)
    except (Exception, KeyboardInterrupt) as exc:
        return Verdict("failed", f"{verdict.message}; then the smoke probes failed, a person must act: {error_text(exc)}", ExitCode.ROLLBACK_FAILED)
    return verdict


def _change(ctx: RunContext) -> Verdict:
    """maintenance on → apply → verify → maintenance off → smoke + watch; any failure rolls back."""
    from safeshift.run.phases.verify import verify

    try:
        switch(ctx, True)
        with ctx.connect() as conn:
            apply(ctx, conn)
            verify(ctx, conn)
        switch(ctx, False)
        cutover(ctx)
    except (Exception, KeyboardInterrupt) as exc:  # any failure from here on means rollback
        return _rolled_back(ctx, error_text(exc))
    result = ctx.result
    return Verdict.of("succeeded", f"migrated {result.start_revision or 'base'} → {result.target_revision}")


def _rolled_back(ctx: RunContext, reason: str) -> Verdict:
    """The rollback's proof, and the fate of what the application wrote, decide the verdict.

    Nothing that discarded rows says "proven equal"; rows kept or saved are named.
    """
    record = rollback(ctx, reason)
    notices.rolled_back(ctx, record)
    writes = record.writes
    backup = f" (backup of the state before the rollback: {record.backup.path})" if record.backup is not None else ""
    if writes is not None and writes.fate == "stopped":
        return Verdict.of(
            "stopped",
            f"{reason}; ROLLBACK STOPPED before a restore that would discard {writes.total} rows the "
            f"application wrote since the backup ({writes.summary()}); the database is as the downgrade left it"
            f"{backup}; maintenance stays on: a person decides (keep them, or restore: the report lists them)",
        )
    proof = record.proof
    if writes is not None and writes.fate == "kept" and proof is not None and proof.only_rows_differ and writes.live:
        return Verdict.of(
            "rolled_back",
            f"{reason}; rolled back to {ctx.result.start_revision or 'base'}: revision, schema and pre-checks "
            f"proven as before; kept {writes.total} rows the application wrote since the backup "
            f"({writes.summary()}){backup}",
        )
    saved = writes is not None and writes.fate == "saved"
    if record.proven and saved and writes is not None and writes.live:
        return Verdict.of(
            "writes_saved",
            f"{reason}; restored the backup (revision, schema and rows match the state before), which discarded "
            f"{writes.total} rows the application wrote since the backup ({writes.summary()}): saved to "
            f"{writes.saved_to}, a person must re-apply them{backup}",
        )
    if record.proven:
        message = f"{reason}; rolled back and proven equal to the snapshot"
        left = [d for earlier in record.earlier for d in earlier.differences]
        if left:  # what the restore put back: never hidden behind "proven equal"
            message += f" by a restore; before it the database differed: {'; '.join(left[:3])}"
            if saved and writes is not None:
                message += f" (those rows are saved to {writes.saved_to})"
            message += backup
        return Verdict.of("rolled_back", message)
    differences = proof.differences if proof is not None else []
    differs = "; ".join(differences[:3]) or "rollback did not complete"
    if saved and writes is not None:
        differs += f"; the rows the application wrote are saved to {writes.saved_to}"
    return Verdict.of("failed", f"{reason}; ROLLBACK NOT PROVEN, a person must act: {differs}{backup}")


# -- interrupted runs ----------------------------------------------------------------------
def _refuse_if_interrupted(ctx: RunContext) -> None:
    """A new run on a half-migrated database would snapshot the wrong state.

    We hold the database's run lock here, so the interrupted run's process is confirmed
    gone; ``force`` abandons it (journaled in both runs) and snapshots the database as it is.
    """
    for record in interrupted_runs(ctx.workdir, safe_url(ctx.url)):
        if record.run_id == ctx.run_id:
            continue
        if record.alive:  # it lost the lock but runs on: not abandoned, not even with --force
            raise Stop("blocked", f"run {record.run_id} is still running on this database (its process is alive); wait for it")
        if ctx.options.force:
            abandon(record, ctx.run_id)
            ctx.event("run", "forced", abandoned=record.run_id, last_phase=record.last_phase)
            continue
        what = "could not prove its rollback" if record.unproven else f"was interrupted in phase {record.last_phase}"
        raise Stop(
            "blocked",
            f"run {record.run_id} {what} on this database; run: {record.next_step}  (or start anew over it with --force)",
        )


def _remove_leftovers_of_dead_runs(ctx: RunContext) -> None:
    """Scratch databases and partial files of runs whose process died: full copies of the data.

    We hold the database's run lock, so every unfinished run of it is dead (the one this
    run continues included); what it left is garbage, named after it, and goes now.
    """
    database = safe_url(ctx.url)
    for record in all_runs(ctx.workdir):
        if record.database == database and record.interrupted:
            removed = ctx.dialect.drop_leftovers(record.run_id, ctx.backup_dir)
            if removed:
                ctx.event("run", "leftovers_removed", of=record.run_id, removed=removed)


def _adopted(ctx: RunContext) -> RunRecord:
    assert ctx.record is not None
    return ctx.record


def _keep_target(ctx: RunContext, recorded: str | None) -> None:
    """A run started with ``--target`` goes on to that target, not the plan's, when resumed."""
    if recorded is None:
        return
    try:
        same = ctx.migrator.resolve_target(ctx.plan.migration.target) == recorded
    except SafeshiftError:
        same = False
    if not same:
        ctx.plan = with_target(ctx.plan, recorded)
        ctx.migrator = get_migrator(ctx.plan)


def adopt(ctx: RunContext, record: RunRecord, *, undo: bool = False) -> None:
    """Continue an interrupted run: same id, folder and journal; state read back from it.

    With ``undo`` (a planned rollback of a run that succeeded) the run's state is read the
    same way, but this run keeps its own id, folder and journal.
    """
    if undo:
        if record.outcome != "succeeded" or record.revisions is None or record.snapshot is None or record.backup is None:
            raise ConfigError(f"run {record.run_id} did not succeed ({record.outcome}); only a run that did can be undone")
    elif record.finished and record.outcome not in ("failed", "stopped"):
        raise ConfigError(f"run {record.run_id} already finished ({record.outcome}); nothing to recover")
    if record.database != safe_url(ctx.url):
        raise ConfigError(
            f"run {record.run_id} was against {record.database}, but the plan now points at {safe_url(ctx.url)}"
        )
    ctx.record = record
    result = ctx.result
    if not undo:
        ctx.run_id = record.run_id
        ctx.run_dir = record.folder
        result.run_id = record.run_id
        result.started = record.started or result.started
    if record.revisions is not None:
        result.start_revision = record.revisions.start_revision
        result.target_revision = record.revisions.target_revision
        result.digest = record.revisions.digest
        if not undo:
            _keep_target(ctx, record.revisions.target_revision)
    if record.snapshot is not None:
        result.snapshot = dict(record.snapshot.counts)
        ctx.schema = dict(record.snapshot.schema)
    ctx.baseline = load_baseline(record.folder)
    if record.backup is not None:
        result.backup = record.backup.backup
    if undo:
        return
    ctx.maintenance_on = record.maintenance_on
    ctx.went_live = record.went_live
    result.phases = [
        PhaseResult(
            name=e["phase"], status=e.get("status", "failed"), seconds=e.get("seconds", 0.0),
            detail=e.get("detail", {}), started=e.get("started", ""),
        )
        for e in record.phases
    ]
    ctx.apply_started = record.apply_started
