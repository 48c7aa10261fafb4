"""A run of a plan: the phases, the machine that orders them, and what they produce.

Entry points (also re-exported by :mod:`safeshift.api`): :func:`run_plan`,
:func:`rehearse_plan`, :func:`resume_run`, :func:`rollback_run`.
"""

from __future__ import annotations

from pathlib import Path

from safeshift.config.models import Plan
from safeshift.errors import ConfigError
from safeshift.run import machine
from safeshift.run.context import NullObserver, Observer, Options, RunContext, new_run_id
from safeshift.run.outcome import Outcome, PhaseResult, RunResult
from safeshift.run.phases.approve import Approval
from safeshift.run.recovery import load_run, refuse_if_alive

__all__ = [
    "Approval",
    "NullObserver",
    "Observer",
    "Outcome",
    "PhaseResult",
    "RunResult",
    "new_run_id",
    "rehearse_plan",
    "resume_run",
    "rollback_run",
    "run_plan",
]


def run_plan(
    plan: Plan,
    *,
    workdir: Path | None = None,
    dry_run: bool = False,
    observer: Observer | None = None,
    rehearse: bool | None = None,
    approval: Approval | None = None,
    force: bool = False,
) -> RunResult:
    """Execute a plan and return what happened. Raises ``SafeshiftError`` only for bad input.

    ``rehearse`` (default: the plan's ``[rehearsal] enabled``) applies and verifies on a copy
    first; ``approval`` carries the reviewed digest when the plan requires approval;
    ``force`` starts anew over an interrupted run (abandoning it) instead of refusing.
    """
    options = Options(
        dry_run=dry_run,
        rehearse=plan.rehearsal.enabled if rehearse is None else rehearse,
        approval=approval,
        force=force,
    )
    ctx = RunContext.create(plan, workdir=workdir, observer=observer, options=options)
    return machine.execute(ctx, machine.full_run)


def rehearse_plan(plan: Plan, *, workdir: Path | None = None, observer: Observer | None = None) -> RunResult:
    """Preflight, snapshot, backup, then apply + verify on a scratch copy only; the target is not changed."""
    ctx = RunContext.create(plan, workdir=workdir, observer=observer)
    return machine.execute(ctx, machine.rehearse_only)


def rollback_run(
    plan: Plan, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None, force: bool = False
) -> RunResult:
    """Roll back a run and prove it: an interrupted (or unproven, or stopped) one from its journal,
    or, as a planned rollback, one that succeeded (a run of its own that downgrades to its start).

    A planned rollback refuses when the database is no longer at that run's target or a
    later run changed it, unless ``force``.
    """
    ctx = RunContext.create(plan, workdir=workdir, observer=observer, options=Options(force=force))
    record = load_run(ctx.workdir, run_id)
    refuse_if_alive(record)
    if record.finished and record.outcome == "succeeded":
        machine.adopt(ctx, record, undo=True)
        return machine.execute(ctx, machine.planned_rollback)
    machine.adopt(ctx, record)
    return machine.execute(ctx, machine.recover_by_rollback)


def resume_run(plan: Plan, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None) -> RunResult:
    """Finish an interrupted run whose migration completed: verify, then succeed or roll back."""
    ctx = RunContext.create(plan, workdir=workdir, observer=observer)
    record = load_run(ctx.workdir, run_id)
    refuse_if_alive(record)
    machine.adopt(ctx, record)
    if not record.resumable:  # refused before touching the journal: the run stays open
        why = (
            f"it had decided to roll back ({record.rollback_decided})"
            if record.rollback_decided is not None
            else f"its migration did not complete (died in {record.last_phase or 'its start'})"
        )
        raise ConfigError(f"run {run_id} cannot be resumed: {why}; run safeshift rollback {run_id}")
    return machine.execute(ctx, machine.resume)
