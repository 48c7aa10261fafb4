"""Maintenance mode on and off (the plan's hook), each switch a journaled phase of its own."""

from __future__ import annotations

from safeshift.run.context import RunContext, error_text
from safeshift.run.state import Maintenance


def switch(ctx: RunContext, on: bool) -> None:
    """Switch maintenance mode if the plan has a hook and it is not already so."""
    hook = ctx.maintenance
    if hook is None or ctx.maintenance_on == on:
        return
    with ctx.phase(f"maintenance:{'on' if on else 'off'}") as ph:
        if on:
            ctx.write_state(Maintenance(on=True))  # before: a crash right after must switch it off
            ctx.maintenance_on = True
            hook.on()
        else:
            hook.off()
            ctx.maintenance_on = False
            ctx.went_live = ctx.went_live or ctx.apply_started
            ctx.write_state(Maintenance(on=False))
        ph.detail["hook"] = hook.describe()


def off_on_the_way_out(ctx: RunContext) -> str | None:
    """Maintenance is switched off on every way out; returns why it could not be, if so."""
    if ctx.maintenance is None or not ctx.maintenance_on:
        return None
    if ctx.keep_maintenance:
        return "maintenance stays on: a person decides what happens to the application's writes"
    try:
        switch(ctx, False)
    except BaseException as exc:  # keep going: the report must still be written
        return f"MAINTENANCE STILL ON: {error_text(exc)}"
    return None
