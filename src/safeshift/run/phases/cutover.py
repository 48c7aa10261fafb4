"""After maintenance goes off: smoke probes, then the watch window; a failure or a trigger rolls back."""

from __future__ import annotations

from collections.abc import Sequence

from safeshift.run.context import RunContext
from safeshift.run.outcome import PhaseFailed


def cutover(ctx: RunContext) -> None:
    plan, result = ctx.plan, ctx.result
    if not plan.smoke and plan.watch is None:
        return
    import httpx

    from safeshift.app.probes import failure_message, run_probes
    from safeshift.app.watch import Watcher

    variables: dict[str, str] = {}
    with httpx.Client(timeout=10.0) as client:
        if plan.smoke:
            with ctx.phase("smoke") as ph:
                probes = run_probes(plan.smoke, client, variables)
                result.smoke = probes
                ph.detail.update(passed=sum(r.passed for r in probes), probes=len(probes))
                reason = failure_message(probes)
                if reason is not None:
                    raise PhaseFailed(reason)
        if plan.watch is not None:
            with ctx.phase("watch") as ph:
                watcher = Watcher(
                    plan.watch,
                    plan.smoke,
                    client,
                    variables,
                    lambda names: _watch_checks(ctx, names),
                    ctx.observer.watch_tick,
                    base_dir=plan.base_dir,
                )
                outcome = watcher.run()
                result.watch = outcome
                ph.detail.update(ticks=len(outcome.samples), triggered=outcome.triggered)
                if outcome.triggered:
                    raise PhaseFailed(f"watch trigger fired: {outcome.triggered}")


def cutover_smoke(ctx: RunContext) -> None:
    """The smoke probes alone (after a planned rollback: the old release must answer)."""
    if not ctx.plan.smoke:
        return
    import httpx

    from safeshift.app.probes import failure_message, run_probes

    with httpx.Client(timeout=10.0) as client, ctx.phase("smoke") as ph:
        probes = run_probes(ctx.plan.smoke, client, {})
        ctx.result.smoke = probes
        ph.detail.update(passed=sum(r.passed for r in probes), probes=len(probes))
        reason = failure_message(probes)
        if reason is not None:
            raise PhaseFailed(reason)


def _watch_checks(ctx: RunContext, names: Sequence[str]) -> dict[str, bool]:
    """Rerun chosen post-checks during the watch, each tick on a fresh connection."""
    from safeshift.checks import run_checks

    chosen = [c for c in ctx.post_checks if c.name in names]
    with ctx.connect() as conn:
        results = run_checks(chosen, ctx.check_context(conn, ctx.result.snapshot))
    return {r.name: r.passed for r in results}
