"""What a run produces: outcomes, phase results and the typed records the report shows.

Plain data with ``to_dict()`` so any formatter (terminal, JSON, Markdown) renders them. The
two exceptions here are how phases end a run early; only :mod:`safeshift.run.machine`
turns them into an outcome, a message and an exit code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from safeshift.errors import ExitCode

if TYPE_CHECKING:
    from safeshift.app.probes import ProbeResult
    from safeshift.app.watch import WatchResult
    from safeshift.checks.base import CheckResult
    from safeshift.dialects.base import BackupInfo, ServerFacts
    from safeshift.run.observe import Observation
    from safeshift.run.writes import Writes

Outcome = Literal[
    "succeeded", "rolled_back", "writes_saved", "stopped", "lost_lock", "failed", "blocked", "noop", "planned",
    "rehearsed",
]
PhaseStatus = Literal["ok", "failed", "blocked", "skipped"]

EXIT_FOR_OUTCOME: dict[str, ExitCode] = {
    "succeeded": ExitCode.OK,
    "noop": ExitCode.OK,
    "planned": ExitCode.OK,
    "rehearsed": ExitCode.OK,
    "rolled_back": ExitCode.ROLLED_BACK,
    # restored, and rows the application wrote were discarded: saved to a file, a person merges them
    "writes_saved": ExitCode.ROLLBACK_FAILED,
    # the rollback stopped before discarding the application's writes: maintenance stays on
    "stopped": ExitCode.ROLLBACK_FAILED,
    # the run lock was taken from it mid-run: it stopped where it was, a person looks
    "lost_lock": ExitCode.ROLLBACK_FAILED,
    "failed": ExitCode.ROLLBACK_FAILED,
}


class Stop(Exception):
    """Ends the run before anything changed, with the outcome the phase decided.

    ``phase_status`` is what the phase that raised it is marked (``blocked``, or ``skipped``
    when there was nothing to do).
    """

    def __init__(
        self,
        outcome: Outcome,
        message: str,
        exit_code: ExitCode = ExitCode.USAGE,
        *,
        phase_status: PhaseStatus = "blocked",
    ) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.message = message
        self.exit_code = exit_code
        self.phase_status: PhaseStatus = phase_status


class LockLost(BaseException):  # noqa: N818 - a BaseException: no `except Exception` of a phase may swallow it
    """The run lock's session is gone: another process may act on the database now, so this
    run stops at once, changes nothing more (maintenance, rollback) and says so."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PhaseFailed(Exception):
    """A phase after the start of apply failed: the run rolls back."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Verdict:
    """How a run ended: decided in one place (:func:`safeshift.run.machine.settle`)."""

    outcome: Outcome
    message: str
    exit_code: ExitCode

    @classmethod
    def of(cls, outcome: Outcome, message: str) -> Verdict:
        return cls(outcome, message, EXIT_FOR_OUTCOME[outcome])


@dataclass
class PhaseResult:
    name: str
    status: PhaseStatus = "ok"
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    started: str = ""  # ISO time the phase began

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "started": self.started,
            "seconds": round(self.seconds, 3), "detail": self.detail,
        }


@dataclass
class Proof:
    """Is the database back where it started? Unknown counts as not equal."""

    equal: bool
    differences: list[str] = field(default_factory=list)
    revision: str | None = None
    tables_compared: int = 0
    tables_hashed: int = 0
    row_counts: dict[str, int] = field(default_factory=dict)
    # tables whose rows differ (counts or hashes) while revision, schema and pre-checks may
    # hold: what the application wrote, when it was live
    changed_tables: list[str] = field(default_factory=list)

    @property
    def only_rows_differ(self) -> bool:
        """Revision, full schema and pre-checks are as before; only rows of some tables differ."""
        return not self.equal and len(self.differences) == len(self.changed_tables)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RollbackStep:
    step: str
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step, "ok": self.ok}
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class Rollback:
    """What the rollback did and whether it was proven."""

    reason: str
    strategy: str
    steps: list[RollbackStep] = field(default_factory=list)
    proof: Proof | None = None  # the last proof, which decides
    earlier: list[Proof] = field(default_factory=list)  # proofs that failed before it (the downgrade's)
    maintenance: str | None = None  # why maintenance could not be switched on for it
    output: list[dict[str, Any]] = field(default_factory=list)  # what the downgrade printed or ran
    backup: BackupInfo | None = None  # the database as it was before the rollback touched it
    writes: Writes | None = None  # rows that differed from the before-state, and their fate

    @property
    def proven(self) -> bool:
        return self.proof is not None and self.proof.equal

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reason": self.reason,
            "strategy": self.strategy,
            "steps": [s.to_dict() for s in self.steps],
            "proof": self.proof.to_dict() if self.proof is not None else {},
            "earlier_proofs": [p.to_dict() for p in self.earlier],
        }
        if self.maintenance is not None:
            data["maintenance"] = self.maintenance
        if self.output:
            data["output"] = self.output
        if self.backup is not None:
            data["backup"] = self.backup.to_dict()
        if self.writes is not None:
            data["writes"] = self.writes.to_dict()
        return data


@dataclass
class LockClass:
    """MySQL/MariaDB: the lock class the server reported for one DDL (rehearsal)."""

    sql: str
    lock_class: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sql": self.sql, "lock_class": self.lock_class}
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class Rehearsal:
    """Apply and verify on a scratch copy: timings, statements, checks, lock classes."""

    database: str
    passed: bool = False
    apply_seconds: float | None = None
    verify_seconds: float | None = None
    statement_count: int = 0
    statements: list[dict[str, Any]] = field(default_factory=list)  # slowest first
    checks: list[CheckResult] = field(default_factory=list)
    output: dict[str, Any] | None = None
    backfills: list[dict[str, Any]] = field(default_factory=list)
    lock_classes: list[LockClass] = field(default_factory=list)
    observed: Observation | None = None  # the locks each statement took on the copy

    @property
    def predicted_apply_seconds(self) -> float | None:
        return self.apply_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "passed": self.passed,
            "apply_seconds": self.apply_seconds,
            "predicted_apply_seconds": self.predicted_apply_seconds,
            "verify_seconds": self.verify_seconds,
            "statement_count": self.statement_count,
            "statements": self.statements,
            "checks": [c.to_dict() for c in self.checks],
            "output": self.output,
            "backfills": self.backfills,
            "lock_classes": [lc.to_dict() for lc in self.lock_classes],
            "observed": self.observed.to_dict() if self.observed is not None else None,
        }


@dataclass
class ApprovalRecord:
    digest: str
    by: str
    at: str
    how: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlannedStatement:
    """One entry of a dry run: what would run in which phase, with its lock and findings."""

    phase: str
    what: str
    sql: str | None = None
    lock: str | None = None
    table: str | None = None
    table_size: dict[str, Any] | None = None
    findings: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"phase": self.phase, "what": self.what, "sql": self.sql}
        if self.findings is not None:  # an annotated statement: lock, table and findings
            data.update(lock=self.lock, table=self.table, table_size=self.table_size, findings=self.findings)
        return data


@dataclass
class RunResult:
    run_id: str
    plan: str
    database: str
    outcome: Outcome = "failed"
    message: str = ""
    exit_code: ExitCode = ExitCode.ROLLBACK_FAILED
    started: str = ""
    finished: str = ""
    phases: list[PhaseResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    facts: ServerFacts | None = None
    start_revision: str | None = None
    target_revision: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    snapshot: dict[str, int] = field(default_factory=dict)
    backup: BackupInfo | None = None
    rollback: Rollback | None = None
    statements: list[PlannedStatement] = field(default_factory=list)
    lint: list[dict[str, Any]] = field(default_factory=list)
    smoke: list[ProbeResult] = field(default_factory=list)
    watch: WatchResult | None = None
    digest: str | None = None
    approval: ApprovalRecord | None = None
    rehearsal: Rehearsal | None = None
    observed: Observation | None = None  # validate's schema-only copy: the locks each statement took
    report: str | None = None
    report_md: str | None = None
    journal: str | None = None
    report_html: str | None = None
    junit: str | None = None
    # who ran it where: safeshift version, host, user (the report's footer)
    environment: dict[str, str] = field(default_factory=dict)
    # every table's shape before (the snapshot's) and after the migration (end of verify),
    # and the row counts after: the report's "before → after"
    schema_before: dict[str, list[str]] = field(default_factory=dict)
    schema_after: dict[str, list[str]] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what is not wrong but a person should know

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "plan": self.plan,
            "database": self.database,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 3),
            "start_revision": self.start_revision,
            "target_revision": self.target_revision,
            "pending": self.pending,
            "phases": [p.to_dict() for p in self.phases],
            "checks": [c.to_dict() for c in self.checks],
            "snapshot": self.snapshot,
            "backup": self.backup.to_dict() if self.backup else None,
            "rollback": self.rollback.to_dict() if self.rollback else {},
            "facts": self.facts.to_dict() if self.facts else None,
            "statements": [s.to_dict() for s in self.statements],
            "lint": self.lint,
            "smoke": [p.to_dict() for p in self.smoke],
            "watch": self.watch.to_dict() if self.watch else {},
            "digest": self.digest,
            "approval": self.approval.to_dict() if self.approval else {},
            "rehearsal": self.rehearsal.to_dict() if self.rehearsal else {},
            "observed": self.observed.to_dict() if self.observed is not None else None,
            "report": self.report,
            "report_md": self.report_md,
            "journal": self.journal,
            "report_html": self.report_html,
            "junit": self.junit,
            "environment": self.environment,
            "schema_before": self.schema_before,
            "schema_after": self.schema_after,
            "rows_after": self.rows_after,
            "warnings": list(self.warnings),
        }
