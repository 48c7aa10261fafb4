"""Progress as a person sees it: a live bar whose label follows the work at a terminal, and in a
log (piped) one line per step for short counts, per 10 % for long ones."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift.cli.app import app
from safeshift.cli.progress import ProgressView


def piped() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_piped_long_work_prints_one_line_per_ten_percent() -> None:
    console, buffer = piped()
    view = ProgressView(console, quiet_s=0)
    for done in range(0, 1001, 7):
        view.update("backfill users:family_id", done, 1000)
    view.update("backfill users:family_id", 1000, 1000)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "   backfill users:family_id: 0% (0 of 1,000)"
    assert lines[-1] == "   backfill users:family_id: 100% (1,000 of 1,000)"
    assert len(lines) == 11


def test_piped_short_counts_print_every_step_and_a_new_label_starts_over() -> None:
    console, buffer = piped()
    view = ProgressView(console, quiet_s=0)
    for done in (1, 2, 3):
        view.update("post-checks", done, 3)
    for done in (0, 50, 100):
        view.update("backfill b", done, 100)
    assert buffer.getvalue().splitlines() == [
        "   post-checks: 1/3", "   post-checks: 2/3", "   post-checks: 3/3",
        "   backfill b: 0% (0 of 100)", "   backfill b: 50% (50 of 100)", "   backfill b: 100% (100 of 100)",
    ]


def test_piped_unknown_totals_are_sizes_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    console, buffer = piped()
    view = ProgressView(console)
    clock = iter([100.0, 100.1, 106.0, 106.5, 112.0])
    monkeypatch.setattr("safeshift.cli.progress.time.monotonic", lambda: next(clock))
    for done in (1024, 2048, 4096, 8192, 1 << 20):
        view.update("backup", done, None)
    assert buffer.getvalue().splitlines() == ["   backup: 4.0 KiB so far", "   backup: 1.0 MiB so far"]


def test_piped_fast_work_prints_only_its_end() -> None:
    console, buffer = piped()
    view = ProgressView(console)
    for done in range(1, 13):
        view.update("post-checks", done, 12)
    assert buffer.getvalue().splitlines() == ["   post-checks: 12/12"]


def test_the_bar_takes_the_label_of_the_current_work() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    view = ProgressView(console)
    view.update("backfill first", 50, 100)
    view.update("backfill second", 10, 200)
    assert view._progress is not None
    task = view._progress.tasks[0]
    assert (task.description, task.completed, task.total) == ("backfill second", 10, 200)
    view.stop()


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_piped_run_shows_its_checks_progress(items_db: ItemsDb, tmp_path: Path) -> None:
    extra = '\n[[checks.post]]\nkind = "row_count"\ntable = "items"\nexpect = "== snapshot"\n'
    plan = items_plan(tmp_path / "plan", extra)
    done = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert done.exit_code == 0, done.output
    assert "   post-checks: 1/1" in done.output
