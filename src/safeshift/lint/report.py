"""What ``safeshift lint`` answers: the findings, the per-statement lock view, and (with
``--observe``) what each statement was seen to take on a copy. Plain data with ``to_dict()``
and SARIF; the CLI and ``--json`` render it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from safeshift.lint.model import Finding, StatementInfo, blocking_findings
from safeshift.lint.version import ServerVersion

if TYPE_CHECKING:
    from safeshift.run.observe import Observation


@dataclass
class LintReport:
    """Findings of the pending migration (or of SQL files) and the per-statement lock view."""

    source: str
    dialect: str
    findings: list[Finding]
    statements: list[StatementInfo]
    fail_on: str
    server_version: ServerVersion | None = None  # the server the advice is for
    observed: Observation | None = None  # --observe: each statement that ran, with the locks it took

    @property
    def blocking(self) -> list[Finding]:
        return blocking_findings(self.findings, self.fail_on)

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0

    def to_dict(self) -> dict[str, Any]:
        from safeshift.lint import unlintable

        return {
            "source": self.source,
            "dialect": self.dialect,
            "fail_on": self.fail_on,
            "blocking": len(self.blocking),
            "server_version": self.server_version.to_dict() if self.server_version else None,
            "not_linted": [f.message for f in unlintable(self.findings)],
            "findings": [f.to_dict() for f in self.findings],
            "statements": [s.to_dict() for s in self.statements],
            "observed": self.observed.to_dict() if self.observed is not None else None,
        }

    def sarif(self) -> dict[str, Any]:
        from safeshift.lint import to_sarif

        return to_sarif(self.findings, self.source, self.server_version)
