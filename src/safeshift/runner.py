"""The run: preflight → snapshot → backup → apply → verify → report, with a proven rollback.

Each phase is timed and journaled before the next starts. Anything that goes wrong after
apply starts triggers the plan's rollback strategy, and the rollback is itself proven:
revision, tables, columns and row counts back to the snapshot, and the pre-checks passing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import secrets as _random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine import Dialect as SqlDialect
from sqlalchemy.exc import SQLAlchemyError

from safeshift import faults, lint
from safeshift.app.maintenance import build_maintenance
from safeshift.app.probes import failure_message, run_probes
from safeshift.app.sections import check_app_environment
from safeshift.app.watch import Watcher
from safeshift.approval import Approval, plan_digest
from safeshift.backfill import (
    BackfillProgress,
    BackfillStep,
    JournalCheckpoints,
    MemoryCheckpoints,
    backfill_context,
    run_backfill_step,
)
from safeshift.backfill.step import batch_sql
from safeshift.checks import (
    Check,
    CheckContext,
    CheckResult,
    build_checks,
    capture_baseline,
    get_check_class,
    run_checks,
)
from safeshift.dialects import Dialect, get_dialect
from safeshift.dialects.base import BackupInfo, SchemaShape
from safeshift.errors import BackupError, ConfigError, ConnectError, ExitCode, SafeshiftError
from safeshift.journal import Journal, now_iso
from safeshift.migrators import Migrator, get_migrator, output_of
from safeshift.plan import Plan
from safeshift.recovery import RunRecord, interrupted_runs, load_run
from safeshift.report import write_report
from safeshift.result import PhaseResult, RunResult
from safeshift.secrets import redact, register_url, safe_url

PROOF_PREFIX = "rollback proof: table unchanged: "


class Observer(Protocol):
    """Receives progress while a run goes on (the CLI draws it; tests may record it)."""

    def phase_started(self, name: str) -> None: ...
    def phase_finished(self, phase: PhaseResult) -> None: ...
    def progress(self, task: str, done: int, total: int | None) -> None: ...


class NullObserver:
    def phase_started(self, name: str) -> None:
        pass

    def phase_finished(self, phase: PhaseResult) -> None:
        pass

    def progress(self, task: str, done: int, total: int | None) -> None:
        pass


class _Stop(Exception):
    """Ends the run early with an outcome already decided."""


class _PhaseFailed(Exception):
    """A phase after the start of apply failed: roll back."""


def new_run_id() -> str:
    """Sortable by start time (to the millisecond), unique by a random suffix."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + _random.token_hex(3)


def state_dir(plan: Plan, workdir: Path | None) -> Path:
    """Where runs and backups go: ``workdir`` or the plan's folder."""
    return (workdir or plan.base_dir).resolve()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SafeshiftError):
        return exc.message
    if isinstance(exc, _Stop | _PhaseFailed):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip().splitlines()
    return redact(f"{type(orig or exc).__name__}: {text[0] if text else ''}")


class Run:
    """One execution of a plan. Use :func:`run_plan`."""

    def __init__(
        self,
        plan: Plan,
        *,
        workdir: Path | None = None,
        dry_run: bool = False,
        observer: Observer | None = None,
        rehearse: bool | None = None,
        rehearse_only: bool = False,
        approval: Approval | None = None,
        force: bool = False,
    ) -> None:
        self.plan = plan
        self.force = force
        self.dry_run = dry_run
        self.rehearse = plan.rehearsal.enabled if rehearse is None else rehearse
        self.rehearse_only = rehearse_only
        self.approval = approval
        self.observer = observer or NullObserver()
        self.url = plan.database_url()
        register_url(self.url)
        self.dialect: Dialect = get_dialect(self.url)
        self.migrator: Migrator = get_migrator(plan)
        self.pre_checks = build_checks(plan, "pre")
        self.post_checks = build_checks(plan, "post")
        self.home = state_dir(plan, workdir)
        self.run_id = new_run_id()
        self.run_dir = self.home / ".safeshift" / "runs" / self.run_id
        self.result = RunResult(
            run_id=self.run_id, plan=str(plan.source), database=safe_url(self.url), started=now_iso()
        )
        self.journal: Journal | None = None
        self.engine: Engine | None = None
        self.schema: SchemaShape = {}
        self.baseline: dict[str, Any] = {}
        self.proof_checks: list[Check[Any]] = []
        self.maintenance = build_maintenance(plan.maintenance, source=plan.source.name, base_dir=plan.base_dir)
        self.maintenance_on = False  # as far as we know; the journal records every switch
        self.changed = False  # True once apply has started: from then on, failure means rollback
        self.record: RunRecord = RunRecord(run_id=self.run_id, folder=self.run_dir)
        # per [[migration.backfill]] step, the revision to upgrade to before it (None: nothing
        # to apply first), as preflight found it; the dry run cuts the migration's SQL there
        self.backfill_upto: list[str | None] = []
        # (schema, revision) before the migration step now running: a lock timeout that left
        # the database there is retried
        self._retry_base: tuple[SchemaShape, str | None] = ({}, None)
        self._recorded: object = None  # the migrator output last put into the journal
        self._last_output: dict[str, Any] | None = None  # what the last upgrade printed or ran

    # -- plumbing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[PhaseResult]:
        record = PhaseResult(name=name, status="ok")
        self.observer.phase_started(name)
        self._event(name, "started")
        faults.hit(f"{name}:started")
        started = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            if record.status == "ok":
                record.status = "failed"
            record.detail.setdefault("error", _error_text(exc))
            raise
        finally:
            record.seconds = time.perf_counter() - started
            self.result.phases.append(record)
            self._event(name, "finished", status=record.status, seconds=round(record.seconds, 4), detail=record.detail)
            self.observer.phase_finished(record)
        faults.hit(f"{name}:finished")

    def _event(self, phase: str, event: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.event(phase, event, **data)

    def _context(self, conn: Connection, snapshot: dict[str, int] | None) -> CheckContext:
        return CheckContext(conn=conn, snapshot=snapshot, base_dir=self.plan.base_dir, baseline=self.baseline)

    def _checks(self, conn: Connection, checks: list[Any], snapshot: dict[str, int] | None) -> list[CheckResult]:
        results = run_checks(checks, self._context(conn, snapshot))
        self.result.checks.extend(results)
        return results

    def _stop(self, outcome: str, message: str, exit_code: ExitCode = ExitCode.USAGE) -> _Stop:
        self.result.outcome = outcome  # type: ignore[assignment]
        self.result.message = message
        self.result.blocked_exit = exit_code
        return _Stop(message)

    # -- the run ----------------------------------------------------------------------
    def execute(self, body: Callable[[], None] | None = None) -> RunResult:
        """Run ``body`` (default: the whole run) under the lock, journaled, always reported."""
        if not self.dry_run:
            self.journal = Journal(self.run_dir / "journal.jsonl")
            self.result.journal = str(self.journal.path)
            self._event("run", "started", plan=str(self.plan.source), database=safe_url(self.url))
        try:
            self.dialect.check_reachable()
            self.engine = self.dialect.create_engine()
            with self.dialect.run_lock(self.engine, self.run_id, self.result.started):
                (body or self._phases)()
        except _Stop:
            pass
        except SafeshiftError as exc:
            self.result.outcome = "blocked" if not self.changed else "failed"
            self.result.message = exc.message
            self.result.blocked_exit = exc.exit_code
        except (Exception, KeyboardInterrupt) as exc:  # never a traceback: say what happened and whether anything changed
            self.result.outcome = "blocked" if not self.changed else "failed"
            self.result.message = _error_text(exc)
        finally:
            self._maintenance_off_finally()
            if self.engine is not None:
                self.engine.dispose()
            self.result.finished = now_iso()
            if self.journal is not None:
                self._event("run", "finished", outcome=self.result.outcome, message=self.result.message)
                self.journal.close()
                write_report(self.result, self.run_dir)
        return self.result

    # -- recovery of interrupted runs -------------------------------------------------
    def _refuse_if_interrupted(self) -> None:
        """A new run on a half-migrated database would snapshot the wrong state.

        We hold the database's run lock here, so the interrupted run's process is confirmed
        gone; ``force`` abandons it (journaled in both runs) and snapshots the database as it is.
        """
        for record in interrupted_runs(self.home, safe_url(self.url)):
            if record.run_id == self.run_id:
                continue
            if self.force:
                _abandon(record, self.run_id)
                self._event("run", "forced", abandoned=record.run_id, last_phase=record.last_phase)
                continue
            what = "could not prove its rollback" if record.unproven else f"was interrupted in phase {record.last_phase}"
            raise self._stop(
                    "blocked",
                    f"run {record.run_id} {what} on this database; "
                    f"run: {record.next_step}  (or start anew over it with --force)",
                )

    def adopt(self, record: RunRecord) -> None:
        """Continue an interrupted run: same id, folder and journal; state read back from it."""
        if record.finished and record.outcome != "failed":
            raise ConfigError(f"run {record.run_id} already finished ({record.outcome}); nothing to recover")
        if record.database != safe_url(self.url):
            raise ConfigError(
                f"run {record.run_id} was against {record.database}, but the plan now points at {safe_url(self.url)}"
            )
        self.run_id = record.run_id
        self.run_dir = record.folder
        self.record = record
        result = self.result
        result.run_id = record.run_id
        result.started = record.started or result.started
        revisions = record.state.get("revisions", {})
        result.start_revision = revisions.get("start_revision")
        result.target_revision = revisions.get("target_revision")
        result.digest = revisions.get("digest")
        snapshot = record.state.get("snapshot", {})
        result.snapshot = dict(snapshot.get("counts", {}))
        self.schema = dict(snapshot.get("schema", {}))
        self.baseline = _load_baseline(record.folder)
        self.maintenance_on = bool(record.state.get("maintenance", {}).get("on"))
        backup = record.state.get("backup", {}).get("backup")
        if backup:
            result.backup = BackupInfo(**backup)
        result.phases = [
            PhaseResult(name=e["phase"], status=e.get("status", "?"), seconds=e.get("seconds", 0.0), detail=e.get("detail", {}))
            for e in record.phases
        ]
        self.changed = record.apply_started

    def _proof_checks_for(self, schema: SchemaShape) -> list[Check[Any]]:
        """Content hashes for tables whose columns are back as they were (others already differ)."""
        if not self.proof_checks and self.schema and self.result.snapshot:
            with self._connect() as conn:
                self.proof_checks = self._table_hash_checks(conn)
        return [
            c for c in self.proof_checks
            if (table := c.name[len(PROOF_PREFIX):]) in schema and schema[table] == self.schema.get(table)
        ]

    def _recover_rollback(self) -> None:
        record = self.record
        if not self.result.snapshot:
            self.result.outcome = "noop"
            self.result.message = f"run {record.run_id} died in {record.last_phase} before its snapshot: nothing was changed"
            return
        self._rollback(f"rollback of interrupted run {record.run_id} (died in {record.last_phase})")

    def _recover_resume(self) -> None:
        record = self.record
        try:
            if not record.apply_finished:  # a checkpointed backfill: apply again, it continues
                with self._connect() as conn:
                    self._apply(conn)
            with self._connect() as conn:
                revision = self.migrator.current(conn)
                if revision != self.result.target_revision:
                    self.result.message = f"the database is at {revision}, not {self.result.target_revision}"
                    raise _PhaseFailed(self.result.message)
                self._verify(conn)
        except (Exception, KeyboardInterrupt) as exc:  # any failure from here on means rollback
            self._rollback(_error_text(exc))
            return
        self.result.outcome = "succeeded"
        self.result.message = f"resumed run {record.run_id}: migrated {self.result.start_revision or 'base'} → {self.result.target_revision}"

    def _connect(self) -> Connection:
        assert self.engine is not None
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise ConnectError(f"cannot connect to {safe_url(self.url)}: {_error_text(exc)}") from None

    def _phases(self) -> None:
        self._refuse_if_interrupted()
        with self._connect() as conn:
            self._preflight(conn)
            if self.dry_run:
                self._plan_statements()
                raise self._stop("planned", "dry run: nothing was changed", ExitCode.OK)
            self._snapshot(conn)
            self._backup()
        if self.rehearse or self.rehearse_only:
            self._rehearse()
            if self.rehearse_only:
                raise self._stop("rehearsed", self.result.message, ExitCode.OK)
        self._approve()
        try:
            self._maintenance(True)
            with self._connect() as conn:
                self._apply(conn)
                self._verify(conn)
            self._maintenance(False)
            self._after_cutover()
        except (Exception, KeyboardInterrupt) as exc:  # any failure from here on means rollback
            self._rollback(_error_text(exc))
            return
        self.result.outcome = "succeeded"
        self.result.message = f"migrated {self.result.start_revision or 'base'} → {self.result.target_revision}"

    # -- phases -----------------------------------------------------------------------
    def _preflight(self, conn: Connection) -> None:
        with self.phase("preflight") as ph:
            facts = self.dialect.server_facts(conn)
            conn.rollback()
            self.result.facts = facts
            start = self.migrator.current(conn)
            target = self.migrator.resolve_target(self.plan.migration.target)
            pending = self.migrator.pending(conn, self.plan.migration.target)
            self.result.start_revision = start
            self.result.target_revision = target
            self.result.digest = plan_digest(self.plan, self.migrator, target)
            self.result.pending = [r.to_dict() for r in pending]
            self._event(
                "state", "revisions", start_revision=start, target_revision=target, digest=self.result.digest
            )
            ph.detail.update(
                version=facts.version,
                database_bytes=facts.database_bytes,
                current=start,
                target=target,
                pending=[r.id for r in pending],
                digest=self.result.digest,
            )
            self.backfill_upto = self._check_backfills(conn, start, target, [r.id for r in pending])
            if self.backfill_upto:
                ph.detail["backfill_steps"] = [
                    {"name": step.label, "after": step.after or target, "upgrade_first_to": upto}
                    for step, upto in zip(self.plan.migration.backfill, self.backfill_upto, strict=True)
                ]
            if not pending:
                ph.status = "skipped"
                raise self._stop("noop", f"nothing to do: database is at {start or 'base'}", ExitCode.OK)
            self.dialect.check_tools()
            check_app_environment(self.plan)  # a missing probe secret must stop us now, not after apply
            self._lint(ph)
            self._check_disk(ph)
            self._check_activity(conn, ph)
            results = self._checks(conn, self.pre_checks, None)
            failed = [r for r in results if not r.passed]
            if failed:
                ph.status = "blocked"
                raise self._stop("blocked", _failure_message("pre-check", failed), ExitCode.CHECKS_FAILED)

    def _check_backfills(
        self, conn: Connection, start: str | None, target: str, pending: list[str]
    ) -> list[str | None]:
        """Each step's ``after`` is a revision on the way to the target, none before the one above it.

        Checked before anything changes, against the database's pending revisions: a typo'd
        or out-of-order ``after`` would otherwise fail halfway through the migration. Returns,
        per step, the revision to upgrade to before it (None: nothing to apply first).
        """
        name = self.plan.source.name
        upto: list[str | None] = []
        reached = 0  # how many pending revisions are applied once the previous step runs
        for index, step in enumerate(self.plan.migration.backfill):
            where = f"{name}: migration.backfill[{index}].after"
            position = len(pending)
            if step.after is not None:
                try:
                    resolved = self.migrator.resolve_target(step.after)
                except ConfigError as exc:
                    prefix = f"{name}: migration.target: "
                    text = exc.message.removeprefix(prefix) if exc.message.startswith(prefix) else exc.message
                    raise ConfigError(f"{where}: {text}") from None
                if resolved in pending:
                    position = pending.index(resolved) + 1
                elif resolved != target:
                    if not self._applied(conn, resolved):
                        raise ConfigError(
                            f"{where}: revision {step.after!r} is not on the way from {start or 'base'} to the "
                            f"target {target} (pending: {', '.join(pending) or 'none'})"
                        )
                    position = 0
            if position < reached:
                before = self.plan.migration.backfill[index - 1].after or "the target"
                raise ConfigError(
                    f"{where}: {step.after!r} comes before {before!r} of backfill[{index - 1}]; steps run in "
                    "plan order, so each after must be the one above it or a later revision"
                )
            upto.append(pending[position - 1] if position > reached else None)
            reached = max(reached, position)
        return upto

    def _applied(self, conn: Connection, revision: str) -> bool:
        """Whether ``revision`` is already applied: nothing is pending up to it.

        Alembic refuses to walk up to an ancestor of the current revision; that too means it
        is behind the database, not ahead of it.
        """
        try:
            return not self.migrator.pending(conn, revision)
        except Exception:
            return True
        finally:
            if conn.in_transaction():
                conn.rollback()

    def _check_disk(self, ph: PhaseResult) -> None:
        size = self.result.facts.database_bytes if self.result.facts else None
        folder = self.backup_dir
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        ph.detail["backup_free_bytes"] = free
        need = int((size or 0) * self.plan.backup.min_free_ratio)
        if free < need:
            ph.status = "blocked"
            raise self._stop(
                "blocked",
                f"not enough free disk for the backup at {folder}: {free} bytes free, "
                f"{need} needed ({self.plan.backup.min_free_ratio:g} × database size)",
            )

    def _rendered(self) -> list[str]:
        """The pending migration as SQL (Alembic offline mode, the SQL files); [] for commands."""
        return self.migrator.render(
            self.result.start_revision, self.result.target_revision or "head", self.dialect.name
        )

    def _lint(self, ph: PhaseResult) -> None:
        """Lock hazards of the pending SQL, sized by the live tables; above the plan's threshold: blocked."""
        if not self.migrator.renders_sql or self.result.facts is None:
            return
        settings = lint.LintSettings.from_section(self.plan.lint)
        try:
            statements = self._rendered()
        except Exception as exc:
            ph.detail["lint"] = f"not linted: the migration cannot be rendered offline ({_error_text(exc)})"
            return
        findings = lint.lint_statements(
            statements,
            self.dialect.name,
            lint.table_sizes_from_facts(self.result.facts),
            destructive_ok=self.plan.backup.verifies,
            settings=settings,
        )
        self.result.lint = [f.to_dict() for f in findings]
        blocking = lint.blocking_findings(findings, settings.fail_on)
        ph.detail["lint"] = {"findings": len(findings), "blocking": len(blocking)}
        if blocking:
            ph.status = "blocked"
            first = blocking[0]
            more = f" and {len(blocking) - 1} more" if len(blocking) > 1 else ""
            raise self._stop(
                "blocked",
                f"lint: {first.code} {first.severity} on {first.table or 'statement ' + str(first.statement)}: "
                f"{first.message}{more} (see `safeshift lint`; suppress with -- safeshift: allow CODE because REASON)",
                ExitCode.CHECKS_FAILED,
            )

    def _check_activity(self, conn: Connection, ph: PhaseResult) -> None:
        """Long open transactions and blockers make an ALTER queue up every writer behind it."""
        limits = self.plan.preflight
        sessions = self.dialect.activity(conn, limits.long_transaction_seconds)
        if conn.in_transaction():
            conn.rollback()
        ph.detail["activity"] = [s.to_dict() for s in sessions]
        passed = len(sessions) <= limits.max_long_transactions
        result = CheckResult(
            name=f"at most {limits.max_long_transactions} transactions open > {limits.long_transaction_seconds:g}s or blocking",
            kind="activity",
            phase="pre",
            passed=passed,
            value=len(sessions),
            expected=f"<= {limits.max_long_transactions}",
            samples=[f"{s.id} {s.user or ''} {s.state or ''} {s.seconds or 0:.0f}s{' blocking' if s.blocking else ''}".strip() for s in sessions[:10]],
        )
        self.result.checks.append(result)
        if not passed:
            ph.status = "blocked"
            raise self._stop("blocked", _failure_message("preflight", [result]), ExitCode.CHECKS_FAILED)

    @property
    def backup_dir(self) -> Path:
        path = Path(self.plan.backup.directory).expanduser()
        return path if path.is_absolute() else self.home / path

    def _snapshot(self, conn: Connection) -> None:
        with self.phase("snapshot") as ph:
            self.result.snapshot = self.dialect.row_counts(conn)
            self.schema = self.dialect.schema_shape(conn)
            conn.rollback()
            # before-states of checks that compare before/after (table_unchanged, baseline mode),
            # and, with prove_contents = "snapshot", a content hash of every table for the
            # rollback proof ("backup": hashed from the verified backup if a proof is needed)
            self.proof_checks = self._table_hash_checks(conn)
            hashed_now = self.proof_checks if self.plan.rollback.prove_contents == "snapshot" else []
            self.baseline = capture_baseline(
                self.pre_checks + self.post_checks + hashed_now, self._context(conn, None)
            )
            _save_baseline(self.run_dir, self.baseline)
            self._event("state", "snapshot", counts=self.result.snapshot, schema=self.schema)
            ph.detail.update(
                tables=len(self.result.snapshot),
                rows=sum(self.result.snapshot.values()),
                row_hashes=self.plan.rollback.prove_contents,
            )

    def _table_hash_checks(self, conn: Connection) -> list[Check[Any]]:
        """``table_unchanged`` for every table with a primary key: the proof compares contents, not just counts."""
        if self.plan.rollback.prove_contents == "off":
            return []
        cls = get_check_class("table_unchanged")
        if cls is None:
            return []
        insp = inspect(conn)
        checks: list[Check[Any]] = []
        for index, name in enumerate(self.result.snapshot):
            if insp.get_pk_constraint(name).get("constrained_columns"):
                config = cls.Config.model_validate(
                    {"kind": "table_unchanged", "table": name, "name": f"{PROOF_PREFIX}{name}"}
                )
                checks.append(cls(config, "proof", index))
        return checks

    def _backup(self) -> None:
        assert self.engine is not None
        with self.phase("backup") as ph:
            dest = self.backup_dir / f"{self.run_id}{self.dialect.backup_suffix}"

            def progress(done: int, total: int | None) -> None:
                self.observer.progress("backup", done, total)

            try:
                info = self.dialect.backup(self.engine, dest, progress)
            except SafeshiftError as exc:
                ph.status = "blocked"
                raise BackupError(f"backup failed, nothing was changed: {exc.message}") from None
            self.result.backup = info
            ph.detail.update(path=info.path, bytes=info.bytes)
            if self.plan.backup.verifies:
                try:
                    info.verify_detail = self.dialect.verify_backup(
                        info, self.result.snapshot, self.run_id, method=self.plan.backup.verify
                    )
                except SafeshiftError as exc:
                    ph.status = "blocked"
                    raise BackupError(f"backup did not verify, nothing was changed: {exc.message}") from None
                info.verified = True
                ph.detail["verified"] = True
            self._event("state", "backup", backup=info.to_dict())

    # -- the application side ----------------------------------------------------------
    def _maintenance(self, on: bool) -> None:
        """Switch maintenance mode (if the plan has a hook) as a journaled phase of its own."""
        if self.maintenance is None or self.maintenance_on == on:
            return
        with self.phase(f"maintenance:{'on' if on else 'off'}") as ph:
            if on:
                self._event("state", "maintenance", on=True)  # before: a crash right after must switch it off
                self.maintenance_on = True
                self.maintenance.on()
            else:
                self.maintenance.off()
                self.maintenance_on = False
                self._event("state", "maintenance", on=False)
            ph.detail["hook"] = self.maintenance.describe()

    def _maintenance_off_finally(self) -> None:
        """Maintenance is switched off on every way out: success, failure, rollback, Ctrl-C."""
        if self.maintenance is None or not self.maintenance_on:
            return
        try:
            self._maintenance(False)
        except BaseException as exc:  # keep going: the report must still be written
            self.result.message += f"; MAINTENANCE STILL ON: {_error_text(exc)}"

    def _after_cutover(self) -> None:
        """Smoke probes, then the watch window; a failure or a trigger rolls back."""
        if not self.plan.smoke and self.plan.watch is None:
            return
        variables: dict[str, str] = {}
        with httpx.Client(timeout=10.0) as client:
            if self.plan.smoke:
                with self.phase("smoke") as ph:
                    results = run_probes(self.plan.smoke, client, variables)
                    self.result.smoke = [r.to_dict() for r in results]
                    ph.detail.update(passed=sum(r.passed for r in results), probes=len(results))
                    reason = failure_message(results)
                    if reason is not None:
                        self.result.message = reason
                        raise _PhaseFailed(reason)
            if self.plan.watch is not None:
                with self.phase("watch") as ph:
                    tick = getattr(self.observer, "watch_tick", None)
                    watcher = Watcher(
                        self.plan.watch,
                        self.plan.smoke,
                        client,
                        variables,
                        self._watch_checks,
                        tick,
                        base_dir=self.plan.base_dir,
                    )
                    outcome = watcher.run()
                    self.result.watch = outcome.to_dict()
                    ph.detail.update(ticks=len(outcome.samples), triggered=outcome.triggered)
                    if outcome.triggered:
                        self.result.message = f"watch trigger fired: {outcome.triggered}"
                        raise _PhaseFailed(self.result.message)

    def _watch_checks(self, names: Sequence[str]) -> dict[str, bool]:
        """Rerun chosen post-checks during the watch, each tick on a fresh connection."""
        chosen = [c for c in self.post_checks if c.name in names]
        with self._connect() as conn:
            results = run_checks(chosen, self._context(conn, self.result.snapshot))
        return {r.name: r.passed for r in results}

    def _approve(self) -> None:
        """Proceed only with the digest of the reviewed plan, or a typed confirmation."""
        if not self.plan.approval.required:
            return
        digest = self.result.digest or ""
        with self.phase("approve") as ph:
            approval = self.approval or Approval()
            if approval.digest is not None:
                if approval.digest != digest:
                    ph.status = "blocked"
                    raise self._stop(
                        "blocked",
                        f"approval refused: digest {approval.digest} does not match the plan now ({digest}); "
                        "the plan or its migration changed since review: run --dry-run again",
                    )
                self.result.approval = approval.record(digest, "digest")
            elif approval.confirm is not None:
                name = _database_name(self.dialect)
                typed = approval.confirm(digest, name)
                if typed != name:
                    ph.status = "blocked"
                    raise self._stop("blocked", "approval refused: the database name was not typed")
                self.result.approval = approval.record(digest, "typed database name")
            else:
                ph.status = "blocked"
                raise self._stop(
                    "blocked",
                    f"approval required: review `safeshift run --dry-run`, then run with --approve {digest}",
                )
            ph.detail.update(self.result.approval)

    def _rehearse(self) -> None:
        """Apply and verify on a scratch copy restored from the fresh backup; time every statement."""
        assert self.result.backup is not None
        with self.phase("rehearse") as ph:
            url = self.dialect.scratch_copy(self.result.backup, "rehearsal")
            scratch = get_dialect(url)
            engine = scratch.create_engine()
            timer = StatementTimer(engine)
            rehearsal: dict[str, Any] = {"database": safe_url(url)}
            self.result.rehearsal = rehearsal
            failure: str | None = None
            try:
                with engine.connect() as conn:
                    scratch.prepare_apply_session(conn, self.plan.apply.lock_timeout)
                    if conn.in_transaction():
                        conn.commit()
                    started = time.perf_counter()
                    try:
                        # checkpoints of its own: the copy's must never let the real run skip a batch
                        with backfill_context(checkpoints=MemoryCheckpoints(), progress=self._backfill_progress) as ctx:
                            try:
                                self._migrate(conn)
                            finally:
                                if ctx.results:
                                    rehearsal["backfills"] = [r.to_dict() for r in ctx.results]
                        if conn.in_transaction():
                            conn.commit()
                    except Exception as exc:
                        failure = f"the migration failed on the copy: {_error_text(exc)}"
                    rehearsal["output"] = self._last_output
                    rehearsal["apply_seconds"] = round(time.perf_counter() - started, 4)
                    if failure is None:
                        started = time.perf_counter()
                        results = run_checks(
                            self.post_checks, self._context(conn, self.result.snapshot)
                        )
                        rehearsal["verify_seconds"] = round(time.perf_counter() - started, 4)
                        rehearsal["checks"] = [r.to_dict() for r in results]
                        failed = [r for r in results if not r.passed]
                        if failed:
                            failure = _failure_message("post-check on the copy", failed)
            finally:
                engine.dispose()
                scratch.drop_scratch_copy(url)
            if failure is None and self.dialect.name == "mysql" and self.migrator.renders_sql:
                rehearsal["lock_classes"] = self._probe_lock_classes()
            rehearsal["statements"] = timer.slowest(20)
            rehearsal["statement_count"] = timer.count
            rehearsal["predicted_apply_seconds"] = rehearsal.get("apply_seconds")
            rehearsal["passed"] = failure is None
            ph.detail.update(
                predicted_apply_seconds=rehearsal.get("apply_seconds"),
                statements=timer.count,
                passed=failure is None,
            )
            if failure is not None:
                ph.status = "blocked"
                raise self._stop("blocked", f"rehearsal failed, nothing changed on the target: {failure}", ExitCode.CHECKS_FAILED)
            self.result.message = (
                f"rehearsal passed: apply took {rehearsal['apply_seconds']:.2f}s on the copy "
                f"({timer.count} statements)"
            )

    def _probe_lock_classes(self) -> list[dict[str, Any]]:
        """MySQL/MariaDB: ask the server which lock class each DDL needs, on a second scratch copy.

        Each DDL is re-issued with ALGORITHM=INSTANT, then INPLACE/LOCK=NONE (refused at once
        when it would block); one that needs a copy is then run as written, so the statements
        after it see the schema they expect.
        """
        assert self.result.backup is not None
        url = self.dialect.scratch_copy(self.result.backup, "probe")
        scratch = get_dialect(url)
        engine = scratch.create_engine()
        found: list[dict[str, Any]] = []
        try:
            with engine.connect() as conn:
                for sql in self._rendered():
                    text = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()
                    if not text:
                        continue
                    head = " ".join(text.split()[:2]).upper()
                    try:
                        if head in ("ALTER TABLE", "CREATE INDEX", "CREATE UNIQUE", "DROP INDEX"):
                            lock_class = lint.probe_lock_class(conn, text)
                            if lock_class == "copy":
                                conn.exec_driver_sql(text.rstrip(";"))
                            found.append({"sql": " ".join(text.split())[:200], "lock_class": lock_class})
                        else:
                            conn.exec_driver_sql(text.rstrip(";"))
                        if conn.in_transaction():
                            conn.commit()
                    except Exception as exc:  # a probe must never fail the rehearsal itself
                        if conn.in_transaction():
                            conn.rollback()
                        found.append({"sql": " ".join(text.split())[:200], "lock_class": None, "error": _error_text(exc)})
        finally:
            engine.dispose()
            scratch.drop_scratch_copy(url)
        return found

    def _apply(self, conn: Connection) -> None:
        settings = self.plan.apply
        with self.phase("apply") as ph:
            self.changed = True
            ph.detail["session"] = self.dialect.prepare_apply_session(conn, settings.lock_timeout)
            if conn.in_transaction():
                conn.commit()
            waits: list[dict[str, Any]] = []
            ph.detail["lock_waits"] = waits
            _count_statements(conn)
            raw = conn.connection.dbapi_connection  # kept: an interrupt can leave SQLAlchemy without it
            # backfills (plan steps, or inside a revision) checkpoint into this journal: a retry
            # or a resumed run continues them where the attempt before stopped
            checkpoints = self._checkpoints()
            backfills: list[dict[str, Any]] = []  # every attempt's: a retry continues from the checkpoints
            self._retry_base = (self.schema, self.result.start_revision)
            if self.plan.migration.backfill:
                self._retry_base = self._state(conn)  # a resumed run starts part-way
            attempt = 0
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    with backfill_context(checkpoints=checkpoints, progress=self._backfill_progress) as ctx:
                        try:
                            self._migrate(conn, functools.partial(self._segment_done, conn, ph, attempt))
                        finally:
                            backfills.extend({"attempt": attempt, **r.to_dict()} for r in ctx.results)
                            if backfills:
                                ph.detail["backfills"] = backfills
                    if conn.in_transaction():
                        conn.commit()
                    break
                except BaseException as exc:
                    self._record_output(ph, attempt)
                    _abort(conn, raw)
                    if self._may_retry(conn, exc, attempt):
                        delay = settings.retry_backoff * 2 ** (attempt - 1)
                        waits.append(
                            {"attempt": attempt, "waited_s": round(time.perf_counter() - started, 3),
                             "retry_in_s": delay, "error": _error_text(exc)}
                        )
                        self._event("apply", "lock_timeout", attempt=attempt, retry_in_s=delay)
                        time.sleep(delay)
                        continue
                    if self.dialect.is_lock_timeout(exc):
                        waits.append({"attempt": attempt, "waited_s": round(time.perf_counter() - started, 3), "error": _error_text(exc)})
                    self.result.message = f"apply failed: {_error_text(exc)}"
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    raise _PhaseFailed(self.result.message) from exc
            self._record_output(ph, attempt)
            ph.detail["attempts"] = attempt
            ph.detail["revision"] = self.migrator.current(conn)

    def _migrate(self, conn: Connection, segment_done: Callable[[], None] | None = None) -> None:
        """Upgrade to the target, running the plan's backfills where their ``after`` says.

        For each step: upgrade to its ``after`` (unless the database is already there or
        past it), commit, backfill (every batch its own committed transaction, so the
        connection must be outside a transaction); then upgrade the rest of the way.
        ``segment_done`` is called after each committed upgrade.
        """
        target = self.plan.migration.target
        steps = self.plan.migration.backfill
        if not steps:
            self._upgrade(conn, target)
            return
        final = self.migrator.resolve_target(target)
        at_target = False
        for step in steps:
            if not at_target:
                goal = self.migrator.resolve_target(step.after) if step.after is not None else final
                pending = [r.id for r in self.migrator.pending(conn, target)]
                # a goal not pending is already reached (the target: when nothing is pending; an
                # external tool may list its revisions under other names than "head")
                if pending and (goal == final or goal in pending):
                    self._upgrade_segment(conn, step.after or target, segment_done)
                at_target = goal == final
            if conn.in_transaction():
                conn.commit()
            run_backfill_step(conn, step)  # checkpoints, progress and results via the backfill context
            if step.lock_timeout_s is not None:  # the step's own timeout must not carry over to the DDL after it
                self.dialect.prepare_apply_session(conn, self.plan.apply.lock_timeout)
                if conn.in_transaction():
                    conn.commit()
        if not at_target:
            self._upgrade_segment(conn, target, segment_done)

    def _upgrade(self, conn: Connection, goal: str) -> None:
        try:
            self._last_output = self.migrator.upgrade(conn, goal)
        except BaseException as exc:
            self._last_output = output_of(exc) or self._last_output
            raise

    def _upgrade_segment(self, conn: Connection, goal: str, segment_done: Callable[[], None] | None) -> None:
        self._upgrade(conn, goal)
        if conn.in_transaction():
            conn.commit()
        if segment_done is not None:
            segment_done()

    def _segment_done(self, conn: Connection, ph: PhaseResult, attempt: int) -> None:
        """After each committed upgrade between backfills: journal its output, move the retry base."""
        self._record_output(ph, attempt)
        self._retry_base = self._state(conn)

    def _state(self, conn: Connection) -> tuple[SchemaShape, str | None]:
        try:
            return self.dialect.schema_shape(conn), self.migrator.current(conn)
        finally:
            if conn.in_transaction():
                conn.rollback()

    def _checkpoints(self) -> JournalCheckpoints | None:
        if self.journal is None:
            return None
        return JournalCheckpoints(self.journal, previous=self.record.state)

    def _backfill_progress(self, p: BackfillProgress) -> None:
        self.observer.progress(f"backfill {p.name}", p.rows_done, p.rows_total)

    def _record_output(self, ph: PhaseResult, attempt: int) -> None:
        """What the migrator printed or ran (files, commands, output), into the journal and report."""
        output = self._last_output
        if output is not None and output is not self._recorded:  # an upgrade between backfills is journaled once
            self._recorded = output
            ph.detail.setdefault("output", []).append({"attempt": attempt, **output})
            self._event(ph.name, "output", attempt=attempt, output=output)

    def _may_retry(self, conn: Connection, exc: BaseException, attempt: int) -> bool:
        """Retry only a lock timeout that left nothing behind: the schema and revision are still
        those before the failed step (the snapshot's, or where the last upgrade between
        backfills left them; the retry continues the backfills from their checkpoints)."""
        if not isinstance(exc, Exception) or not self.dialect.is_lock_timeout(exc):
            return False
        if attempt > self.plan.apply.retries:
            return False
        schema, revision = self._retry_base
        try:
            unchanged = self.dialect.schema_shape(conn) == schema
            unchanged = unchanged and self.migrator.current(conn) == revision
        finally:
            if conn.in_transaction():
                conn.rollback()
        return unchanged

    def _verify(self, conn: Connection) -> None:
        with self.phase("verify") as ph:
            results = self._checks(conn, self.post_checks, self.result.snapshot)
            failed = [r for r in results if not r.passed]
            ph.detail.update(passed=len(results) - len(failed), failed=len(failed))
            if failed:
                self.result.message = _failure_message("post-check", failed)
                raise _PhaseFailed(self.result.message)

    # -- rollback ---------------------------------------------------------------------
    def _rollback(self, reason: str) -> None:
        strategy = self.plan.rollback.strategy
        self.result.rollback = {"reason": reason, "strategy": strategy, "steps": []}
        try:  # the runbook stops the application while it rolls back
            self._maintenance(True)
        except SafeshiftError as exc:
            self.result.rollback["maintenance"] = exc.message
        steps: list[str] = ["downgrade", "restore"] if strategy == "downgrade-then-restore" else [strategy]
        proof: dict[str, Any] = {}
        for step in steps:
            self._wait_for_database()
            with self.phase(f"rollback:{step}") as ph:
                try:
                    self._rollback_step(step)
                except Exception as exc:
                    ph.status = "failed"
                    ph.detail["error"] = _error_text(exc)
                    self.result.rollback["steps"].append({"step": step, "ok": False, "error": _error_text(exc)})
                    continue
                self.result.rollback["steps"].append({"step": step, "ok": True})
            proof = self._prove()
            if proof["equal"]:
                break
        self.result.rollback["proof"] = proof
        if proof.get("equal"):
            self.result.outcome = "rolled_back"
            self.result.message = f"{reason}; rolled back and proven equal to the snapshot"
        else:
            self.result.outcome = "failed"
            differs = "; ".join(proof.get("differences", [])[:3]) or "rollback did not complete"
            self.result.message = f"{reason}; ROLLBACK NOT PROVEN, a person must act: {differs}"

    def _wait_for_database(self) -> None:
        """A server that went away (restart, failover) gets ``[rollback] wait_for_database`` seconds to return."""
        deadline = time.monotonic() + self.plan.rollback.wait_for_database
        delay = 0.5
        while True:
            try:
                self.dialect.check_reachable()
                return
            except SafeshiftError as exc:
                if time.monotonic() >= deadline:
                    self._event("rollback", "database_unreachable", error=exc.message)
                    return  # the step fails and says why; the proof cannot pass
                self._event("rollback", "waiting_for_database", error=exc.message)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _rollback_step(self, step: str) -> None:
        assert self.engine is not None
        if step == "downgrade":
            with self._connect() as conn:
                output: dict[str, Any] | None = None
                try:
                    output = self.migrator.downgrade(conn, self.result.start_revision)
                    if conn.in_transaction():
                        conn.commit()
                except BaseException as exc:
                    output = output or output_of(exc)
                    raise
                finally:
                    if output is not None:
                        self.result.rollback.setdefault("output", []).append(output)
                        self._event("rollback:downgrade", "output", output=output)
        elif step == "restore":
            if self.result.backup is None:
                raise SafeshiftError("no backup to restore from")
            self.dialect.restore(self.engine, Path(self.result.backup.path))

    def _prove(self) -> dict[str, Any]:
        """Is the database back where it started? Unknown (unreachable) counts as not equal."""
        try:
            return self._prove_equal()
        except Exception as exc:
            return {"equal": False, "differences": [f"cannot prove: {_error_text(exc)}"], "tables_compared": 0}

    def _prove_equal(self) -> dict[str, Any]:
        """Revision, schema, row counts, row hashes and pre-checks against the snapshot."""
        with self.phase("prove") as ph, self._connect() as conn:
            differences: list[str] = []
            revision = self.migrator.current(conn)
            if revision != self.result.start_revision:
                differences.append(f"revision is {revision}, expected {self.result.start_revision}")
            schema = self.dialect.schema_shape(conn)
            for name in sorted(set(schema) | set(self.schema)):
                if name not in schema:
                    differences.append(f"table {name} is missing")
                elif name not in self.schema:
                    differences.append(f"table {name} should not exist")
                elif schema[name] != self.schema[name]:
                    differences.append(f"table {name} has columns {schema[name]}, expected {self.schema[name]}")
            counts = self.dialect.row_counts(conn, [t for t in self.result.snapshot if t in schema])
            for name, want in self.result.snapshot.items():
                got = counts.get(name)
                if got is not None and got != want:
                    differences.append(f"table {name} has {got} rows, expected {want}")
            conn.rollback()
            checks = self._checks(conn, self.pre_checks, self.result.snapshot)
            comparable = self._proof_checks_for(schema)
            missing = [c for c in comparable if c.name not in self.baseline]
            if missing and self.plan.rollback.prove_contents == "backup":
                if self.result.backup is not None:
                    self.baseline.update(self._baseline_from_backup(missing))
                    ph.detail["row_hashes_from"] = "backup"
                else:  # the run stopped before its backup, so before anything was applied
                    ph.detail["row_hashes_from"] = "none: no backup was taken, nothing was applied"
            hashed = [c for c in comparable if c.name in self.baseline]
            checks += self._checks(conn, hashed, self.result.snapshot)
            for check_result in checks:
                check_result.phase = "proof"
            for failed in (r for r in checks if not r.passed):
                if failed.name.startswith(PROOF_PREFIX):
                    keys = ", ".join(map(str, failed.samples)) or failed.message
                    differences.append(f"table {failed.name[len(PROOF_PREFIX):]} has changed rows (first keys: {keys})")
                else:
                    differences.append(f"pre-check {failed.name!r} fails: {failed.value} {failed.expected or ''}".strip())
            proof = {
                "equal": not differences,
                "tables_hashed": len(hashed),
                "revision": revision,
                "tables_compared": len(self.result.snapshot),
                "row_counts": counts,
                "differences": differences,
            }
            ph.detail.update(equal=proof["equal"], differences=differences)
            if differences:
                ph.status = "failed"
            return proof

    def _baseline_from_backup(self, checks: list[Check[Any]]) -> dict[str, Any]:
        """Row hashes of the state before, read from the run's verified backup in a scratch copy.

        The backup was taken right after the snapshot and verified against its counts, so it
        is the "before" the proof needs; hashing it only when a rollback must be proven keeps
        that cost off every run that succeeds. Failing here makes the proof fail (exit 4).
        """
        backup = self.result.backup
        assert backup is not None
        url = self.dialect.scratch_copy(backup, "proof")
        try:
            engine = get_dialect(url).create_engine()
            try:
                with engine.connect() as conn:
                    return capture_baseline(checks, self._context(conn, None))
            finally:
                engine.dispose()
        finally:
            self.dialect.drop_scratch_copy(url)

    # -- dry run ----------------------------------------------------------------------
    def _rendered_segments(self) -> list[tuple[list[str], BackfillStep | None]]:
        """The pending migration's SQL cut where the plan's backfills run: (SQL before, step).

        The last pair holds what follows the last backfill (step None).
        """
        steps = self.plan.migration.backfill
        if not steps:
            return [(self._rendered(), None)]
        target = self.result.target_revision or "head"
        position = self.result.start_revision
        segments: list[tuple[list[str], BackfillStep | None]] = []
        for step, upto in zip(steps, self.backfill_upto, strict=True):
            rendered: list[str] = []
            if upto is not None:
                rendered = self.migrator.render(position, upto, self.dialect.name)
                position = upto
            segments.append((rendered, step))
        if position != target:
            segments.append((self.migrator.render(position, target, self.dialect.name), None))
        return segments

    def _apply_statements(
        self, segments: list[tuple[list[str], BackfillStep | None]], sql_dialect: SqlDialect
    ) -> list[dict[str, Any]]:
        """Apply's entries of the dry run: the revisions' statements (linted) with each backfill's batch UPDATE in its place."""
        texts = [sql for rendered, _ in segments for sql in rendered]
        at: list[tuple[int, BackfillStep]] = []  # (how many statements come before it, step)
        count = 0
        for rendered, step in segments:
            count += len(rendered)
            if step is not None:
                at.append((count, step))
        entries: list[tuple[int, dict[str, Any]]] = []
        sizes = lint.table_sizes_from_facts(self.result.facts) if self.result.facts is not None else None
        if self.migrator.renders_sql and sizes is not None:
            infos = lint.annotate(
                texts,
                self.dialect.name,
                sizes,
                destructive_ok=self.plan.backup.verifies,
                settings=lint.LintSettings.from_section(self.plan.lint),
            )
            for info in infos:
                data = info.to_dict()
                entries.append((info.index, {
                    "phase": "apply",
                    "what": self.migrator.name,
                    "sql": info.sql,
                    "lock": data.get("lock"),
                    "table": data.get("table"),
                    "table_size": data.get("table_size"),
                    "findings": data.get("findings", []),
                }))
        else:
            entries = [(i, {"phase": "apply", "what": self.migrator.name, "sql": sql}) for i, sql in enumerate(texts)]
        out: list[dict[str, Any]] = []
        for index, entry in entries:
            while at and at[0][0] <= index:
                out.append(self._backfill_entry(at.pop(0)[1], sql_dialect, sizes))
            out.append(entry)
        out.extend(self._backfill_entry(step, sql_dialect, sizes) for _, step in at)
        return out

    def _backfill_entry(
        self, step: BackfillStep, sql_dialect: SqlDialect, sizes: dict[str, lint.TableSize] | None
    ) -> dict[str, Any]:
        size = (sizes or {}).get(step.table.lower())
        return {
            "phase": "apply",
            "what": (
                f"backfill {step.label} after {step.after or 'the target'}: this UPDATE per {step.key} range "
                f"(from {step.batch_size} keys, sized to ~{step.target_batch_seconds:g}s), each batch committed"
            ),
            "sql": batch_sql(step, _named(sql_dialect)),
            "lock": "row locks of one batch",
            "table": step.table,
            "table_size": {"rows": size.rows, "bytes": size.bytes} if size is not None else None,
            "findings": [],
        }

    def _plan_statements(self) -> None:
        assert self.engine is not None
        sql_dialect = self.engine.dialect
        plan: list[dict[str, Any]] = []
        for check in self.pre_checks:
            plan.extend({"phase": "preflight", "what": check.name, "sql": s} for s in check.statements(sql_dialect))
        plan.append({"phase": "snapshot", "what": "row count of every table", "sql": None})
        dest = self.backup_dir / f"<run-id>{self.dialect.backup_suffix}"
        plan.append({"phase": "backup", "what": f"{self.dialect.name} backup to {dest}", "sql": None})
        try:
            segments = self._rendered_segments()
        except Exception as exc:  # the dry run must still show everything else
            plan.append({"phase": "apply", "what": f"{self.migrator.name} (SQL not renderable offline: {_error_text(exc)})", "sql": None})
        else:
            plan.extend(self._apply_statements(segments, sql_dialect))
        for check in self.post_checks:
            plan.extend({"phase": "verify", "what": check.name, "sql": s} for s in check.statements(sql_dialect))
        plan.append(
            {"phase": "rollback", "what": f"on failure: {self.plan.rollback.strategy} to {self.result.start_revision or 'base'}", "sql": None}
        )
        self.result.statements = plan


def _named(dialect: SqlDialect) -> SqlDialect:
    """The same dialect with ``:name`` parameters, so a dry run shows ``:ss_lo`` rather than ``?``/``%s``."""
    cls: Any = type(dialect)  # every SQLAlchemy dialect takes paramstyle; the base type does not say so
    try:
        named: SqlDialect = cls(paramstyle="named")
    except Exception:  # a dialect that will not be built bare: its own placeholders then
        return dialect
    return named


def _abort(conn: Connection, raw: Any) -> None:
    """Roll back the apply transaction, also when an interrupt (Ctrl-C) invalidated the
    connection mid-statement: SQLAlchemy then drops it without a rollback, and its locks
    (SQLite's write lock, a server's row and table locks) would outlive the failure."""
    with contextlib.suppress(Exception):
        if not conn.invalidated and conn.in_transaction():
            conn.rollback()
    with contextlib.suppress(Exception):
        raw.rollback()


def _abandon(record: RunRecord, by: str) -> None:
    """Close an interrupted run whose process is gone: its journal says who abandoned it."""
    journal = Journal(record.folder / "journal.jsonl")
    try:
        journal.event("run", "finished", outcome="abandoned", message=f"abandoned by run {by} (--force)")
    finally:
        journal.close()


_BASELINE_FILE = "baseline.pickle"


def _save_baseline(run_dir: Path, baseline: dict[str, Any]) -> None:
    """Checks' before-states, kept beside the journal so a resumed run can still compare."""
    if not baseline:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / _BASELINE_FILE
    with open(path, "wb") as fh:
        pickle.dump(baseline, fh)
        fh.flush()
        os.fsync(fh.fileno())


def _load_baseline(run_dir: Path) -> dict[str, Any]:
    path = run_dir / _BASELINE_FILE
    if not path.is_file():
        return {}
    with open(path, "rb") as fh:  # written by safeshift itself for this run
        data = pickle.load(fh)  # noqa: S301
    return data if isinstance(data, dict) else {}


def _count_statements(conn: Connection) -> None:
    """Fault points inside apply: ``apply:statement:<n>`` after the n-th statement."""
    if not os.environ.get(faults.ENV, "").startswith("apply:statement:"):
        return
    counter = {"n": 0}

    def after(*_args: Any) -> None:
        counter["n"] += 1
        faults.hit(f"apply:statement:{counter['n']}")

    event.listen(conn, "after_cursor_execute", after)


def _failure_message(what: str, failed: list[CheckResult]) -> str:
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


def run_plan(
    plan: Plan,
    *,
    workdir: Path | None = None,
    dry_run: bool = False,
    observer: Observer | None = None,
    rehearse: bool | None = None,
    approval: Approval | None = None,
    force: bool = False,
) -> RunResult:
    """Execute a plan and return what happened. Raises ``SafeshiftError`` only for bad input.

    ``rehearse`` (default: the plan's ``[rehearsal] enabled``) applies and verifies on a copy
    first; ``approval`` carries the reviewed digest when the plan requires approval;
    ``force`` starts anew over an interrupted run (abandoning it) instead of refusing.
    """
    return Run(
        plan, workdir=workdir, dry_run=dry_run, observer=observer, rehearse=rehearse, approval=approval, force=force
    ).execute()


def rollback_run(
    plan: Plan, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None
) -> RunResult:
    """Roll back an interrupted run from its journal and prove the database equals its snapshot."""
    run = Run(plan, workdir=workdir, observer=observer)
    run.adopt(load_run(run.home, run_id))
    return run.execute(run._recover_rollback)


def resume_run(
    plan: Plan, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None
) -> RunResult:
    """Finish an interrupted run whose migration completed: verify, then succeed or roll back."""
    run = Run(plan, workdir=workdir, observer=observer)
    record = load_run(run.home, run_id)
    run.adopt(record)
    if not record.resumable:  # refused before touching the journal: the run stays open
        raise ConfigError(
            f"run {run_id} cannot be resumed: its migration did not complete (died in {record.last_phase}); "
            f"run safeshift rollback {run_id}"
        )
    return run.execute(run._recover_resume)


def rehearse_plan(plan: Plan, *, workdir: Path | None = None, observer: Observer | None = None) -> RunResult:
    """Preflight, snapshot, backup, then apply + verify on a scratch copy only; the target is not changed."""
    return Run(plan, workdir=workdir, observer=observer, rehearse_only=True).execute()


class StatementTimer:
    """Times every statement an engine runs (the rehearsal's per-statement durations)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._timings: list[tuple[float, str]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("safeshift_started", []).append(time.perf_counter())

    def _after(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["safeshift_started"].pop()
        self.count += 1
        self._timings.append((time.perf_counter() - started, " ".join(statement.split())[:300]))

    def slowest(self, n: int) -> list[dict[str, Any]]:
        return [{"seconds": round(t, 4), "sql": sql} for t, sql in sorted(self._timings, reverse=True)[:n]]


def _database_name(dialect: Dialect) -> str:
    """What a person types to approve: the database's name (a SQLite file's name)."""
    name = dialect.url.database or ""
    return Path(name).name if dialect.name == "sqlite" else name
