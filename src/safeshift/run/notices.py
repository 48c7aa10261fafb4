"""What a run tells the plan's ``[[notify]]`` webhooks, and when: started, a phase failed,
rolled back, finished. The posting itself (threads, timeouts, journaling) is
:mod:`safeshift.app.notify`; this module only says what each event holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from safeshift.run.report import maintenance_window

if TYPE_CHECKING:
    from safeshift.run.context import RunContext
    from safeshift.run.outcome import PhaseResult, Rollback


def open_notifier(ctx: RunContext) -> None:
    """Build the notifier (when the plan has ``[[notify]]``) and post "started"."""
    if not ctx.plan.notify or ctx.journal is None:
        return
    from safeshift.app.notify import Notifier

    ctx.notifier = Notifier(ctx.plan.notify, lambda kind, data: ctx.event("notify", kind, **data))
    result = ctx.result
    _send(ctx, "started", f"safeshift: run {result.run_id} started on {result.database} (plan {Path(result.plan).name})")


def phase_failed(ctx: RunContext, phase: PhaseResult) -> None:
    error = phase.detail.get("error") or phase.status
    _send(
        ctx, "phase_failed", f"safeshift: run {ctx.run_id}: phase {phase.name} {phase.status}: {error}",
        phase=phase.name, status=phase.status, error=error,
    )


def rolled_back(ctx: RunContext, record: Rollback) -> None:
    proven = record.proven
    how = "proven equal to the snapshot" if proven else "NOT proven: a person must act"
    writes = record.writes
    data: dict[str, Any] = {"reason": record.reason, "strategy": record.strategy, "proven": proven,
                            "steps": [s.to_dict() for s in record.steps]}
    if record.proof is not None:
        data["differences"] = record.proof.differences
    if writes is not None:
        data["writes"] = {"rows": writes.total, "fate": writes.fate, "saved_to": writes.saved_to}
    _send(ctx, "rolled_back", f"safeshift: run {ctx.run_id} rolled back ({how}): {record.reason}", **data)


def finished(ctx: RunContext) -> None:
    """Post "finished" with the outcome and the report's paths, then wait (bounded) for every post."""
    if ctx.notifier is None:
        return
    result = ctx.result
    phases = [p.to_dict() for p in result.phases]
    window = maintenance_window(phases, result.finished)
    downtime = round(window[0], 3) if window else 0.0
    took = f"{result.seconds:.1f} s"
    text = (
        f"safeshift: run {result.run_id} {result.outcome} (exit {int(result.exit_code)}): {result.message}; "
        f"took {took}, downtime {downtime:.1f} s; report: {result.report_html or result.report_md}"
    )
    _send(
        ctx, "finished", text,
        outcome=result.outcome, exit_code=int(result.exit_code), message=result.message,
        started=result.started, finished=result.finished, seconds=round(result.seconds, 3),
        downtime_seconds=downtime, start_revision=result.start_revision, target_revision=result.target_revision,
        durations={p.name: round(p.seconds, 3) for p in result.phases},
        report={"json": result.report, "md": result.report_md, "html": result.report_html, "junit": result.junit},
    )
    ctx.notifier.flush()


def _send(ctx: RunContext, event: str, text: str, **data: Any) -> None:
    if ctx.notifier is None:
        return
    result = ctx.result
    base = {"run_id": result.run_id, "plan": result.plan, "database": result.database,
            "host": result.environment.get("host"), "user": result.environment.get("user")}
    try:
        ctx.notifier.send(event, text, {**base, **data})
    except Exception:  # noqa: BLE001  (a notification never changes a run)
        pass
