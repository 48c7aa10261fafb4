"""Rich rendering for the CLI: smoke results and a live table of the watch window.

Kept apart from the watch itself so the library has no terminal code; the CLI passes
the callback from :func:`live_watch` as ``Watcher(on_tick=...)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from safeshift.app.probes import ProbeResult
from safeshift.app.watch import WatchSample
from safeshift.secrets import redact


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def probe_table(results: Sequence[ProbeResult], title: str = "smoke probes") -> Table:
    """One row per probe: passed or not, status, latency, and why."""
    table = Table(title=title, title_justify="left")
    for column, justify in (("probe", "left"), ("", "center"), ("status", "right"), ("ms", "right"), ("message", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        mark = Text("✓", style="green") if result.passed else Text("✗", style="bold red")
        table.add_row(
            result.name,
            mark,
            "–" if result.status is None else str(result.status),
            _ms(result.latency_ms),
            redact(result.message),
        )
    return table


def watch_table(samples: Sequence[WatchSample], *, planned_ticks: int | None = None, title: str = "watch") -> Table:
    """The latest ticks: requests, failures, rolling error rate, latency, log errors, checks."""
    shown_title = title if planned_ticks is None else f"{title} (tick {len(samples) and samples[-1].tick}/{planned_ticks})"
    table = Table(title=shown_title, title_justify="left")
    for column in ("tick", "t (s)", "req", "fail", "error rate", "p50 ms", "p95 ms", "log errors", "checks failed"):
        table.add_column(column, justify="right")
    table.add_column("problems", justify="left")
    for sample in samples:
        bad = bool(sample.failures or sample.log_errors or sample.checks_failed)
        table.add_row(
            str(sample.tick),
            f"{sample.at_s:.1f}",
            str(sample.requests),
            str(sample.failures),
            _rate(sample.error_rate),
            _ms(sample.p50_ms),
            _ms(sample.p95_ms),
            "–" if sample.log_errors is None else str(sample.log_errors),
            "–" if sample.checks_failed is None else str(sample.checks_failed),
            redact("; ".join(sample.problems[:2])),
            style="red" if bad else None,
        )
    return table


@contextlib.contextmanager
def live_watch(
    console: Console | None = None,
    *,
    rows: int = 10,
    planned_ticks: int | None = None,
    title: str = "watch",
) -> Iterator[Callable[[WatchSample], None]]:
    """A Rich Live table of the last ``rows`` ticks; yields the ``on_tick`` callback for the Watcher."""
    samples: list[WatchSample] = []
    with Live(watch_table(samples, planned_ticks=planned_ticks, title=title), console=console, auto_refresh=False) as live:

        def on_tick(sample: WatchSample) -> None:
            samples.append(sample)
            live.update(watch_table(samples[-rows:], planned_ticks=planned_ticks, title=title), refresh=True)

        yield on_tick
