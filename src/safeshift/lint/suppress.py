"""Inline suppressions: ``-- safeshift: allow SS001 because <reason>``.

A suppression sits in a comment of the statement it covers (a comment on the line just
before it belongs to it when the script is split with ``split_script``; a comment-only
item in a statement list covers the next statement). The reason is required: a
suppression without one suppresses nothing and is itself a finding, and so is one that
matches no finding, because a stale justification hides the next real hazard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from safeshift.lint.model import Finding
from safeshift.lint.statement import Statement

_ALLOW = re.compile(r"^\s*safeshift\s*:\s*allow\b\s*(?P<codes>.*?)(?:\s+because\b\s*(?P<reason>.*))?\s*$", re.I | re.S)
_CODE = re.compile(r"^(SS\d{3}|destructive|squawk:[a-z0-9-]+|[a-z][a-z0-9]*(?:-[a-z0-9]+)+)$", re.I)

DESTRUCTIVE = "SS005"
MISSING_REASON = "SS090"
UNUSED = "SS091"
MALFORMED = "SS093"


@dataclass
class Suppression:
    statement: int  # the statement it covers
    codes: tuple[str, ...]  # normalised: SS001, SS005 for "destructive", squawk:<rule>
    reason: str | None
    text: str
    used: bool = False

    def matches(self, codes: set[str]) -> bool:
        return any(code in codes for code in self.codes)


def _normalise(token: str) -> str:
    if token.lower() == "destructive":
        return DESTRUCTIVE
    if token.upper().startswith("SS"):
        return token.upper()
    if token.lower().startswith("squawk:"):
        return "squawk:" + token[7:].lower()
    return "squawk:" + token.lower()  # a bare squawk rule name


def parse_suppressions(statements: list[Statement]) -> tuple[list[Suppression], list[Finding]]:
    """Every ``safeshift: allow`` comment, attached to the statement it covers; plus malformed ones."""
    found: list[Suppression] = []
    problems: list[Finding] = []
    pending: list[Suppression] = []  # from comment-only items, waiting for the next statement
    for stmt in statements:
        own: list[Suppression] = []
        for comment in stmt.scanned.comments:
            m = _ALLOW.match(comment.text)
            if not m:
                continue
            tokens = [t for t in re.split(r"[\s,]+", m.group("codes") or "") if t]
            reason = (m.group("reason") or "").strip().rstrip(";").strip() or None
            bad = [t for t in tokens if not _CODE.match(t)]
            if not tokens or bad:
                problems.append(
                    Finding(
                        code=MALFORMED,
                        name="malformed-suppression",
                        severity="warning",
                        message=f"cannot read suppression {comment.text!r}: expected 'safeshift: allow SS001 because <reason>'",
                        statement=stmt.index,
                        line=stmt.line + comment.line + 1,
                        suggestion="write: -- safeshift: allow SS00X because <why it is safe here>",
                    )
                )
                continue
            own.append(Suppression(stmt.index, tuple(_normalise(t) for t in tokens), reason, comment.text))
        if stmt.comment_only:
            pending.extend(own)
            continue
        for suppression in pending:
            suppression.statement = stmt.index
        found.extend(pending + own)
        pending = []
    found.extend(pending)  # trailing: match nothing, reported as unused
    return found, problems


def apply_suppressions(
    findings: list[Finding],
    suppressions: list[Suppression],
    codes_of: Callable[[Finding], set[str]],
    expected_unused: Callable[[Suppression], bool] | None = None,
) -> list[Finding]:
    """Mark covered findings suppressed; return the findings about the suppressions themselves."""
    extra: list[Finding] = []
    missing_reason_reported: set[int] = set()
    for finding in findings:
        if finding.statement is None or finding.suppressed:
            continue
        codes = codes_of(finding)
        for suppression in suppressions:
            if suppression.statement != finding.statement or not suppression.matches(codes):
                continue
            suppression.used = True
            if suppression.reason is None:
                if id(suppression) not in missing_reason_reported:
                    missing_reason_reported.add(id(suppression))
                    extra.append(
                        Finding(
                            code=MISSING_REASON,
                            name="suppression-without-reason",
                            severity="warning",
                            message=f"suppression {suppression.text!r} has no reason, so it suppresses nothing",
                            statement=suppression.statement,
                            line=finding.line,
                            suggestion="say why it is safe: -- safeshift: allow SS00X because <reason>",
                        )
                    )
                continue
            finding.suppressed = True
            finding.reason = suppression.reason
            break
    for suppression in suppressions:
        if not suppression.used and not (expected_unused and expected_unused(suppression)):
            extra.append(
                Finding(
                    code=UNUSED,
                    name="unused-suppression",
                    severity="warning",
                    message=f"suppression {suppression.text!r} matches no finding of its statement",
                    statement=suppression.statement,
                    suggestion="remove it, or move it onto the statement it is meant for",
                )
            )
    return extra
