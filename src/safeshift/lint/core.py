"""Lint a migration's statements: rules + squawk, severity by table size, suppressions.

The rules judge one statement at a time with the context of the statements before it;
this module parses, walks, scales severities, de-duplicates our findings against
squawk's on PostgreSQL, and applies the inline suppressions last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from safeshift.lint import squawk as _squawk
from safeshift.lint.context import LintContext, find_rebuilds
from safeshift.lint.locks import lock_level
from safeshift.lint.model import (
    SEVERITY_RANK,
    Finding,
    LintSettings,
    Severity,
    StatementInfo,
    TableSize,
)
from safeshift.lint.rules import LINT_RULES, Rule
from safeshift.lint.sqltext import scan, split_script
from safeshift.lint.statement import Statement, normalize_dialect, parse_statement
from safeshift.lint.suppress import apply_suppressions, parse_suppressions

COULD_NOT_PARSE = "SS000"
SQUAWK_UNAVAILABLE = "SS092"
NOT_RENDERED = "SS094"


@dataclass(frozen=True)
class MetaRule:
    """A finding the linter itself raises (no rule module): for SARIF's rule list."""

    code: str
    name: str
    summary: str


META_RULES = [
    MetaRule(COULD_NOT_PARSE, "could-not-parse", "The statement could not be parsed, so no rule could judge it: review it by hand."),
    MetaRule("SS090", "suppression-without-reason", "A safeshift: allow comment without 'because <reason>' suppresses nothing."),
    MetaRule("SS091", "unused-suppression", "A safeshift: allow comment that matches no finding of its statement."),
    MetaRule(SQUAWK_UNAVAILABLE, "squawk-unavailable", "squawk is not installed or failed: PostgreSQL was linted with safeshift's own rules only."),
    MetaRule("SS093", "malformed-suppression", "A safeshift: allow comment that cannot be read."),
    MetaRule(NOT_RENDERED, "not-rendered", "A revision could not be rendered to SQL offline, so none of its statements were linted."),
]


def not_rendered(revision: str | None, reason: str, settings: LintSettings | None = None) -> list[Finding]:
    """An unlinted revision is a finding (an error: an unknown must not pass as clean), unless disabled."""
    if settings is not None and NOT_RENDERED in settings.disable:
        return []
    what = f"revision {revision}" if revision else "the migration"
    return [
        Finding(
            code=NOT_RENDERED,
            name="not-rendered",
            severity="error",
            message=f"{what} could not be rendered to SQL offline, so it was not linted: {reason}",
            suggestion=f"make it renderable offline (alembic upgrade --sql), or accept it unlinted: [lint] disable = [\"{NOT_RENDERED}\"]",
        )
    ]


@dataclass
class _Result:
    statements: list[Statement]
    findings: list[Finding]
    sizes: dict[int, TableSize | None]  # by Statement.pos
    fresh: set[int]  # Statement.pos of statements on a table created (empty) earlier in the migration


def lint_statements(
    statements: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None = None,
    *,
    destructive_ok: bool = False,
    settings: LintSettings | None = None,
    use_squawk: bool = True,
) -> list[Finding]:
    """Lock and safety findings for ``statements`` (in order) on ``dialect_name``.

    ``table_sizes`` (from :func:`table_sizes_from_facts`) scales severities; None means
    sizes are unknown (scaled findings are warnings). ``destructive_ok`` is True when the
    plan takes a verified backup first: drops become notes. Never raises on bad SQL.
    """
    return _lint(statements, dialect_name, table_sizes, destructive_ok, settings, use_squawk).findings


def annotate(
    statements: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None = None,
    *,
    destructive_ok: bool = False,
    settings: LintSettings | None = None,
    use_squawk: bool = True,
) -> list[StatementInfo]:
    """Each statement with its lock, table, table size and findings: the dry run's view.

    Findings not tied to one statement (e.g. squawk unavailable) are attached to the first.
    """
    result = _lint(statements, dialect_name, table_sizes, destructive_ok, settings, use_squawk)
    infos: list[StatementInfo] = []
    taken: set[int] = set()  # an item holding two statements: its findings go with the first
    for stmt in result.statements:
        level = lock_level(stmt)
        infos.append(
            StatementInfo(
                index=stmt.index,
                sql=stmt.sql,
                kind=stmt.kind,
                table=stmt.table,
                lock=level.lock,
                blocks=level.blocks,
                algorithm=level.algorithm,
                table_size=result.sizes.get(stmt.pos),
                findings=[f for f in result.findings if f.statement == stmt.index and id(f) not in taken],
            )
        )
        taken.update(id(f) for f in infos[-1].findings)
    loose = [f for f in result.findings if f.statement is None]
    if loose and infos:
        infos[0].findings[:0] = loose
    return infos


def _lint(
    texts: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None,
    destructive_ok: bool,
    settings: LintSettings | None,
    use_squawk: bool,
) -> _Result:
    dialect = normalize_dialect(dialect_name)
    settings = settings or LintSettings()
    statements = _parse_all(texts, dialect)
    sizes = {name.lower(): size for name, size in table_sizes.items()} if table_sizes is not None else None
    ctx = LintContext(dialect=dialect, settings=settings, sizes=sizes, destructive_ok=destructive_ok)
    ctx.rebuilds = find_rebuilds(statements)
    rules: list[Rule] = [
        cls() for code, cls in LINT_RULES.items() if code not in settings.disable and dialect in cls.dialects
    ]
    findings: list[Finding] = []
    sizes_at: dict[int, TableSize | None] = {}
    fresh: set[int] = set()
    for stmt in statements:
        if stmt.comment_only:
            continue
        sizes_at[stmt.pos] = TableSize(rows=0, bytes=0, source="exact") if stmt.kind == "CREATE TABLE" else ctx.size(stmt.table)
        if stmt.kind == "CREATE TABLE" or ctx.is_fresh(stmt.table):
            fresh.add(stmt.pos)
        if not stmt.understood and COULD_NOT_PARSE not in settings.disable:
            why = f": {stmt.parse_error}" if stmt.parse_error else ""
            findings.append(
                Finding(
                    code=COULD_NOT_PARSE,
                    name="could-not-parse",
                    severity="note",
                    message=f"could not parse {stmt.first_line!r}{why}; no rule judged it",
                    statement=stmt.index,
                    line=stmt.line + 1,
                    suggestion="review this statement's locks by hand",
                )
            )
        for rule in rules:
            for hit in rule.check(stmt, ctx):
                table = hit.table if hit.table is not None else stmt.table
                findings.append(
                    Finding(
                        code=rule.code,
                        name=rule.name,
                        severity=hit.severity or _scaled(settings, ctx.size(table)),
                        message=hit.message + _size_note(ctx.size(table), hit.severity),
                        statement=stmt.index,
                        table=table,
                        suggestion=hit.suggestion or rule.suggestion or rule.section("Best practice"),
                        line=stmt.line + 1,
                    )
                )
        ctx.advance(stmt)
    if dialect == "postgresql" and use_squawk:
        findings = _with_squawk(findings, statements, sizes_at, fresh, settings)
    suppressions, problems = parse_suppressions(statements)
    findings.extend(problems)
    findings.extend(apply_suppressions(findings, suppressions, _codes_of))
    findings.sort(key=lambda f: (f.statement if f.statement is not None else -1, -SEVERITY_RANK[f.severity], f.code))
    return _Result(statements, findings, sizes_at, fresh)


def _parse_all(texts: list[str], dialect: str) -> list[Statement]:
    """Parse every item; an item holding several statements is judged statement by statement."""
    statements: list[Statement] = []
    line = 0
    for index, text in enumerate(texts):
        pieces = split_script(text, dialect) if _several(text, dialect) else [text]
        cursor = 0
        for piece in pieces:
            at = text.find(piece, cursor)
            at = cursor if at < 0 else at
            cursor = at + len(piece)
            stmt = parse_statement(index, piece, dialect)
            stmt.line = line + text.count("\n", 0, at)
            stmt.pos = len(statements)
            statements.append(stmt)
        line += text.count("\n") + 1
    return statements


def _several(text: str, dialect: str) -> bool:
    """Whether code follows a top-level ';' in ``text``."""
    mysql = dialect == "mysql"
    scanned = scan(text, hash_comments=mysql, backslash_escapes=mysql)
    return any(scanned.masked[end:].strip(" \t\r\n;") for end in scanned.ends)


def _scaled(settings: LintSettings, size: TableSize | None) -> Severity:
    return settings.severity_for_rows(size.estimated_rows if size else None)


def _size_note(size: TableSize | None, fixed: Severity | None) -> str:
    if fixed is not None:
        return ""
    return f" [{size.describe()}]" if size is not None else " [table size unknown]"


def _codes_of(finding: Finding) -> set[str]:
    """The codes a suppression may name for this finding (squawk's rule or our equivalent)."""
    codes = {finding.code}
    if finding.code.startswith("squawk:"):
        equivalent = _squawk.EQUIVALENT.get(finding.code[len("squawk:") :])
        if equivalent:
            codes.add(equivalent)
    return codes


def _with_squawk(
    ours: list[Finding],
    statements: list[Statement],
    sizes_at: dict[int, TableSize | None],
    fresh: set[int],
    settings: LintSettings,
) -> list[Finding]:
    """Add squawk's findings; drop ours where squawk reported the same hazard on the same statement."""
    binary = _squawk.find_squawk()
    problem = None
    violations: list[_squawk.Violation] = []
    if binary is None:
        problem = "squawk is not installed (pip install squawk-cli)"
    else:
        exclude = tuple(code[len("squawk:") :] for code in settings.disable if code.startswith("squawk:"))
        try:
            violations = _squawk.run_squawk(binary, [s for s in statements if not s.comment_only], exclude)
        except Exception as exc:  # a broken squawk must not break the lint: degrade and say so
            problem = f"squawk failed: {exc}"
    if problem is not None:
        if SQUAWK_UNAVAILABLE in settings.disable:
            return ours
        note = Finding(
            code=SQUAWK_UNAVAILABLE,
            name="squawk-unavailable",
            severity="note",
            message=f"{problem}; PostgreSQL was linted with safeshift's own rules only",
            suggestion="install squawk-cli for PostgreSQL's full rule set",
        )
        return [note, *ours]
    by_pos = {s.pos: s for s in statements}
    unparsed = {f.statement for f in ours if f.code == COULD_NOT_PARSE}
    theirs: list[Finding] = []
    for v in violations:
        stmt = by_pos.get(v.statement) if v.statement is not None else None
        if v.rule == "syntax-error" and stmt is not None and stmt.index in unparsed:
            continue  # already reported as could-not-parse
        table = stmt.table if stmt else None
        size = sizes_at.get(v.statement) if v.statement is not None else None
        fixed = _squawk.fixed_severity(v.rule)
        if v.rule == "adding-required-field":
            fixed = "error" if size is not None and size.estimated_rows else "warning"
        if fixed is None and v.statement in fresh:
            continue  # a lock on a table this migration just created blocks nobody
        equivalent = _squawk.EQUIVALENT.get(v.rule)
        suggestion = v.help or ""
        if equivalent and equivalent in LINT_RULES:
            suggestion = suggestion or LINT_RULES.get(equivalent).section("Best practice")
        theirs.append(
            Finding(
                code=f"squawk:{v.rule}",
                name=v.rule,
                severity=fixed or _scaled(settings, size),
                message=v.message + _size_note(size, fixed),
                statement=stmt.index if stmt else None,
                table=table,
                suggestion=suggestion,
                line=(stmt.line + v.line) if stmt else None,
            )
        )
    covered = {(f.statement, _squawk.EQUIVALENT.get(f.name)) for f in theirs}
    kept = [f for f in ours if (f.statement, f.code) not in covered]
    return kept + theirs
