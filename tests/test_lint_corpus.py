"""The labelled corpus (tests/lint_cases/corpus): recall and false positives per dialect.

Each file is one migration, linted as CI lints it (no database, no plan: `safeshift lint FILE
--dialect D`), with headers:

    -- dialect: postgresql | mariadb | sqlite
    -- label: hazard | safe
    -- source: where the case comes from (strong_migrations, squawk, MySQL/MariaDB docs, ...)
    -- verify: what the real server does with it (checked by test_lint_corpus_servers.py)

A hazard is *caught* when the lint exits 1 (an unsuppressed error finding at the default
``fail_on = "error"``). A safe case is *flagged* when any unsuppressed warning or error remains.
The table in README.md ("Lint" section) is this test's output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from safeshift.lint import blocking_findings, lint_statements, split_script

CORPUS = Path(__file__).parent / "lint_cases" / "corpus"
README = Path(__file__).resolve().parents[1] / "README.md"
_HEADER = re.compile(r"^--\s*([a-z-]+)\s*:\s*(.*?)\s*$")
_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}


@dataclass(frozen=True)
class Case:
    path: Path
    dialect: str
    label: str
    source: str
    verify: str | None
    sql: str


def load_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    headers: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line)
        if not m:
            break
        headers[m.group(1)] = m.group(2)
    dialect = {"mariadb": "mysql"}.get(headers["dialect"], headers["dialect"])
    return Case(path, dialect, headers["label"], headers["source"], headers.get("verify"), text)


CASES = [load_case(p) for p in sorted(CORPUS.rglob("*.sql"))]


def verdict(case: Case) -> tuple[bool, list[str]]:
    """(flagged, findings): hazards count when blocking at "error"; safe cases when anything ≥ warning remains."""
    findings = lint_statements(split_script(case.sql, case.dialect), case.dialect)
    shown = [f"{f.code}@{f.severity}" for f in findings if not f.suppressed]
    if case.label == "hazard":
        return bool(blocking_findings(findings, "error")), shown
    return bool(blocking_findings(findings, "warning")), shown


def corpus_table() -> str:
    """The README's table: per dialect, hazards caught and safe cases flagged."""
    rows = ["| dialect | hazards caught (recall) | safe cases flagged (false positives) |", "|---|---|---|"]
    for dialect, name in _NAMES.items():
        hazards = [c for c in CASES if c.dialect == dialect and c.label == "hazard"]
        safe = [c for c in CASES if c.dialect == dialect and c.label == "safe"]
        caught = sum(verdict(c)[0] for c in hazards)
        flagged = sum(verdict(c)[0] for c in safe)
        rows.append(
            f"| {name} | {caught} / {len(hazards)} ({100 * caught / len(hazards):.0f} %) "
            f"| {flagged} / {len(safe)} ({100 * flagged / len(safe):.0f} %) |"
        )
    return "\n".join(rows)


def test_corpus_is_large_and_labelled() -> None:
    assert len(CASES) >= 100
    for case in CASES:
        assert case.label in ("hazard", "safe"), case.path
        assert case.source, case.path
        assert case.path.name.startswith(case.label + "_"), case.path
    for dialect in _NAMES:
        assert {c.label for c in CASES if c.dialect == dialect} == {"hazard", "safe"}


@pytest.mark.parametrize("dialect", list(_NAMES))
def test_recall_and_false_positives(dialect: str) -> None:
    hazards = [c for c in CASES if c.dialect == dialect and c.label == "hazard"]
    safe = [c for c in CASES if c.dialect == dialect and c.label == "safe"]
    missed = [(c.path.name, verdict(c)[1]) for c in hazards if not verdict(c)[0]]
    flagged = [(c.path.name, verdict(c)[1]) for c in safe if verdict(c)[0]]
    recall = 1 - len(missed) / len(hazards)
    false_positives = len(flagged) / len(safe)
    assert recall >= 0.95, f"recall {recall:.0%}; missed: {missed}"
    assert false_positives <= 0.05, f"false positives {false_positives:.0%}; flagged: {flagged}"


def test_readme_shows_the_corpus_table() -> None:
    assert corpus_table() in README.read_text(encoding="utf-8"), "README's corpus table is stale:\n" + corpus_table()


if __name__ == "__main__":  # print the table and every miss: python tests/test_lint_corpus.py
    print(corpus_table())
    for case in CASES:
        flagged, shown = verdict(case)
        if flagged != (case.label == "hazard"):
            print(f"{'MISSED' if case.label == 'hazard' else 'FLAGGED'} {case.path.relative_to(CORPUS)}: {shown}")
