"""A Rich progress bar for backfills: one line per backfill, rows, rate, ETA, throttle pauses.

The CLI (or a script) wraps a run in :func:`progress_bar` and passes the callback on, e.g.
``with progress_bar() as draw, backfill_context(progress=draw): run_plan(plan)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from safeshift.backfill.core import BackfillProgress, ProgressFn


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA ?"
    minutes, secs = divmod(int(seconds), 60)
    return f"ETA {minutes}:{secs:02d}"


@contextlib.contextmanager
def progress_bar(console: Console | None = None) -> Iterator[ProgressFn]:
    """Yield a progress callback that draws every backfill it hears about."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def draw(p: BackfillProgress) -> None:
            if p.name not in tasks:
                tasks[p.name] = bar.add_task(p.name, total=None, rows="", rate="", eta="")
            total = p.rows_total if p.rows_total else None
            rows = f"{p.rows_done:,}" + (f"/{total:,}" if total else "") + " rows"
            rate = f"paused: {p.paused}" if p.paused else f"{p.rows_per_s:,.0f} rows/s"
            bar.update(tasks[p.name], completed=p.rows_done, total=total, rows=rows, rate=rate, eta=_eta(p.eta_s))

        yield draw
