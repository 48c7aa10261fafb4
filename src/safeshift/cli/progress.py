"""Progress of long work (backup, backfills, checks, proof hashing) as a person sees it.

At a terminal: one live bar whose label follows the work (the second backfill's bar says the
second backfill). Piped into a CI log, where bar redraws are noise: one line per step for
short counts, one line per 10 % for long ones (work done within a second prints only its
end), and for work of unknown size (a dump growing on disk, in bytes) a line every few seconds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

STEPS_SHOWN = 20  # up to this many steps, every step gets its line when piped
UNKNOWN_EVERY_S = 5.0
QUIET_S = 1.0  # piped: work that ends within this of its last line prints only its end


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class ProgressView:
    """Draws ``progress(task, done, total)`` calls; :meth:`stop` ends the current bar."""

    def __init__(self, console: Console, *, quiet_s: float = QUIET_S) -> None:
        self.console = console
        self.quiet_s = quiet_s
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._label: str | None = None
        self._shown = -1  # piped: the last 10 % step (or step) printed
        self._last_line = 0.0

    def update(self, task: str, done: int, total: int | None) -> None:
        if self.console.is_terminal:
            self._bar(task, done, total)
        else:
            self._line(task, done, total)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._task, self._label, self._shown = None, None, None, -1

    # -- a terminal: one live bar --------------------------------------------------------
    def _bar(self, task: str, done: int, total: int | None) -> None:
        if self._progress is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("   {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(escape(task), total=total)
            self._label = task
        assert self._task is not None
        if task != self._label:  # new work: its own label, its own count from zero
            self._progress.reset(self._task, total=total, completed=0, description=escape(task))
            self._label = task
        self._progress.update(self._task, completed=done, total=total)

    # -- a log: a line per step or per 10 % ----------------------------------------------------
    def _line(self, task: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if task != self._label:
            self._label, self._shown, self._last_line = task, -1, now
        if total is None:
            if now - self._last_line >= UNKNOWN_EVERY_S:
                self._last_line = now
                self._print(f"   {task}: {_size(done)} so far")
            return
        if total <= 0:
            return
        # fast work says only that it ended; slow work says every step (or every 10 %)
        finished = done >= total
        if not finished and now - self._last_line < self.quiet_s:
            return
        if total <= STEPS_SHOWN:
            if done > self._shown:
                self._shown, self._last_line = done, now
                self._print(f"   {task}: {done}/{total}")
            return
        step = min(10, done * 10 // total)
        if step > self._shown:
            self._shown, self._last_line = step, now
            self._print(f"   {task}: {step * 10}% ({done:,} of {total:,})")

    def _print(self, text: str) -> None:
        from safeshift.cli.render import plain

        self.console.print(plain(text), markup=False, soft_wrap=True)
