"""Reading run journals back: which runs were interrupted, how far they got, what to do next.

A run is interrupted when its journal has no ``run finished`` event (the process died).
Its ``state`` events hold what recovery needs: revisions, snapshot, schema and backup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeshift.errors import ConfigError
from safeshift.journal import read_journal


@dataclass
class RunRecord:
    """One run as its journal tells it."""

    run_id: str
    folder: Path
    database: str | None = None
    plan: str | None = None
    started: str | None = None
    finished: bool = False
    outcome: str | None = None
    last_phase: str | None = None
    apply_started: bool = False
    apply_finished: bool = False
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return not self.finished

    @property
    def unproven(self) -> bool:
        """Finished with its rollback not proven (exit 4): the database's state is unknown."""
        return self.finished and self.outcome == "failed"

    @property
    def backfill_checkpoints(self) -> bool:
        """The migration was inside a checkpointed backfill (safeshift.backfill): it can continue."""
        return any(kind.startswith("backfill:") for kind in self.state)

    @property
    def resumable(self) -> bool:
        return self.apply_finished or (self.apply_started and self.backfill_checkpoints)

    @property
    def next_step(self) -> str:
        """What a person should run for an interrupted run."""
        if self.unproven:
            return f"safeshift rollback {self.run_id}  (its rollback was not proven: try it again once the cause is fixed)"
        if self.apply_started and not self.apply_finished and self.backfill_checkpoints:
            return (
                f"safeshift resume {self.run_id}  (continues the backfill from its checkpoint)  "
                f"or  safeshift rollback {self.run_id}"
            )
        if self.apply_finished:
            return f"safeshift resume {self.run_id}  (the migration completed; verify and finish)  or  safeshift rollback {self.run_id}"
        if self.apply_started:
            return f"safeshift rollback {self.run_id}  (the migration did not complete)"
        return f"safeshift rollback {self.run_id}  (died before apply: proves nothing changed and closes the run)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "database": self.database,
            "started": self.started,
            "outcome": self.outcome if self.finished else "interrupted",
            "last_phase": self.last_phase,
            "apply_started": self.apply_started,
            "apply_finished": self.apply_finished,
            "next": self.next_step if self.interrupted or self.unproven else None,
        }


def runs_dir(home: Path) -> Path:
    return home / ".safeshift" / "runs"


def read_run(folder: Path) -> RunRecord:
    record = RunRecord(run_id=folder.name, folder=folder)
    journal = folder / "journal.jsonl"
    if not journal.is_file():
        return record
    for event in read_journal(journal):
        phase, kind = event.get("phase"), event.get("event")
        if phase == "run" and kind == "started" and record.started is None:
            record.started = event.get("ts")
            record.database = event.get("database")
            record.plan = event.get("plan")
        elif phase == "run" and kind == "finished":
            record.finished = True
            record.outcome = event.get("outcome")
        elif phase == "state":
            record.state[str(kind)] = event
        elif kind == "started":
            record.last_phase = phase
            if phase == "apply":
                record.apply_started = True
        elif kind == "finished":
            record.phases.append(event)
            if phase == "apply" and event.get("status") == "ok":
                record.apply_finished = True
    return record


def all_runs(home: Path) -> list[RunRecord]:
    folder = runs_dir(home)
    if not folder.is_dir():
        return []
    return [read_run(f) for f in sorted(folder.iterdir(), reverse=True) if f.is_dir()]


def load_run(home: Path, run_id: str) -> RunRecord:
    """The journal of ``run_id``; a one-line error when there is none."""
    folder = runs_dir(home) / run_id
    if not (folder / "journal.jsonl").is_file():
        raise ConfigError(f"no run {run_id!r} under {runs_dir(home)} (see `safeshift status`)")
    return read_run(folder)


def interrupted_runs(home: Path, database: str) -> list[RunRecord]:
    """Runs against ``database`` that left it changed or unknown: died after apply began, or failed to prove a rollback."""
    return [
        r for r in all_runs(home)
        if r.database == database and ((r.interrupted and r.apply_started) or r.unproven)
    ]
