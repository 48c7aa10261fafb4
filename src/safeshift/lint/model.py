"""Plain data of the lint: findings, table sizes, per-statement annotations, settings.

Everything here has ``to_dict()`` so the CLI, the report and ``--json`` can render it
without knowing how it was produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from safeshift.dialects.base import ASSUMED_ROW_BYTES, ServerFacts

Severity = Literal["note", "warning", "error"]
FailOn = Literal["warning", "error", "never"]
Unlintable = Literal["error", "warning", "allow"]

SEVERITY_RANK: dict[str, int] = {"note": 0, "warning": 1, "error": 2}

DEFAULT_ASSUME_ROWS = 10_000_000

# Findings that name what the lint could not judge: a statement it could not parse (SS000), a
# revision it could not render (SS094), a file it could not read (SS095). [lint] unlintable
# says how they count; they are never dropped.
UNLINTABLE = frozenset({"SS000", "SS094", "SS095"})


@dataclass(frozen=True)
class TableSize:
    """How big a table is now, from the live database (``ServerFacts.tables``).

    ``source`` says where ``rows`` comes from: "exact" (counted), or the statistics read
    ("pg_class.reltuples", "information_schema", "sqlite_stat1"). Without ``rows``, an
    estimate from the size on disk (:data:`ASSUMED_ROW_BYTES` a row) stands in.
    """

    rows: int | None = None
    bytes: int | None = None
    source: str | None = None

    @property
    def estimated_rows(self) -> int | None:
        """Rows, or an estimate from bytes when only the size on disk is known."""
        if self.rows is not None:
            return self.rows
        if self.bytes is not None:
            return self.bytes // ASSUMED_ROW_BYTES
        return None

    @property
    def rows_source(self) -> str | None:
        """Where :attr:`estimated_rows` comes from ("from size" when it is the size-based guess)."""
        if self.rows is not None:
            return self.source or "estimate"
        return "from size" if self.bytes is not None else None

    def describe(self) -> str:
        parts = []
        rows, source = self.estimated_rows, self.rows_source
        if rows is not None:
            parts.append(f"{rows:,} rows (exact)" if source == "exact" else f"~{rows:,} rows ({source})")
        if self.bytes is not None:
            parts.append(_human_bytes(self.bytes))
        return ", ".join(parts) or "size unknown"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "estimated_rows": self.estimated_rows, "source": self.rows_source}


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def table_sizes_from_facts(facts: ServerFacts) -> dict[str, TableSize]:
    """Table name (lower case) → size, from the preflight's server facts."""
    return {t.name.lower(): TableSize(rows=t.row_estimate, bytes=t.bytes, source=t.estimate_source) for t in facts.tables}


@dataclass(frozen=True)
class LintSettings:
    """The plan's ``[lint]`` section as the linter needs it (see ``safeshift.config.models.LintSection``)."""

    fail_on: FailOn = "error"
    large_table_rows: int = 1_000_000
    medium_table_rows: int = 10_000
    disable: frozenset[str] = frozenset()
    # With no database (CI on a pull request) a table's size is unknown: count it as this many
    # rows, so a lock hazard fails the check instead of passing as a warning. None: unknown stays a warning.
    assume_rows: int | None = DEFAULT_ASSUME_ROWS
    # what a statement, revision or file the lint could not judge counts as: an error or a
    # warning against fail_on, or "allow" (listed, suppressed with that reason, never hidden)
    unlintable: Unlintable = "error"
    server_version: str | None = None  # no database: the server the advice is for (lint/version.py)

    @classmethod
    def from_section(cls, section: Any) -> LintSettings:
        """From a ``LintSection`` (or anything with the same attributes)."""
        return cls(
            fail_on=section.fail_on,
            large_table_rows=section.large_table_rows,
            medium_table_rows=section.medium_table_rows,
            disable=frozenset(section.disable),
            assume_rows=getattr(section, "assume_rows", DEFAULT_ASSUME_ROWS),
            unlintable=getattr(section, "unlintable", "error"),
            server_version=getattr(section, "server_version", None),
        )

    def severity_for_rows(self, rows: int | None) -> Severity:
        """A lock held for as long as the table takes to scan or copy: worse the bigger it is.

        Unknown size is a warning: never silently a note, but not blocking on a guess.
        """
        if rows is None:
            return "warning"
        if rows >= self.large_table_rows:
            return "error"
        if rows >= self.medium_table_rows:
            return "warning"
        return "note"


@dataclass
class Finding:
    """One hazard in one statement, with what to do instead."""

    code: str
    name: str
    severity: Severity
    message: str
    statement: int | None = None  # index into the linted statements
    table: str | None = None
    suggestion: str = ""
    suppressed: bool = False
    reason: str | None = None  # the suppression's justification
    line: int | None = None  # 1-based, in the statements joined by newlines

    def at_least(self, threshold: str) -> bool:
        """Whether this finding counts against ``threshold`` ("note" | "warning" | "error")."""
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[threshold]

    @property
    def not_linted(self) -> bool:
        """Whether this names something no rule judged (see :data:`UNLINTABLE`)."""
        return self.code in UNLINTABLE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "not_linted": self.not_linted}


@dataclass
class StatementInfo:
    """One statement as the dry run shows it: what it locks, on how big a table, and why that matters."""

    index: int
    sql: str
    kind: str
    table: str | None
    lock: str  # e.g. "ACCESS EXCLUSIVE", "SHARE", "metadata lock, copy", "database write lock"
    blocks: str  # "reads and writes" | "writes" | "nothing" | "schema changes" ...
    algorithm: str | None = None  # MySQL/MariaDB best guess: instant | inplace | copy
    table_size: TableSize | None = None
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "sql": self.sql,
            "kind": self.kind,
            "table": self.table,
            "lock": self.lock,
            "blocks": self.blocks,
            "algorithm": self.algorithm,
            "table_size": self.table_size.to_dict() if self.table_size else None,
            "findings": [f.to_dict() for f in self.findings],
        }


def blocking_findings(findings: list[Finding], fail_on: FailOn | str) -> list[Finding]:
    """The unsuppressed findings at or above the plan's threshold: these block a run."""
    if fail_on == "never":
        return []
    return [f for f in findings if not f.suppressed and f.at_least(fail_on)]
