"""PostgreSQL rules from squawk (PyPI ``squawk-cli``), run as a subprocess with its JSON reporter.

squawk knows PostgreSQL's lock behaviour in depth, so on PostgreSQL its violations are
the primary findings; each is mapped to our Finding (code ``squawk:<rule>``) with a
severity from our size scaling, and our own rules only add what squawk has no rule for.
"""

from __future__ import annotations

import bisect
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeshift.lint.model import Severity
from safeshift.lint.statement import Statement

# Never asked of squawk: safeshift's apply session sets lock_timeout itself (the rendered
# statements cannot show it), a statement_timeout would kill a legitimate long backfill
# half-way, a failed run is rolled back and proven rather than re-run (prefer-robust-stmts),
# and drops are judged by SS005, which knows whether a verified backup exists.
EXCLUDED = (
    "require-lock-timeout",
    "require-statement-timeout",
    "prefer-robust-stmts",
    "ban-drop-table",
    "ban-drop-column",
)

# squawk rule -> our rule reporting the same hazard (for de-duplication, suppression and severity)
EQUIVALENT: dict[str, str] = {
    "require-concurrent-index-creation": "SS001",
    "changing-column-type": "SS002",
    "adding-required-field": "SS003",
    "adding-foreign-key-constraint": "SS004",
    "constraint-missing-not-valid": "SS004",
    "renaming-column": "SS006",
    "renaming-table": "SS006",
    "adding-field-with-default": "SS002",
    "require-concurrent-reindex": "SS001",
    "disallowed-unique-constraint": "SS001",
    "adding-serial-primary-key-field": "SS001",
    "require-concurrent-partition-detach": "SS010",
}

# Schema-style advice: worth reading, never a lock hazard.
STYLE = frozenset(
    {
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamptz",
        "prefer-timestamp-tz",
        "ban-char-field",
        "require-table-schema",
        "require-primary-key",
    }
)

# Fails at run time whatever the table's size.
FAILS = frozenset({"ban-concurrent-index-creation-in-transaction", "transaction-nesting"})

# Breaks the application version still running, whatever the table's size.
COMPATIBILITY = frozenset({"renaming-column", "renaming-table", "adding-required-field"})

# Not a lock hazard and breaks nothing the running application does: advice only.
ADVICE = frozenset({"ban-drop-not-null"})


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    help: str | None
    statement: int | None  # Statement.pos
    line: int  # 1-based within the statement's text


def find_squawk() -> str | None:
    """The squawk binary: next to this Python (a venv's bin/) first, then on PATH."""
    here = Path(sys.executable).parent / "squawk"
    if here.is_file():
        return str(here)
    return shutil.which("squawk")


def fixed_severity(rule: str) -> Severity | None:
    """A severity that does not depend on the table's size (None: scale it)."""
    if rule in STYLE or rule == "syntax-error" or rule in ADVICE:  # unparseable: SS000 says so too
        return "note"
    if rule in FAILS:
        return "error"
    if rule in COMPATIBILITY and rule != "adding-required-field":
        return "error"  # the application version still running uses the old name
    return None


def run_squawk(
    binary: str,
    statements: list[Statement],
    exclude: tuple[str, ...] = (),
    timeout: float = 60.0,
    pg_version: str | None = None,
) -> list[Violation]:
    """Lint the statements as one script and map each violation back to its statement.

    ``Violation.line`` is the 1-based line inside the statement's own text. ``pg_version``
    ("10.5", "15"): the server squawk judges for (ADD COLUMN ... DEFAULT rewrites before 11).
    """
    pieces: list[str] = []
    starts: list[int] = []
    line = 0
    for stmt in statements:
        text = stmt.sql.rstrip()
        if not stmt.masked.rstrip().endswith(";"):
            text += "\n;"  # on its own line: the statement may end in a comment
        starts.append(line)
        pieces.append(text)
        line += text.count("\n") + 1
    args = [binary, "--reporter", "json", "--stdin-filepath", "migration.sql"]
    excluded = sorted({*EXCLUDED, *exclude})
    args.append("--exclude=" + ",".join(excluded))
    if pg_version:
        args.append("--pg-version=" + (pg_version if "." in pg_version else pg_version + ".0"))
    proc = subprocess.run(args, input="\n".join(pieces) + "\n", capture_output=True, text=True, timeout=timeout, check=False)
    out = proc.stdout.strip()
    if not out:
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"squawk exited {proc.returncode}: {proc.stderr.strip()[:200]}")
        return []
    data: list[dict[str, Any]] = json.loads(out)
    violations: list[Violation] = []
    for item in data:
        line0 = int(item.get("line") or 0)
        pos = max(0, bisect.bisect_right(starts, line0) - 1)
        violations.append(
            Violation(
                rule=str(item.get("rule_name") or "unknown"),
                message=str(item.get("message") or ""),
                help=item.get("help"),
                statement=statements[pos].pos if statements else None,
                line=line0 - starts[pos] + 1 if statements else line0 + 1,
            )
        )
    return violations
