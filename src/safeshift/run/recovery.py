"""Reading run journals back: which runs were interrupted, how far they got, what to do next.

A run is interrupted when its journal has no ``run finished`` event (the process died).
Its typed ``state`` events (:mod:`safeshift.run.state`) hold what recovery needs.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeshift.backfill.checkpoints import JOURNAL_PREFIX
from safeshift.errors import ConfigError
from safeshift.journal import Journal, read_journal
from safeshift.run.state import STATE, Backup, Decision, Maintenance, Revisions, Snapshot


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
    message: str | None = None  # the verdict, as the journal's "run finished" holds it
    last_phase: str | None = None
    apply_started: bool = False
    apply_finished: bool = False
    revisions: Revisions | None = None
    snapshot: Snapshot | None = None
    backup: Backup | None = None
    maintenance_on: bool = False
    went_live: bool = False  # maintenance went off after apply began: the application could write
    rollback_decided: str | None = None  # why the run decided to roll back (then only a rollback may follow)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # backfill:<name> -> event
    phases: list[dict[str, Any]] = field(default_factory=list)

    process: dict[str, Any] = field(default_factory=dict)  # pid, host, boot-relative start of the run's process

    @property
    def interrupted(self) -> bool:
        return not self.finished

    @property
    def alive(self) -> bool:
        """Is the process that wrote this journal still running (same host, same pid, same start)?
        A run whose process lives is running, whatever its lock says: never recover it."""
        return self.interrupted and bool(self.process) and self.process == _identity_of(self.process.get("pid"))

    @property
    def unproven(self) -> bool:
        """Finished with its rollback not proven, or stopped for a person (exit 4): the
        database's state is not the before-state, and nothing else may run on it yet."""
        return self.finished and self.outcome in ("failed", "stopped")

    @property
    def resumable(self) -> bool:
        """Forward only when the run never decided to roll back."""
        if self.rollback_decided is not None:
            return False
        return self.apply_finished or (self.apply_started and bool(self.checkpoints))

    @property
    def next_step(self) -> str:
        """What a person should run for an interrupted run."""
        if self.unproven:
            return f"safeshift rollback {self.run_id}  (its rollback was not proven: try it again once the cause is fixed)"
        if self.rollback_decided is not None:
            return f"safeshift rollback {self.run_id}  (the run had decided to roll back: {self.rollback_decided})"
        if not self.apply_started:
            return f"safeshift rollback {self.run_id}  (died before apply: proves nothing changed and closes the run)"
        if self.apply_started and not self.apply_finished and self.checkpoints:
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


_STATES = {cls.kind: cls for cls in (Revisions, Snapshot, Backup, Maintenance, Decision)}


def read_run(folder: Path) -> RunRecord:
    record = RunRecord(run_id=folder.name, folder=folder)
    journal = folder / "journal.jsonl"
    if not journal.is_file():
        return record
    for event in read_journal(journal):
        phase, kind = event.get("phase"), str(event.get("event"))
        if phase == "run" and kind == "started" and record.started is None:
            record.started = event.get("ts")
            record.database = event.get("database")
            record.plan = event.get("plan")
            record.process = {k: event[k] for k in ("pid", "host", "process_start") if k in event}
        elif phase == "run" and kind == "finished":
            record.finished = True
            record.outcome = event.get("outcome")
            record.message = event.get("message")
        elif phase == STATE:
            _read_state(record, kind, event)
        elif kind == "started":
            record.last_phase = phase
            if phase == "apply":
                record.apply_started = True
        elif kind == "finished":
            record.phases.append(event)
            if phase == "apply" and event.get("status") == "ok":
                record.apply_finished = True
            if phase == "maintenance:off" and record.apply_started:
                record.went_live = True
    return record


def _read_state(record: RunRecord, kind: str, event: dict[str, Any]) -> None:
    if kind.startswith(JOURNAL_PREFIX):
        record.checkpoints[kind] = event
        return
    cls = _STATES.get(kind)
    if cls is None:
        return
    state = cls.read(event)
    if isinstance(state, Revisions):
        record.revisions = state
    elif isinstance(state, Snapshot):
        record.snapshot = state
    elif isinstance(state, Backup):
        record.backup = state
    elif isinstance(state, Maintenance):
        record.maintenance_on = state.on
    elif isinstance(state, Decision) and state.rollback:
        record.rollback_decided = state.reason


def runs_dir(workdir: Path) -> Path:
    return workdir / ".safeshift" / "runs"


def all_runs(workdir: Path) -> list[RunRecord]:
    folder = runs_dir(workdir)
    if not folder.is_dir():
        return []
    return [read_run(f) for f in sorted(folder.iterdir(), reverse=True) if f.is_dir()]


def load_run(workdir: Path, run_id: str) -> RunRecord:
    """The journal of ``run_id``; a one-line error when there is none."""
    folder = runs_dir(workdir) / run_id
    if not (folder / "journal.jsonl").is_file():
        raise ConfigError(f"no run {run_id!r} under {runs_dir(workdir)} (see `safeshift status`)")
    return read_run(folder)


def interrupted_runs(workdir: Path, database: str) -> list[RunRecord]:
    """Runs against ``database`` that left it changed or unknown: died after apply began, failed to
    prove a rollback, or still run (their process is alive, lock or not)."""
    return [
        r for r in all_runs(workdir)
        if r.database == database and ((r.interrupted and r.apply_started) or r.unproven or r.alive)
    ]


def abandon(record: RunRecord, by: str) -> None:
    """Close an interrupted run whose process is gone: its journal says who abandoned it."""
    journal = Journal(record.folder / "journal.jsonl")
    try:
        journal.event("run", "finished", outcome="abandoned", message=f"abandoned by run {by} (--force)")
    finally:
        journal.close()


def process_identity() -> dict[str, Any]:
    """This process as a later reader can recognise it: pid, host and the kernel's start time
    of the pid (so a reused pid is not mistaken for the run's process)."""
    return _identity_of(os.getpid()) or {"pid": os.getpid(), "host": socket.gethostname()}


def _identity_of(pid: Any) -> dict[str, Any]:
    """pid, host and start time of a live process on this host; {} when there is none."""
    if not isinstance(pid, int):
        return {}
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return {}
    fields_after_name = stat.rsplit(")", 1)[-1].split()
    start = fields_after_name[19] if len(fields_after_name) > 19 else ""  # field 22: starttime
    return {"pid": pid, "host": socket.gethostname(), "process_start": start}


def refuse_if_alive(record: RunRecord) -> None:
    """Recovering a run whose process still runs would put two processes on one run."""
    if record.alive:
        raise ConfigError(
            f"run {record.run_id} is still running (pid {record.process.get('pid')} on {record.process.get('host')}); "
            "wait for it to finish, or stop it first"
        )
