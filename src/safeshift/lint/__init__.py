"""Lock-hazard lint: what each migration statement locks, for how long, and what to do instead.

Rules (one module each under ``rules/``) judge statements parsed with sqlglot, with a
text fallback where sqlglot cannot parse; on PostgreSQL squawk's rules come first. The
severity of a lock hazard grows with the table's size from the live database.

Entry points: :func:`lint_statements` (findings), :func:`annotate` (per-statement lock
view for the dry run), :func:`blocking_findings` (what fails a run at the plan's
threshold), :func:`to_sarif`, :func:`table_sizes_from_facts`, :func:`probe_lock_class`,
:func:`resolve_version` (the server version the advice is for), :func:`unlintable` (what
could not be judged: counted as ``[lint] unlintable`` says).
"""

from __future__ import annotations

from safeshift.lint.core import (
    META_RULES,
    annotate,
    lint_and_annotate,
    lint_statements,
    not_rendered,
    unlintable,
    unreadable,
)
from safeshift.lint.files import lint_dialect, read_sql_files
from safeshift.lint.model import (
    UNLINTABLE,
    Finding,
    LintSettings,
    Severity,
    StatementInfo,
    TableSize,
    blocking_findings,
    table_sizes_from_facts,
)
from safeshift.lint.probe import can_probe, probe_lock_class
from safeshift.lint.rules import Rule, rule_classes
from safeshift.lint.sarif import to_sarif
from safeshift.lint.sqltext import split_script
from safeshift.lint.version import ServerVersion, resolve_version

__all__ = [
    "META_RULES",
    "UNLINTABLE",
    "Finding",
    "LintSettings",
    "Rule",
    "ServerVersion",
    "Severity",
    "StatementInfo",
    "TableSize",
    "annotate",
    "blocking_findings",
    "can_probe",
    "lint_and_annotate",
    "lint_dialect",
    "lint_statements",
    "not_rendered",
    "probe_lock_class",
    "read_sql_files",
    "resolve_version",
    "rule_classes",
    "split_script",
    "table_sizes_from_facts",
    "to_sarif",
    "unlintable",
    "unreadable",
]
