"""Result objects of commands: plain data with ``to_dict()`` so any formatter can render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from safeshift.checks.base import CheckResult
from safeshift.dialects.base import BackupInfo, ServerFacts
from safeshift.errors import ExitCode

Outcome = Literal["succeeded", "rolled_back", "failed", "blocked", "noop", "planned", "rehearsed"]

EXIT_FOR_OUTCOME: dict[str, ExitCode] = {
    "succeeded": ExitCode.OK,
    "noop": ExitCode.OK,
    "planned": ExitCode.OK,
    "rehearsed": ExitCode.OK,
    "rolled_back": ExitCode.ROLLED_BACK,
    "failed": ExitCode.ROLLBACK_FAILED,
}


@dataclass
class PhaseResult:
    name: str
    status: str  # ok | failed | blocked | skipped
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3), "detail": self.detail}


@dataclass
class RunResult:
    run_id: str
    plan: str
    database: str
    outcome: Outcome = "failed"
    message: str = ""
    blocked_exit: ExitCode = ExitCode.USAGE
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
    rollback: dict[str, Any] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    lint: list[dict[str, Any]] = field(default_factory=list)
    smoke: list[dict[str, Any]] = field(default_factory=list)
    watch: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None
    approval: dict[str, Any] = field(default_factory=dict)
    rehearsal: dict[str, Any] = field(default_factory=dict)
    report: str | None = None
    report_md: str | None = None
    journal: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "blocked":
            return self.blocked_exit
        return EXIT_FOR_OUTCOME[self.outcome]

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
            "rollback": self.rollback,
            "facts": self.facts.to_dict() if self.facts else None,
            "statements": self.statements,
            "lint": self.lint,
            "smoke": self.smoke,
            "watch": self.watch,
            "digest": self.digest,
            "approval": self.approval,
            "rehearsal": self.rehearsal,
            "report": self.report,
            "report_md": self.report_md,
            "journal": self.journal,
        }
