"""Every rule's passing and failing cases, kept as SQL files under tests/lint_cases/.

Each file starts with header comments:

    -- dialect: mysql                        (postgresql | mysql | mariadb | sqlite)
    -- rows: users=1000000, families=100     (optional: table sizes; absent = unknown)
    -- destructive-ok: true                  (optional: a verified backup is taken first)
    -- expect: SS001@error, SS005            (unsuppressed findings, CODE[@severity]; or "none")

A new case is a new file: no test code changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safeshift.lint import TableSize, lint_statements, split_script

CASES_DIR = Path(__file__).parent / "lint_cases"
CASES = sorted(p for p in CASES_DIR.rglob("*.sql") if "corpus" not in p.relative_to(CASES_DIR).parts)  # corpus: test_lint_corpus.py
_HEADER = re.compile(r"^--\s*([a-z-]+)\s*:\s*(.*?)\s*$")


def read_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line.strip())
        if not m:
            break
        headers[m.group(1)] = m.group(2)
    return headers


def parse_rows(spec: str) -> dict[str, TableSize]:
    sizes: dict[str, TableSize] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, rows = part.partition("=")
        sizes[name.strip()] = TableSize(rows=int(rows), bytes=int(rows) * 120)
    return sizes


def unmatched(expected: list[str], actual: list[str]) -> tuple[list[str], list[str]]:
    """Match ``CODE`` or ``CODE@severity`` expectations against ``CODE@severity`` findings."""
    left = list(actual)
    missing: list[str] = []
    for want in expected:
        hit = next((a for a in left if a == want or ("@" not in want and a.split("@")[0] == want)), None)
        if hit is None:
            missing.append(want)
        else:
            left.remove(hit)
    return missing, left


def test_cases_exist_for_every_rule() -> None:
    from safeshift.lint import rule_classes

    folders = {p.parent.name for p in CASES}
    for code in rule_classes():
        assert code.lower() in folders, f"no cases for {code}"
        names = [p.stem for p in CASES if p.parent.name == code.lower()]
        assert any(n.endswith("_passes") for n in names), f"{code} has no passing case"
        assert any(not n.endswith("_passes") for n in names), f"{code} has no failing case"


@pytest.mark.parametrize("case", CASES, ids=[str(p.relative_to(CASES_DIR)) for p in CASES])
def test_lint_case(case: Path) -> None:
    text = case.read_text()
    headers = read_headers(text)
    assert "dialect" in headers and "expect" in headers, f"{case.name}: needs '-- dialect:' and '-- expect:' headers"
    dialect = headers["dialect"]
    sizes = parse_rows(headers["rows"]) if "rows" in headers else None
    findings = lint_statements(
        split_script(text, dialect),
        dialect,
        sizes,
        destructive_ok=headers.get("destructive-ok", "false").lower() == "true",
        server_version=headers.get("server"),
    )
    expected = [] if headers["expect"].lower() == "none" else [e.strip() for e in headers["expect"].split(",") if e.strip()]
    actual = [f"{f.code}@{f.severity}" for f in findings if not f.suppressed]
    missing, extra = unmatched(expected, actual)
    detail = "\n".join(f"  {f.code} {f.severity} stmt {f.statement}: {f.message}" for f in findings)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}; all findings:\n{detail}"
