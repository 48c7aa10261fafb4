"""The watch window's parts without an HTTP server: trigger grammar, ticks, log tail, checks.

Watch windows against the running demo application are in test_app_family.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from safeshift.app.triggers import first_fired
from safeshift.app.watch import LogTail, Watcher, WatchSample, percentile, planned_ticks
from safeshift.config.models import WatchSection
from safeshift.config.triggers import Trigger, TriggerError, parse_trigger


class FakeTime:
    """A clock that only moves when the watcher sleeps: an hour-long window in no time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "ticks"),
    [
        ("error_rate > 0.01", "error_rate", ">", 0.01, 1),
        ("error_rate>1%", "error_rate", ">", 0.01, 1),
        ("p95_ms > 500 for 3 ticks", "p95_ms", ">", 500.0, 3),
        ("  log_errors   >=  1  for 1 tick ", "log_errors", ">=", 1.0, 1),
        ("checks_failed != 0", "checks_failed", "!=", 0.0, 1),
    ],
)
def test_trigger_grammar(text: str, metric: str, op: str, threshold: float, ticks: int) -> None:
    trigger = parse_trigger(text)
    assert (trigger.metric, trigger.op, trigger.ticks) == (metric, op, ticks)
    assert trigger.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    "text",
    ["error_rate", "error_rate > ", "error_rate => 1", "error_rate > -1", "p95_ms > 5 for ticks",
     "p95_ms > 5 for 2 minutes", "__import__('os') > 1", "latency_ms > 5", "p95_ms > 5%"],
)
def test_bad_triggers_are_rejected(text: str) -> None:
    with pytest.raises(TriggerError) as info:
        parse_trigger(text)
    assert "\n" not in str(info.value)


def test_for_n_ticks_needs_consecutive_ticks() -> None:
    trigger = parse_trigger("p95_ms > 500 for 3 ticks")
    history: list[Mapping[str, float | None]] = [{"p95_ms": 600}, {"p95_ms": 700}, {"p95_ms": 100}, {"p95_ms": 650}]
    assert trigger.fired(history) is None
    history += [{"p95_ms": 900}, {"p95_ms": 800.5}]
    assert trigger.fired(history) == "p95_ms > 500 for 3 ticks: p95_ms was 650, 900, 800.5 on ticks 4-6"
    assert trigger.fired([{"p95_ms": None}] * 3) is None  # unmeasured never fires
    rate = Trigger("error_rate > 1%", "error_rate", ">", 0.01)
    assert first_fired([trigger, rate], [{"error_rate": 0.25, "p95_ms": 10}]) == (
        "error_rate > 1%: error_rate was 25% on tick 1"
    )


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.5) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([10.0, 20.0, 30.0], 0.95) == 30.0


def test_log_tail_counts_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("old ERROR before the watch\n")
    tail = LogTail(log, "ERROR")
    tail.start()
    assert tail.count_new() == 0
    with log.open("a") as handle:
        handle.write("INFO ok\nERROR one\nERROR two\nERROR half")
    assert tail.count_new() == 2
    with log.open("a") as handle:
        handle.write(" written\n")
    assert tail.count_new() == 1
    log.write_text("ERROR after rotation\n")  # shorter than before: rotated, read from the start
    assert tail.count_new() == 1
    assert LogTail(tmp_path / "absent.log", "ERROR").count_new() == 0


def test_window_ticks_on_schedule_with_a_fake_clock(client: httpx.Client, tmp_path: Path) -> None:
    fake = FakeTime()
    log = tmp_path / "app.log"
    log.touch()
    section = WatchSection(duration=3600, interval=60, log_file=str(log))
    seen: list[WatchSample] = []
    result = Watcher(section, [], client, {}, on_tick=seen.append, clock=fake.clock, sleep=fake.sleep).run()
    assert result.passed and result.triggered is None
    assert len(result.samples) == planned_ticks(section) == 60
    assert [s.tick for s in seen] == list(range(1, 61))
    assert all(s == pytest.approx(60) for s in fake.sleeps)
    assert result.samples[-1].at_s == pytest.approx(3540)
    assert result.to_dict()["ticks"] == 60


def test_log_errors_trigger_stops_the_window(client: httpx.Client, tmp_path: Path) -> None:
    fake = FakeTime()
    log = tmp_path / "app.log"
    log.write_text("ERROR from yesterday\n")
    section = WatchSection(duration=600, interval=10, log_file=str(log), triggers=["log_errors > 0"])

    def on_tick(sample: WatchSample) -> None:
        if sample.tick == 3:
            with log.open("a") as handle:
                handle.write("2025-01-01 ERROR GET /api/v1/families/me 500\n")

    result = Watcher(section, [], client, {}, on_tick=on_tick, clock=fake.clock, sleep=fake.sleep).run()
    assert result.triggered == "log_errors > 0: log_errors was 1 on tick 4"
    assert len(result.samples) == 4
    assert result.samples[3].problems == ["1 new log line(s) match 'ERROR'"]


def test_checks_callback_failing_triggers(client: httpx.Client) -> None:
    fake = FakeTime()
    calls: list[Sequence[str]] = []

    def checks(names: Sequence[str]) -> dict[str, bool]:
        calls.append(list(names))
        return {"users without a family": len(calls) < 3, "invite codes are unique": True}

    section = WatchSection(
        duration=100, interval=10, checks=["users without a family", "invite codes are unique"],
        triggers=["checks_failed > 0"],
    )
    result = Watcher(section, [], client, {}, check_callback=checks, clock=fake.clock, sleep=fake.sleep).run()
    assert result.triggered == "checks_failed > 0: checks_failed was 1 on tick 3"
    assert result.samples[-1].problems == ["check failed: users without a family"]
    assert calls[0] == ["users without a family", "invite codes are unique"]


def test_a_check_callback_that_raises_counts_as_failed(client: httpx.Client) -> None:
    fake = FakeTime()

    def broken(names: Sequence[str]) -> dict[str, bool]:
        raise RuntimeError("connection lost")

    section = WatchSection(duration=100, interval=10, checks=["a", "b"], triggers=["checks_failed >= 2"])
    result = Watcher(section, [], client, {}, check_callback=broken, clock=fake.clock, sleep=fake.sleep).run()
    assert result.triggered == "checks_failed >= 2: checks_failed was 2 on tick 1"
    assert result.samples[0].problems == ["checks could not run: RuntimeError: connection lost"]


def test_wiring_mistakes_are_caught_early(client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="check_callback"):
        Watcher(WatchSection(duration=10, checks=["a"]), [], client, {})
    with pytest.raises(ValueError, match="unknown smoke probes: nope"):
        Watcher(WatchSection(duration=10, probes=["nope"]), [], client, {})


def test_stop_ends_the_window_early(client: httpx.Client, tmp_path: Path) -> None:
    section = WatchSection(duration=30, interval=0.05, log_file=str(tmp_path / "a.log"))
    watcher = Watcher(section, [], client, {}, on_tick=lambda s: watcher.stop() if s.tick == 2 else None)
    result = watcher.run()
    assert result.stopped and result.passed and len(result.samples) == 2


def test_a_slow_tick_skips_the_slots_it_overran(client: httpx.Client) -> None:
    fake = FakeTime()
    section = WatchSection(duration=100, interval=10, checks=["a"], triggers=[])

    def slow_checks(names: Sequence[str]) -> dict[str, bool]:
        fake.now += 25  # this tick takes 25 s: the slots at 10 s and 20 s are gone
        return {"a": True}

    result = Watcher(section, [], client, {}, check_callback=slow_checks, clock=fake.clock, sleep=fake.sleep).run()
    assert [round(s.at_s) for s in result.samples] == [0, 30, 60, 90]
    assert result.seconds == pytest.approx(115)


def test_log_file_path_from_the_environment(client: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    monkeypatch.setenv("SS_WATCH_LOG", str(tmp_path / "app.log"))
    section = WatchSection(duration=20, interval=10, log_file="${SS_WATCH_LOG}")

    def on_tick(sample: WatchSample) -> None:
        with (tmp_path / "app.log").open("a") as handle:
            handle.write("ERROR boom\n")

    result = Watcher(section, [], client, {}, on_tick=on_tick, clock=fake.clock, sleep=fake.sleep).run()
    assert result.triggered == "log_errors > 0: log_errors was 1 on tick 2"
