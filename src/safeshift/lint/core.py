"""Lint a migration's statements: rules + squawk, severity by table size, suppressions.

The rules judge one statement at a time with the context of the statements before it;
this module parses, walks, scales severities, de-duplicates our findings against
squawk's on PostgreSQL, and applies the inline suppressions last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from safeshift.dialects.observe import Seen
from safeshift.lint import squawk as _squawk
from safeshift.lint.advice import index_constraint_advice
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
from safeshift.lint.observed import OBSERVED_LOCK, judge
from safeshift.lint.rules import LINT_RULES, Rule
from safeshift.lint.rules.ss002_table_rewrite import string_retype
from safeshift.lint.sqltext import scan, split_script, strip_bom
from safeshift.lint.statement import Statement, normalize_dialect, parse_statement
from safeshift.lint.suppress import Suppression, apply_suppressions, parse_suppressions
from safeshift.lint.version import ServerVersion, parse_server_version, resolve_version

COULD_NOT_PARSE = "SS000"
SQUAWK_UNAVAILABLE = "SS092"
NOT_RENDERED = "SS094"
UNREADABLE = "SS095"
UNTERMINATED = "SS096"


@dataclass(frozen=True)
class MetaRule:
    """A finding the linter itself raises (no rule module): for SARIF's rule list."""

    code: str
    name: str
    summary: str


META_RULES = [
    MetaRule(COULD_NOT_PARSE, "could-not-parse", "The statement could not be parsed, so no rule judged it: it counts as [lint] unlintable says."),
    MetaRule("SS090", "suppression-without-reason", "A safeshift: allow comment without 'because <reason>' suppresses nothing."),
    MetaRule("SS091", "unused-suppression", "A safeshift: allow comment that matches no finding of its statement."),
    MetaRule(SQUAWK_UNAVAILABLE, "squawk-unavailable", "squawk is not installed or failed: PostgreSQL was linted with safeshift's own rules only."),
    MetaRule("SS093", "malformed-suppression", "A safeshift: allow comment that cannot be read."),
    MetaRule(NOT_RENDERED, "not-rendered", "A revision could not be rendered to SQL offline, so none of its statements were linted."),
    MetaRule(UNREADABLE, "unreadable-file", "A SQL file could not be read as UTF-8 text, so none of its statements were linted."),
    MetaRule(UNTERMINATED, "unterminated", "A comment, string or quoted identifier is never closed: the server would refuse or misread the rest."),
    MetaRule(OBSERVED_LOCK, "observed-lock", "Applied to a copy, the statement took a stronger lock than the lint declared, or rewrote a table it did not flag."),
]


def counted(finding: Finding, settings: LintSettings | None) -> Finding:
    """An item the lint could not judge counts as ``[lint] unlintable`` says ("error" or "warning"
    against fail_on); allowed or disabled it is still listed, suppressed with that setting as the
    reason: a report never looks like a full lint when it was not."""
    settings = settings or LintSettings()
    if finding.suppressed:
        return finding
    finding.severity = "error" if settings.unlintable == "allow" else settings.unlintable
    if finding.code in settings.disable:
        finding.suppressed, finding.reason = True, f'[lint] disable = ["{finding.code}"]'
    elif settings.unlintable == "allow":
        finding.suppressed, finding.reason = True, '[lint] unlintable = "allow"'
    return finding


def unlintable(findings: list[Finding]) -> list[Finding]:
    """The findings that name something the lint could not judge (a statement, revision or file)."""
    return [f for f in findings if f.not_linted]


def _not_linted(code: str, name: str, message: str, suggestion: str, settings: LintSettings | None) -> list[Finding]:
    """Something the lint could not judge, counted as ``[lint] unlintable`` says."""
    finding = Finding(code=code, name=name, severity="error", message=message, suggestion=suggestion)
    return [counted(finding, settings)]


def unreadable(source: str, reason: str, settings: LintSettings | None = None) -> list[Finding]:
    """A file that could not be read is a finding naming it: never a crash, never a silent pass."""
    return _not_linted(
        UNREADABLE, "unreadable-file", f"{source}: not linted: {reason}",
        "save the file as UTF-8 (iconv -f LATIN1 -t UTF-8) and lint it again, "
        'or accept it unlinted: [lint] unlintable = "allow"',
        settings,
    )


def not_rendered(revision: str | None, reason: str, settings: LintSettings | None = None) -> list[Finding]:
    """An unlinted revision is a finding (by default an error: an unknown must not pass as clean)."""
    what = f"revision {revision}" if revision else "the migration"
    return _not_linted(
        NOT_RENDERED, "not-rendered", f"{what} could not be rendered to SQL offline, so it was not linted: {reason}",
        "make it renderable offline (alembic upgrade --sql), or accept it unlinted: "
        f'[lint] disable = ["{NOT_RENDERED}"] or [lint] unlintable = "allow"',
        settings,
    )


@dataclass
class _Result:
    statements: list[Statement]
    findings: list[Finding]
    sizes: dict[int, TableSize | None]  # by Statement.pos
    fresh: set[int]  # Statement.pos of statements on a table created (empty) earlier in the migration
    version: ServerVersion


Version = ServerVersion | str | None


def server_version_for(dialect_name: str, given: Version, settings: LintSettings | None = None) -> ServerVersion:
    """The version the advice is for: ``given`` (a ServerVersion, or text such as "PostgreSQL 10.5"),
    else ``[lint] server_version``, else the assumed one (lint/version.py)."""
    if isinstance(given, ServerVersion):
        return given
    if given:
        return parse_server_version(given, dialect_name, "given")
    return resolve_version(dialect_name, setting=(settings or LintSettings()).server_version)


def lint_statements(
    statements: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None = None,
    *,
    destructive_ok: bool = False,
    settings: LintSettings | None = None,
    use_squawk: bool = True,
    server_version: Version = None,
) -> list[Finding]:
    """Lock and safety findings for ``statements`` (in order) on ``dialect_name``.

    ``table_sizes`` (from :func:`table_sizes_from_facts`) scales severities; None means
    sizes are unknown (scaled findings are warnings). ``destructive_ok`` is True when the
    plan takes a verified backup first: drops become notes. ``server_version``: the server the
    advice is for (:func:`server_version_for`; a text that is no version of this dialect is a
    ValueError). Never raises on bad SQL.
    """
    return _lint(statements, dialect_name, table_sizes, destructive_ok, settings, use_squawk, server_version).findings


def lint_and_annotate(
    statements: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None = None,
    *,
    destructive_ok: bool = False,
    settings: LintSettings | None = None,
    use_squawk: bool = True,
    server_version: Version = None,
    observed: Mapping[int, Seen] | None = None,
) -> tuple[list[Finding], list[StatementInfo]]:
    """:func:`lint_statements` and :func:`annotate` from one pass (squawk runs once).

    ``observed``: what each statement (by index) was seen to take on a copy; a lock stronger
    than declared, or a rewrite not flagged, is an SS097 finding (:mod:`safeshift.lint.observed`).
    """
    result = _lint(statements, dialect_name, table_sizes, destructive_ok, settings, use_squawk, server_version, observed)
    return result.findings, _infos(result)


def annotate(
    statements: list[str],
    dialect_name: str,
    table_sizes: Mapping[str, TableSize] | None = None,
    *,
    destructive_ok: bool = False,
    settings: LintSettings | None = None,
    use_squawk: bool = True,
    server_version: Version = None,
) -> list[StatementInfo]:
    """Each statement with its lock, table, table size and findings: the dry run's view.

    Findings not tied to one statement (e.g. squawk unavailable) are attached to the first.
    """
    return _infos(_lint(statements, dialect_name, table_sizes, destructive_ok, settings, use_squawk, server_version))


def _infos(result: _Result) -> list[StatementInfo]:
    infos: list[StatementInfo] = []
    taken: set[int] = set()  # an item holding two statements: its findings go with the first
    for stmt in result.statements:
        level = lock_level(stmt, result.version)
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
    server_version: Version = None,
    observed: Mapping[int, Seen] | None = None,
) -> _Result:
    dialect = normalize_dialect(dialect_name)
    settings = settings or LintSettings()
    version = server_version_for(dialect_name, server_version, settings)
    statements = _parse_all(texts, dialect)
    sizes = {name.lower(): size for name, size in table_sizes.items()} if table_sizes is not None else None
    # no database at all (CI): an unknown size counts as [lint] assume_rows
    assumed = settings.assume_rows if sizes is None else None
    ctx = LintContext(dialect, settings, sizes, version, destructive_ok=destructive_ok, assume_rows=assumed)
    ctx.rebuilds = find_rebuilds(statements)
    rules: list[Rule] = [
        cls() for code, cls in LINT_RULES.items() if code not in settings.disable and dialect in cls.dialects
    ]
    findings: list[Finding] = []
    sizes_at: dict[int, TableSize | None] = {}
    fresh: set[int] = set()
    for stmt in statements:
        if stmt.scanned.unterminated is not None and UNTERMINATED not in settings.disable:
            findings.append(
                Finding(
                    code=UNTERMINATED,
                    name="unterminated",
                    severity="error",
                    message=f"unterminated {stmt.scanned.unterminated}: everything after it is swallowed, so it was not linted",
                    statement=stmt.index,
                    line=stmt.line + stmt.scanned.unterminated_line + 1,
                    suggestion="close the comment, string or quoted identifier",
                )
            )
        if stmt.comment_only:
            continue
        sizes_at[stmt.pos] = TableSize(rows=0, bytes=0, source="exact") if stmt.kind == "CREATE TABLE" else ctx.size(stmt.table)
        if stmt.kind == "CREATE TABLE" or ctx.is_fresh(stmt.table):
            fresh.add(stmt.pos)
        if not stmt.understood and stmt.scanned.unterminated is None:  # an unclosed one: SS096 names it
            why = f": {stmt.parse_error}" if stmt.parse_error else ""
            findings.append(
                Finding(
                    code=COULD_NOT_PARSE,
                    name="could-not-parse",
                    severity="warning" if settings.unlintable == "warning" else "error",
                    message=f"not linted: could not parse {stmt.first_line!r}{why}; no rule judged it",
                    statement=stmt.index,
                    line=stmt.line + 1,
                    suggestion="review its locks by hand, then say so: -- safeshift: allow SS000 because <what it locks>, "
                    'or count such statements as warnings: [lint] unlintable = "warning"',
                )
            )
        for rule in rules:
            for hit in rule.check(stmt, ctx):
                table = hit.table if hit.table is not None else stmt.table
                findings.append(
                    Finding(
                        code=rule.code,
                        name=rule.name,
                        severity=hit.severity or _scaled(settings, ctx.size(table), assumed),
                        message=hit.message + _size_note(ctx.size(table), hit.severity, assumed),
                        statement=stmt.index,
                        table=table,
                        suggestion=hit.suggestion or rule.suggestion or rule.section("Best practice"),
                        line=stmt.line + 1,
                    )
                )
        ctx.advance(stmt)
    if dialect == "postgresql" and use_squawk:
        findings = _with_squawk(findings, statements, sizes_at, fresh, settings, assumed, version)
    if observed is not None:  # before the suppressions: an allow comment may name SS097 too
        findings.extend(judge(statements, findings, observed, settings, sizes))
    suppressions, problems = parse_suppressions(statements)
    findings.extend(problems)
    # a migration rendered for several databases carries suppressions for each: one naming a
    # squawk rule is meant for PostgreSQL, and unused elsewhere by design
    portable = (lambda s: any(c.startswith("squawk:") for c in s.codes)) if dialect != "postgresql" else None
    findings.extend(apply_suppressions(findings, suppressions, _codes_of, _expected_unused(portable, observed is None)))
    for finding in unlintable(findings):  # an inline reason first, then [lint] unlintable / disable
        counted(finding, settings)
    findings.sort(key=lambda f: (f.statement if f.statement is not None else -1, -SEVERITY_RANK[f.severity], f.code))
    return _Result(statements, findings, sizes_at, fresh, version)


def _expected_unused(
    portable: Callable[[Suppression], bool] | None, unobserved: bool
) -> Callable[[Suppression], bool] | None:
    """Suppressions that match nothing by design: another database's (``portable``), and one naming
    SS097 when nothing was observed (it waits for ``safeshift lint --observe`` and the runs)."""
    if not unobserved:
        return portable
    return lambda s: OBSERVED_LOCK in s.codes or (portable is not None and portable(s))


def _parse_all(texts: list[str], dialect: str) -> list[Statement]:
    """Parse every item; an item holding several statements is judged statement by statement."""
    statements: list[Statement] = []
    line = 0
    for index, text in enumerate(texts):
        text = strip_bom(text)
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
            inner_statements, unseen = _do_block(stmt)
            if stmt.dialect == "postgresql" and _DO.match(stmt.scanned.stripped):
                # a DO block is understood when the lint sees all it runs; else SS000 says why not
                stmt.kind, stmt.parse_error = ("OTHER", unseen) if unseen else ("DO", None)
            for inner in inner_statements:  # what a DO block runs is judged too
                nested = parse_statement(index, inner, dialect)
                nested.line = stmt.line
                nested.pos = len(statements)
                nested.nested = True
                statements.append(nested)
        line += text.count("\n") + 1
    return statements


_DO = re.compile(r"^\s*DO\s+(?:LANGUAGE\s+\w+\s+)?(\$[A-Za-z_0-9]*\$)(.*)\1", re.IGNORECASE | re.DOTALL)
_EXECUTE = re.compile(r"\bEXECUTE\s+'((?:[^']|'')*)'", re.IGNORECASE)
_DYNAMIC = re.compile(r"\bEXECUTE\s+(?!')", re.IGNORECASE)
_BODY_DDL = re.compile(
    r"^\s*(ALTER|CREATE|DROP|TRUNCATE|UPDATE|DELETE|REINDEX|VACUUM|CLUSTER|LOCK)\b", re.IGNORECASE
)
# body statements that run no SQL of their own (the EXECUTE of a literal is judged as that literal)
_BODY_PLAIN = re.compile(r"^\s*(RAISE|PERFORM|NULL|RETURN|END|EXECUTE\s+'|INSERT|SELECT)\b|^\s*$", re.IGNORECASE)


def _do_block(stmt: Statement) -> tuple[list[str], str | None]:
    """The SQL a PostgreSQL ``DO $$ ... $$`` block runs (``EXECUTE '<literal>'`` strings and the
    DDL/DML written directly in its body), and why the rest cannot be seen (None: nothing hidden):
    SQL built at run time, or control flow (IF, LOOP) around statements."""
    if stmt.dialect != "postgresql" or stmt.nested:
        return [], None
    m = _DO.match(stmt.scanned.stripped)
    if not m:
        return [], None
    body = m.group(2)
    found = [literal.replace("''", "'") for literal in _EXECUTE.findall(body)]
    unseen = "its body runs SQL built at run time (EXECUTE of an expression)" if _DYNAMIC.search(scan(body).masked) else None
    for piece in split_script(body, "postgresql"):
        code = re.sub(r"^\s*(DECLARE\b.*?\bBEGIN|BEGIN)\b", "", piece, flags=re.IGNORECASE | re.DOTALL)
        if _BODY_DDL.match(code):
            found.append(code.strip())
        elif not _BODY_PLAIN.match(code) and unseen is None:
            unseen = f"its body holds {code.split()[0].upper()} ..., which the lint does not follow"
    return found, unseen


def _several(text: str, dialect: str) -> bool:
    """Whether code follows a top-level ';' in ``text``."""
    mysql = dialect == "mysql"
    scanned = scan(text, hash_comments=mysql, backslash_escapes=mysql)
    return any(scanned.masked[end:].strip(" \t\r\n;") for end in scanned.ends)


def _scaled(settings: LintSettings, size: TableSize | None, assumed: int | None = None) -> Severity:
    rows = size.estimated_rows if size else None
    return settings.severity_for_rows(assumed if rows is None and size is None else rows)


def _size_note(size: TableSize | None, fixed: Severity | None, assumed: int | None = None) -> str:
    if fixed is not None:
        return ""
    if size is not None:
        return f" [{size.describe()}]"
    if assumed is not None:
        return f" [table size unknown: counted as {assumed:,} rows, [lint] assume_rows]"
    return " [table size unknown]"


def _codes_of(finding: Finding) -> set[str]:
    """The codes a suppression may name for this finding (squawk's rule or our equivalent)."""
    codes = {finding.code}
    if finding.code.startswith("squawk:"):
        equivalent = _squawk.EQUIVALENT.get(finding.code[len("squawk:") :])
        if equivalent:
            codes.add(equivalent)
    return codes


def _judged_safe(rule: str, stmt: Statement, statements: list[Statement]) -> bool:
    """squawk findings the statement's context shows to be safe (it sees one statement at a time)."""
    if rule == "changing-column-type":
        return string_retype(stmt)  # varchar/text → text or a longer varchar: catalog only
    if rule == "ban-drop-constraint":
        # strong_migrations' NOT NULL recipe: CHECK (col IS NOT NULL) NOT VALID, VALIDATE,
        # SET NOT NULL (which uses the validated check instead of scanning), then drop the check
        return any(
            s.table == stmt.table and s.has(r"\bSET\s+NOT\s+NULL\b") for s in statements[: stmt.pos]
        )
    return False


def _with_squawk(
    ours: list[Finding],
    statements: list[Statement],
    sizes_at: dict[int, TableSize | None],
    fresh: set[int],
    settings: LintSettings,
    assumed: int | None = None,
    version: ServerVersion | None = None,
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
            pg_version = ".".join(map(str, version.number[:2])) if version and version.product == "postgresql" else None
            violations = _squawk.run_squawk(binary, [s for s in statements if not s.comment_only], exclude, pg_version=pg_version)
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
    # our rule's advice is written for this statement as SQL: it beats squawk's one-line help
    our_advice = {(f.statement, f.code): f.suggestion for f in ours if f.suggestion}
    unparsed = {f.statement for f in ours if f.code == COULD_NOT_PARSE}
    theirs: list[Finding] = []
    for v in violations:
        stmt = by_pos.get(v.statement) if v.statement is not None else None
        if v.rule == "syntax-error" and stmt is not None and stmt.index in unparsed:
            continue  # already reported as could-not-parse
        if stmt is not None and _judged_safe(v.rule, stmt, statements):
            continue
        table = stmt.table if stmt else None
        size = sizes_at.get(v.statement) if v.statement is not None else None
        fixed = _squawk.fixed_severity(v.rule)
        if v.rule == "adding-required-field":
            rows = size.estimated_rows if size is not None else assumed
            fixed = "error" if rows else "warning"
        if fixed is None and v.statement in fresh:
            continue  # a lock on a table this migration just created blocks nobody
        equivalent = _squawk.EQUIVALENT.get(v.rule)
        suggestion = (
            (index_constraint_advice(stmt) if stmt is not None else None)
            or our_advice.get((stmt.index if stmt else None, equivalent or ""))
            or v.help
            or ""
        )
        if equivalent and equivalent in LINT_RULES:
            suggestion = suggestion or LINT_RULES.get(equivalent).section("Best practice")
        suggestion = suggestion or f"see https://squawkhq.com/docs/{v.rule}"
        theirs.append(
            Finding(
                code=f"squawk:{v.rule}",
                name=v.rule,
                severity=fixed or _scaled(settings, size, assumed),
                message=v.message + _size_note(size, fixed, assumed),
                statement=stmt.index if stmt else None,
                table=table,
                suggestion=suggestion,
                line=(stmt.line + v.line) if stmt else None,
            )
        )
    covered = {(f.statement, _squawk.EQUIVALENT.get(f.name)) for f in theirs}
    kept = [f for f in ours if (f.statement, f.code) not in covered]
    return kept + theirs
