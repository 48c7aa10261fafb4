"""The grammar of the watch window's rollback triggers: ``"p95_ms > 500 for 3 ticks"``.

The runbook's triggers ("error rates > 1%", "response times > 500 ms consistently") are
written as ``metric op number [for N ticks]`` and parsed here, at plan load, so a typo in
a trigger is a configuration error before anything changes, never a silent no-op after
the migration. No ``eval``: only the metrics below and the operators of
:mod:`safeshift.config.compare` exist. The watch itself is ``safeshift.app.watch``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from safeshift.config.compare import OPERATOR_PATTERN, OPERATORS

# What a trigger can look at; every watch tick provides these (None: not measured this tick).
METRICS: dict[str, str] = {
    "error_rate": "failed probe requests / all probe requests, over the window so far (0..1)",
    "tick_error_rate": "failed probe requests / all probe requests, in this tick (0..1)",
    "failures": "failed probe requests in this tick",
    "p50_ms": "median latency of this tick's probe requests",
    "p95_ms": "95th percentile latency of this tick's probe requests",
    "max_ms": "slowest probe request of this tick",
    "log_errors": "new log lines matching log_pattern since the previous tick",
    "checks_failed": "chosen post-checks failing in this tick",
}
RATE_METRICS = frozenset({"error_rate", "tick_error_rate"})

_SYNTAX = re.compile(
    rf"""^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*
    (?P<op>{OPERATOR_PATTERN})\s*
    (?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<percent>%)?\s*
    (?:for\s+(?P<ticks>[0-9]+)\s+ticks?)?\s*$""",
    re.VERBOSE,
)
EXAMPLE = '"error_rate > 1%" or "p95_ms > 500 for 3 ticks"'


class TriggerError(ValueError):
    """A trigger that does not follow the grammar; the message is one line for the plan error."""


@dataclass(frozen=True)
class Trigger:
    """``metric op threshold``, holding on ``ticks`` consecutive ticks."""

    text: str
    metric: str
    op: str
    threshold: float
    ticks: int = 1

    def holds(self, value: float | None) -> bool:
        """Does one tick's value meet the condition? Unmeasured (None) never does."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return OPERATORS[self.op](float(value), self.threshold)

    def fired(self, history: Sequence[Mapping[str, float | None]]) -> str | None:
        """The reason this trigger fires on the latest ticks of ``history``, or None.

        The reason names the trigger and the values that made it fire, so a rollback
        report says why without anyone re-reading graphs.
        """
        if len(history) < self.ticks:
            return None
        recent = history[-self.ticks :]
        values = [tick.get(self.metric) for tick in recent]
        if not all(self.holds(v) for v in values):
            return None
        shown = ", ".join(_percent(v) if self.metric in RATE_METRICS else _number(v) for v in values)
        last = len(history)
        where = f"tick {last}" if self.ticks == 1 else f"ticks {last - self.ticks + 1}-{last}"
        return f"{self.text}: {self.metric} was {shown} on {where}"


def _percent(value: float | None) -> str:
    """A rate as the plan writes its threshold: 0.75 is "75%" (next to "error_rate > 1%")."""
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def parse_trigger(text: str) -> Trigger:
    """Parse one trigger; :class:`TriggerError` says what is wrong in one line."""
    match = _SYNTAX.match(text)
    if match is None:
        raise TriggerError(f"expected 'metric op number [for N ticks]' such as {EXAMPLE}, got {text!r}")
    metric = match["metric"]
    if metric not in METRICS:
        raise TriggerError(f"unknown metric {metric!r} in {text!r} (known: {', '.join(sorted(METRICS))})")
    threshold = float(match["number"])
    if match["percent"]:
        if metric not in RATE_METRICS:
            raise TriggerError(f"'%' only applies to rates ({', '.join(sorted(RATE_METRICS))}), not {metric!r}")
        threshold /= 100.0
    ticks = int(match["ticks"]) if match["ticks"] else 1
    if ticks < 1:
        raise TriggerError(f"'for N ticks' needs N >= 1, got {text!r}")
    normalized = " ".join(text.split())
    return Trigger(text=normalized, metric=metric, op=match["op"], threshold=threshold, ticks=ticks)
