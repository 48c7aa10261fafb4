"""The watch window after a migration: probes, log errors and checks, tick by tick.

The runbook watches for hours by hand (``curl /health``, ``grep -c ERROR``) and rolls back
when "error rates > 1%" or "response times > 500 ms consistently". Here a window of
``duration`` seconds reruns the smoke probes every ``interval``, counts new matching log
lines, optionally reruns chosen post-checks, and stops at the first trigger that fires,
naming it and the values that fired it. The core draws nothing: ``on_tick`` receives
every sample (see :mod:`safeshift.app.view` for a Rich live table).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from safeshift.app.probes import ProbeResult, run_probes
from safeshift.app.template import render
from safeshift.app.triggers import first_fired
from safeshift.config.models import SmokeProbe, WatchSection
from safeshift.secrets import redact, redact_data

# Given the names of post-checks, run them and say which passed (name -> passed).
CheckCallback = Callable[[Sequence[str]], Mapping[str, bool]]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def planned_ticks(section: WatchSection) -> int:
    """How many ticks a window that no trigger stops makes (one at 0, then every interval)."""
    return max(1, math.ceil(section.duration / section.interval - 1e-9))


@dataclass
class WatchSample:
    """One tick: what was measured, and the metrics triggers look at."""

    tick: int
    at_s: float
    requests: int = 0
    failures: int = 0
    requests_total: int = 0
    failures_total: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    log_errors: int | None = None
    checks_failed: int | None = None
    problems: list[str] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def error_rate(self) -> float | None:
        return self.failures_total / self.requests_total if self.requests_total else None

    @property
    def tick_error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def metrics(self) -> dict[str, float | None]:
        """The values triggers are evaluated on (see safeshift.config.triggers.METRICS)."""
        return {
            "error_rate": self.error_rate,
            "tick_error_rate": self.tick_error_rate,
            "failures": float(self.failures) if self.requests else None,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "max_ms": self.max_ms,
            "log_errors": None if self.log_errors is None else float(self.log_errors),
            "checks_failed": None if self.checks_failed is None else float(self.checks_failed),
        }

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tick": self.tick,
            "at_s": round(self.at_s, 3),
            "requests": self.requests,
            "failures": self.failures,
            "requests_total": self.requests_total,
            "failures_total": self.failures_total,
        }
        data.update({k: None if v is None else round(v, 4) for k, v in self.metrics().items()})
        data["problems"] = list(self.problems)
        data["probes"] = [p.to_dict() for p in self.probes]
        return dict(redact_data(data))


@dataclass
class WatchResult:
    """The whole window; ``triggered`` names the trigger that fired and its values."""

    samples: list[WatchSample] = field(default_factory=list)
    triggered: str | None = None
    seconds: float = 0.0
    planned_seconds: float = 0.0
    stopped: bool = False  # ended early by Watcher.stop(), not by a trigger
    triggers: list[str] = field(default_factory=list)  # what was watched for

    @property
    def passed(self) -> bool:
        return self.triggered is None

    def to_dict(self) -> dict[str, Any]:
        last = self.samples[-1] if self.samples else None
        data = {
            "passed": self.passed,
            "triggered": self.triggered,
            "triggers": list(self.triggers),
            "ticks": len(self.samples),
            "seconds": round(self.seconds, 3),
            "planned_seconds": self.planned_seconds,
            "stopped": self.stopped,
            "requests": last.requests_total if last else 0,
            "failures": last.failures_total if last else 0,
            "error_rate": None if last is None or last.error_rate is None else round(last.error_rate, 4),
            "samples": [s.to_dict() for s in self.samples],
        }
        return dict(redact_data(data))


class LogTail:
    """Counts lines matching a pattern that were appended since the last look (``grep -c``, but only new lines)."""

    def __init__(self, path: Path, pattern: str) -> None:
        self.path = path
        self.pattern = re.compile(pattern)
        self.offset = 0

    def start(self) -> None:
        """Remember where the log ends now: older errors are not this migration's."""
        try:
            self.offset = self.path.stat().st_size
        except OSError:
            self.offset = 0

    def count_new(self) -> int:
        """Matching complete lines written since the last call; a truncated (rotated) log is read from its start."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return 0
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return 0
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return 0  # a line still being written is counted once it is complete
        self.offset += end + 1
        lines = chunk[: end + 1].decode("utf-8", errors="replace").splitlines()
        return sum(1 for line in lines if self.pattern.search(line))


class Watcher:
    """Runs one watch window. ``clock``/``sleep`` can be replaced (tests use short intervals or a fake clock)."""

    def __init__(
        self,
        section: WatchSection,
        probes: Sequence[SmokeProbe],
        client: httpx.Client,
        variables: Mapping[str, str],
        check_callback: CheckCallback | None = None,
        on_tick: Callable[[WatchSample], None] | None = None,
        *,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if section.checks and check_callback is None:
            raise ValueError("the watch reruns checks but no check_callback was given")
        self.section = section
        wanted = section.probes
        self.probes = [p for p in probes if wanted is None or p.name in wanted]
        missing = sorted(set(wanted or ()) - {p.name for p in probes})
        if missing:
            raise ValueError(f"watch.probes names unknown smoke probes: {', '.join(missing)}")
        self.client = client
        self.variables = dict(variables)
        self.check_callback = check_callback
        self.on_tick = on_tick
        self.triggers = section.parsed_triggers()
        self.clock = clock
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait
        self.log: LogTail | None = None
        if section.log_file is not None:
            path = Path(render(section.log_file, None, "watch.log_file", secret=False)).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            self.log = LogTail(path, section.log_pattern)

    def stop(self) -> None:
        """End the window after the current tick (from another thread)."""
        self._stop.set()

    def run(self) -> WatchResult:
        """Tick at 0, interval, 2 × interval, … until ``duration`` or the first trigger fires."""
        result = WatchResult(planned_seconds=self.section.duration, triggers=[t.text for t in self.triggers])
        if self.log is not None:
            self.log.start()
        started = self.clock()
        history: list[dict[str, float | None]] = []
        tick = 0
        while True:
            tick += 1
            sample = self._tick(tick, started, result.samples[-1] if result.samples else None)
            result.samples.append(sample)
            history.append(sample.metrics())
            if self.on_tick is not None:
                self.on_tick(sample)
            result.triggered = first_fired(self.triggers, history)
            if result.triggered is not None:
                result.triggered = redact(result.triggered)
                break
            # The next slot on the schedule; slots a slow tick overran are skipped, not bunched up.
            slot = max(tick, math.floor((self.clock() - started) / self.section.interval) + 1)
            next_at = started + slot * self.section.interval
            if next_at >= started + self.section.duration - 1e-9:
                break
            if self._stop.is_set():
                result.stopped = True
                break
            delay = next_at - self.clock()
            if delay > 0:
                self.sleep(delay)
            if self._stop.is_set():
                result.stopped = True
                break
        result.seconds = self.clock() - started
        return result

    def _tick(self, tick: int, started: float, previous: WatchSample | None) -> WatchSample:
        sample = WatchSample(tick=tick, at_s=self.clock() - started)
        if self.probes:
            results = run_probes(self.probes, self.client, self.variables, stop_on_failure=False)
            sample.probes = results
            sample.requests = len(results)
            sample.failures = sum(1 for r in results if not r.passed)
            latencies = [r.latency_ms for r in results if r.latency_ms is not None]
            sample.p50_ms = percentile(latencies, 0.50)
            sample.p95_ms = percentile(latencies, 0.95)
            sample.max_ms = max(latencies) if latencies else None
            sample.problems += [f"probe {r.name}: {r.message}" for r in results if not r.passed]
        sample.requests_total = sample.requests + (previous.requests_total if previous else 0)
        sample.failures_total = sample.failures + (previous.failures_total if previous else 0)
        if self.log is not None:
            sample.log_errors = self.log.count_new()
            if sample.log_errors:
                sample.problems.append(f"{sample.log_errors} new log line(s) match {self.section.log_pattern!r}")
        if self.section.checks and self.check_callback is not None:
            sample.checks_failed = self._run_checks(sample)
        sample.problems = [redact(p) for p in sample.problems]
        return sample

    def _run_checks(self, sample: WatchSample) -> int:
        assert self.check_callback is not None
        names = list(self.section.checks)
        try:
            outcome = self.check_callback(names)
        except Exception as exc:  # a check that cannot run counts as failing, never ends the watch silently
            sample.problems.append(f"checks could not run: {type(exc).__name__}: {exc}")
            return len(names)
        failed = [name for name in names if not outcome.get(name, False)]
        sample.problems += [f"check failed: {name}" for name in failed]
        return len(failed)
