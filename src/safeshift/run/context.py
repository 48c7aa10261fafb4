"""RunContext: what every phase of one run shares (plan, dialect, migrator, journal, result).

Phases are functions over a context; they read the plan and write what they learn into
``ctx.result`` and the journal. Connections and scratch copies are opened here, once, so
each phase does not write its own lifecycle.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from safeshift import faults
from safeshift.checks import Check, CheckContext, CheckResult, build_checks, run_checks
from safeshift.config.load import backup_dir, resolve_workdir
from safeshift.config.models import Plan
from safeshift.dialects import Dialect, get_dialect
from safeshift.dialects.base import SchemaShape
from safeshift.errors import ConnectError, SafeshiftError
from safeshift.journal import Journal, now_iso
from safeshift.logs import describe
from safeshift.run.outcome import LockLost, PhaseFailed, PhaseResult, RunResult, Stop
from safeshift.secrets import first_line, register_url, safe_url

if TYPE_CHECKING:
    import logging

    from safeshift.app.maintenance import MaintenanceHook
    from safeshift.app.notify import Notifier
    from safeshift.app.watch import WatchSample
    from safeshift.migrators import Migrator
    from safeshift.migrators.base import Rendered
    from safeshift.run.phases.approve import Approval
    from safeshift.run.recovery import RunRecord
    from safeshift.run.state import Backup, Decision, Maintenance, Revisions, Snapshot


class Observer(Protocol):
    """Receives progress while a run goes on (the CLI draws it; tests may record it)."""

    def phase_started(self, name: str) -> None: ...
    def phase_finished(self, phase: PhaseResult) -> None: ...
    def progress(self, task: str, done: int, total: int | None) -> None: ...
    def watch_tick(self, sample: WatchSample) -> None: ...


class NullObserver:
    """Shows nothing."""

    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, phase: PhaseResult) -> None:
        pass

    def progress(self, task: str, done: int, total: int | None) -> None:
        pass

    def watch_tick(self, sample: WatchSample) -> None:
        pass


def new_run_id() -> str:
    """Sortable by start time (to the millisecond), unique by a random suffix."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + _random.token_hex(3)


def error_text(exc: BaseException) -> str:
    """One line for a person: our own messages as they are, a driver's error by its first line."""
    if isinstance(exc, SafeshiftError | Stop | PhaseFailed):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return first_line(exc)


@dataclass
class Options:
    """How this run was asked for (the CLI's flags)."""

    dry_run: bool = False
    rehearse: bool = False
    approval: Approval | None = None
    force: bool = False


@dataclass
class RunContext:
    """One run's shared state. Build it with :meth:`create`."""

    plan: Plan
    workdir: Path
    run_id: str
    run_dir: Path
    url: URL
    dialect: Dialect
    migrator: Migrator
    pre_checks: list[Check[Any]]
    post_checks: list[Check[Any]]
    maintenance: MaintenanceHook | None
    observer: Observer
    options: Options
    result: RunResult
    journal: Journal | None = None
    engine: Engine | None = None
    schema: SchemaShape = field(default_factory=dict)  # columns of every table before the change
    baseline: dict[str, Any] = field(default_factory=dict)  # checks' before-states
    proof_checks: list[Check[Any]] = field(default_factory=list)  # table_unchanged per table, for the proof
    maintenance_on: bool = False  # as far as we know; the journal records every switch
    went_live: bool = False  # maintenance went off after apply began: the application could write
    keep_maintenance: bool = False  # a rollback stopped for a person: maintenance stays on at the end
    _held: contextlib.ExitStack | None = None  # while a rollback runs: one scratch copy of the before-state
    _before: Engine | None = None
    _fenced_at: float = 0.0
    apply_started: bool = False  # from then on, a failure means rollback
    record: RunRecord | None = None  # the interrupted run this one continues
    backfill_upto: list[str | None] = field(default_factory=list)  # per backfill step: upgrade to this first
    current_phase: str = "run"  # the phase a third-party log record is journaled under
    notifier: Notifier | None = None  # the plan's [[notify]] webhooks (run/notices.py says what they hear)
    rendered: list[Rendered] | None = None  # the pending migration as preflight's lint rendered it

    @classmethod
    def create(
        cls, plan: Plan, *, workdir: Path | None = None, observer: Observer | None = None, options: Options | None = None
    ) -> RunContext:
        from safeshift.app.maintenance import build_maintenance
        from safeshift.migrators import get_migrator

        url = plan.database_url()
        register_url(url)
        home = resolve_workdir(plan, workdir)
        run_id = new_run_id()
        return cls(
            plan=plan,
            workdir=home,
            run_id=run_id,
            run_dir=home / ".safeshift" / "runs" / run_id,
            url=url,
            dialect=get_dialect(url),
            migrator=get_migrator(plan),
            pre_checks=build_checks(plan, "pre"),
            post_checks=build_checks(plan, "post"),
            maintenance=build_maintenance(plan.maintenance, source=plan.source.name, base_dir=plan.base_dir),
            observer=observer or NullObserver(),
            options=options or Options(),
            result=RunResult(
                run_id=run_id, plan=str(plan.source), database=safe_url(url), started=now_iso(),
                environment=environment(),
            ),
        )

    # -- journal ------------------------------------------------------------------------
    def event(self, phase: str, event: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.event(phase, event, **data)

    def log(self, record: logging.LogRecord) -> None:
        """A third-party log record (Alembic's "Running upgrade …") as an event of the phase that caused it."""
        self.event(self.current_phase, "log", **describe(record))

    def write_state(self, state: Revisions | Snapshot | Backup | Maintenance | Decision) -> None:
        if self.journal is not None:
            state.write(self.journal)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[PhaseResult]:
        """Time and journal one phase; an exception marks it (blocked before any change, else failed)."""
        self.fence()  # before every step: a run that lost its lock must not take another
        record = PhaseResult(name=name, started=now_iso())
        outer, self.current_phase = self.current_phase, name
        self.observer.phase_started(name)
        self.event(name, "started")
        faults.hit(f"{name}:started")
        started = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            if record.status == "ok":
                if isinstance(exc, Stop):
                    record.status = exc.phase_status
                elif isinstance(exc, SafeshiftError) and not self.apply_started:
                    record.status = "blocked"
                else:
                    record.status = "failed"
            record.detail.setdefault("error", error_text(exc))
            if self.notifier is not None and record.status in ("failed", "blocked"):
                from safeshift.run import notices

                notices.phase_failed(self, record)
            raise
        finally:
            self.current_phase = outer
            record.seconds = time.perf_counter() - started
            self.result.phases.append(record)
            self.event(
                name, "finished", status=record.status, started=record.started,
                seconds=round(record.seconds, 4), detail=record.detail,
            )
            self.observer.phase_finished(record)
        faults.hit(f"{name}:finished")

    # -- the database ---------------------------------------------------------------------
    def connect(self) -> Connection:
        assert self.engine is not None
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise ConnectError(f"cannot connect to {safe_url(self.url)}: {error_text(exc)}") from None

    @contextlib.contextmanager
    def scratch(self, label: str) -> Iterator[tuple[URL, Engine]]:
        """A scratch database restored from this run's backup; dropped on the way out."""
        backup = self.result.backup
        assert backup is not None
        url = self.dialect.scratch_copy(backup, label, self.run_id)
        try:
            faults.hit(f"scratch:{label}")
            engine = get_dialect(url).create_engine()
            try:
                yield url, engine
            finally:
                engine.dispose()
        finally:
            self.dialect.drop_scratch_copy(url)

    @contextlib.contextmanager
    def holding_before(self) -> Iterator[None]:
        """Keep one scratch copy of the before-state (made on first use) until the block ends:
        the rollback's proof and its write diff read the same copy instead of restoring twice."""
        with contextlib.ExitStack() as stack:
            self._held = stack
            try:
                yield
            finally:
                self._held, self._before = None, None

    @contextlib.contextmanager
    def before_copy(self) -> Iterator[Engine]:
        """The before-state as a database: the held copy, or a scratch copy for this block only."""
        if self._held is not None:
            if self._before is None:
                _url, self._before = self._held.enter_context(self.scratch("before"))
            yield self._before
            return
        with self.scratch("before") as (_url, engine):
            yield engine

    @property
    def application_live(self) -> bool:
        """Could the application write after apply began? (No maintenance hook: always.)"""
        return self.maintenance is None or self.went_live

    @property
    def backup_dir(self) -> Path:
        return backup_dir(self.plan, self.workdir)

    # -- checks ---------------------------------------------------------------------------
    def check_context(self, conn: Connection, snapshot: dict[str, int] | None) -> CheckContext:
        return CheckContext(conn=conn, snapshot=snapshot, base_dir=self.plan.base_dir, baseline=self.baseline)

    def run_checks(self, conn: Connection, checks: Sequence[Check[Any]], snapshot: dict[str, int] | None) -> list[CheckResult]:
        """Run checks and keep their results on the run's record."""
        results = run_checks(list(checks), self.check_context(conn, snapshot), self.steps(checks))
        self.result.checks.extend(results)
        return results

    def progress(self, task: str, done: int, total: int | None) -> None:
        self.observer.progress(task, done, total)
        if time.monotonic() - self._fenced_at > 2.0:  # long work checks its lock every few seconds
            self.fence()

    def fence(self) -> None:
        """Stop at once if this run no longer holds the database's run lock (its session was
        terminated, the connection lost): another process may be acting on the database."""
        self._fenced_at = time.monotonic()
        if self.engine is not None and not self.dialect.lock_alive():
            self.keep_maintenance = True  # whoever acts now decides about maintenance
            raise LockLost(
                f"run {self.run_id} lost the database's run lock (its session ended); it stopped and changed "
                "nothing more: check `safeshift status` for another run before recovering this one"
            )

    def steps(self, checks: Sequence[Check[Any]], label: str | None = None) -> Callable[[int, int], None]:
        """Progress after each of ``checks``, labelled by what they are (pre-checks, table hashes, ...)."""
        if label is None:
            phase = checks[0].phase if checks else ""
            label = {"pre": "pre-checks", "post": "post-checks", "proof": "hashing tables"}.get(phase, f"{phase} checks")
        return lambda done, total: self.progress(label, done, total)


def environment() -> dict[str, str]:
    """Who runs safeshift where, for the report: a reviewer asks "which version, from which box, by whom?"."""
    import getpass
    import platform
    import socket

    from safeshift import __version__

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return {
        "safeshift": __version__,
        "host": socket.gethostname(),
        "user": user,
        "python": platform.python_version(),
    }


def failure_message(what: str, failed: list[CheckResult]) -> str:
    """The first three failed checks in one line, with their offending keys."""
    parts = []
    for r in failed[:3]:
        text = f"{what} {r.name!r} failed: got {r.value}, expected {r.expected}"
        if r.error:
            text = f"{what} {r.name!r} could not run: {r.message}"
        if r.samples:
            text += " (offending: " + ", ".join(str(s) for s in r.samples) + ")"
        parts.append(text)
    if len(failed) > 3:
        parts.append(f"and {len(failed) - 3} more")
    return "; ".join(parts)
