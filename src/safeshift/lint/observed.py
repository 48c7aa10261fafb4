"""Observed locks against declared ones: a statement that locked more than the lint said is a finding.

The lint declares each statement's lock from its text (:mod:`safeshift.lint.locks`). Applied to
a copy of the database, the statement shows what it really took
(:mod:`safeshift.dialects.observe`): a function, a DO block, a trigger or the server's own
choice of algorithm can lock more than the text says. SS097 is raised when the observed lock
blocks writes (PostgreSQL SHARE or stronger, a MySQL/MariaDB table copy, SQLite's write lock)
and is stronger than the declared one, and when a statement rewrote a table the lint did not
say it rewrites. Its severity grows with the table's size, like every lock hazard.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from safeshift.dialects.observe import WRITE_LOCK, HeldLock, Seen
from safeshift.dialects.postgresql_observe import MODES
from safeshift.lint.locks import lock_level
from safeshift.lint.model import Finding, LintSettings, TableSize
from safeshift.lint.sqltext import scan
from safeshift.lint.statement import Statement

OBSERVED_LOCK = "SS097"
NAME = "observed-lock"

# MySQL/MariaDB lock classes, weakest first; SQLite's two
_MYSQL = ("instant", "inplace", "copy")
_SQLITE = ("shared (database)", WRITE_LOCK)
# findings that already say "this statement rewrites the table"
_REWRITE_CODES = frozenset({"SS002", "squawk:changing-column-type", "squawk:adding-field-with-default"})


def _rank(dialect: str, lock: str | None) -> int:
    """How strong a lock is in its database's order (-1: none or unknown)."""
    order: tuple[str, ...] = {"postgresql": MODES, "mysql": _MYSQL}.get(dialect, _SQLITE)
    return order.index(lock) if lock in order else -1


def _blocks_writes(dialect: str, lock: str) -> bool:
    if dialect == "postgresql":
        return _rank(dialect, lock) >= MODES.index("SHARE")
    return lock in ("copy", WRITE_LOCK)


def _declared(dialect: str, stmt: Statement) -> str | None:
    level = lock_level(stmt)
    return level.algorithm if dialect == "mysql" else level.lock


def judge(
    statements: list[Statement],
    findings: list[Finding],
    observed: Mapping[int, Seen],
    settings: LintSettings,
    sizes: Mapping[str, TableSize] | None,
) -> list[Finding]:
    """SS097 findings: per linted item (``Statement.index``), what it was seen to take beyond
    what the lint declared for it (the strongest of its statements, a DO block's inner ones too)."""
    if OBSERVED_LOCK in settings.disable or not statements:
        return []
    dialect = statements[0].dialect
    declared_rewrite = _RewritesDeclared(findings)
    out: list[Finding] = []
    for index, seen in sorted(observed.items()):
        own = [s for s in statements if s.index == index and not s.comment_only]
        if not own:
            continue
        first = own[0]
        declared = max((_declared(dialect, s) for s in own), key=lambda lock: _rank(dialect, lock))
        lock = _strongest(dialect, seen.locks)
        if lock is not None and _blocks_writes(dialect, lock.mode) and _rank(dialect, lock.mode) > _rank(dialect, declared):
            table = first.table if lock.relation.startswith("(") else (lock.table or lock.relation)
            if _existed(table, sizes):
                message = _lock_message(dialect, lock, table, declared, first)
                out.append(_finding(first, table, message, _lock_advice(dialect), settings, sizes))
        if first.kind == "TRUNCATE":
            continue  # it swaps in empty storage: nothing is copied
        for table in seen.rewrote:
            if not declared_rewrite(index, table) and _existed(table, sizes):
                message = f"rewrote {table}: every row was copied into new storage, which the lint did not flag"
                advice = (
                    "rewrite in a quiet window, or expand, backfill, contract: a new column filled in batches, "
                    f"then swapped in; accept it with -- safeshift: allow {OBSERVED_LOCK} because <reason>"
                )
                out.append(_finding(first, table, message, advice, settings, sizes))
    return out


class _RewritesDeclared:
    """Whether the lint said a statement rewrites a table: a rewrite finding on the statement, or
    on the table at an earlier statement of the same rebuild (SQLite's batch mode is flagged at
    its copy, and seen where the new table is renamed into place). Each finding covers one rewrite."""

    def __init__(self, findings: list[Finding]) -> None:
        self._left = sorted(
            (f.statement, (f.table or "").lower()) for f in findings if f.code in _REWRITE_CODES and f.statement is not None
        )

    def __call__(self, index: int, table: str) -> bool:
        for at, (statement, named) in enumerate(self._left):
            if statement == index or (named == table.lower() and statement <= index):
                del self._left[at]
                return True
        return False


def _strongest(dialect: str, locks: list[HeldLock]) -> HeldLock | None:
    return max(locks, key=lambda lock: _rank(dialect, lock.mode), default=None)


def _existed(table: str | None, sizes: Mapping[str, TableSize] | None) -> bool:
    """Whether the live database has the table: a lock on one the migration creates blocks nobody."""
    return sizes is None or table is None or table.lower() in sizes


def _lock_message(dialect: str, lock: HeldLock, table: str | None, declared: str | None, stmt: Statement) -> str:
    said = declared or "no lock"
    if dialect == "mysql":
        return (
            f"the server needs a table copy for this {stmt.kind} on {table or 'its table'} (it refused INSTANT and "
            f"INPLACE with LOCK=NONE); the lint guessed {said}: writes wait for the whole copy"
        )
    if dialect == "sqlite":
        return f"took the {WRITE_LOCK}, though the lint declared {said} for this {stmt.kind}: every other writer waits"
    on = lock.relation if lock.table in (None, lock.relation) else f"{lock.relation} (of {lock.table})"
    return f"observed {lock.mode} on {on}, though the lint declared {said} for this {stmt.kind}"


def _lock_advice(dialect: str) -> str:
    accept = f"; accept it with -- safeshift: allow {OBSERVED_LOCK} because <reason>"
    if dialect == "mysql":
        return (
            "state the algorithm, so the server refuses instead of copying (ALGORITHM=INPLACE, LOCK=NONE), or "
            "copy in chunks with gh-ost / pt-online-schema-change" + accept
        )
    return (
        "the statement locks more than its text says (a function, DO block, trigger or rule runs more): make "
        "the hidden DDL its own reviewed statement, or run it in a quiet window with a short lock_timeout" + accept
    )


def _finding(
    stmt: Statement, table: str | None, message: str, advice: str, settings: LintSettings,
    sizes: Mapping[str, TableSize] | None,
) -> Finding:
    size = sizes.get(table.lower()) if sizes is not None and table else None
    rows = size.estimated_rows if size is not None else None
    note = f" [{size.describe()}]" if size is not None else " [table size unknown]"
    return Finding(
        code=OBSERVED_LOCK,
        name=NAME,
        severity=settings.severity_for_rows(rows),
        message=message + note,
        statement=stmt.index,
        table=table,
        suggestion=advice,
        line=stmt.line + 1,
    )


# -- the migration's justifications, carried over to what ran ----------------------------------


def carried_suppressions(rendered: list[str], dialect: str) -> dict[str, list[str]]:
    """The ``safeshift: allow`` comments of the migration as rendered, by the statement they cover.

    They are comments: what runs online does not carry them (Alembic emits them in offline mode
    only, a SQL file's notes above a statement are not sent), yet they justify the same statement
    run on a copy. Keyed by the statement's code (comments out, string contents blanked, blanks
    folded), so a literal rendered offline and a parameter written in match.
    """
    carried: dict[str, list[str]] = {}
    pending: list[str] = []
    for item in rendered:
        scanned = _scan(item, dialect)
        allows = [c.text for c in scanned.comments if c.text.lower().startswith("safeshift:")]
        if not scanned.code:
            pending += allows  # a comment-only item covers the next statement
            continue
        if pending or allows:
            carried.setdefault(_key(scanned.code), []).extend(pending + allows)
        pending = []
    return carried


def with_carried(text: str, carried: dict[str, list[str]], dialect: str) -> str:
    """``text`` with the suppressions the rendered migration wrote for it, as comments above it."""
    allows = carried.get(_key(_scan(text, dialect).code))
    return "\n".join([*(f"-- {a}" for a in allows), text]) if allows else text


def _scan(text: str, dialect: str) -> Any:
    mysql = dialect == "mysql"
    return scan(text, hash_comments=mysql, backslash_escapes=mysql)


def _key(code: str) -> str:
    return code.strip().rstrip(";").strip().lower()


# -- a captured statement as text the lint (and a person) can read ------------------------------


def inline_parameters(statement: str, parameters: Any, paramstyle: str, dialect: str) -> str:
    """``statement`` with its bound parameters written in as literals, for reading and linting
    only (what ran is the statement and its parameters as captured; this text is never run).

    ``parameters`` as the DB-API got them (a list of sets for executemany: the first is shown).
    ``pyformat``/``format`` drivers substitute textually, ``%%`` included; the others bind
    placeholders outside strings and comments only. Anything that does not fit: unchanged.
    """
    if isinstance(parameters, list):
        parameters = parameters[0] if parameters else None
    if parameters is None:
        return statement
    try:
        if paramstyle in ("pyformat", "format"):
            return _percent(statement, parameters, dialect)
        return _placeholders(statement, parameters, paramstyle, dialect)
    except (KeyError, IndexError, StopIteration, TypeError):
        return statement


def _percent(statement: str, parameters: Any, dialect: str) -> str:
    positional: Iterator[Any] = iter(parameters) if isinstance(parameters, list | tuple) else iter(())

    def value(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        if m.group(1) is not None:
            return literal(parameters[m.group(1)], dialect)
        return literal(next(positional), dialect)

    return re.sub(r"%%|%\(([^)]+)\)s|%s", value, statement)


def _placeholders(statement: str, parameters: Any, paramstyle: str, dialect: str) -> str:
    masked = _scan(statement, dialect).masked
    pattern = {"qmark": r"\?", "named": r"(?<![:\w]):([A-Za-z_]\w*)", "numeric": r"(?<![:\w]):(\d+)"}.get(paramstyle)
    if pattern is None:
        return statement
    positional = iter(parameters) if isinstance(parameters, list | tuple) else iter(())
    out: list[str] = []
    last = 0
    for m in re.finditer(pattern, masked):
        if paramstyle == "qmark":
            value = next(positional)
        elif paramstyle == "numeric":
            value = parameters[int(m.group(1)) - 1]
        else:
            value = parameters[m.group(1)]
        out += [statement[last : m.start()], literal(value, dialect)]
        last = m.end()
    return "".join(out) + statement[last:]


def literal(value: Any, dialect: str) -> str:
    """A value as a SQL literal of ``dialect``, for reading (see :func:`inline_parameters`)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("1" if value else "0") if dialect == "sqlite" else ("TRUE" if value else "FALSE")
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"X'{bytes(value).hex()}'"
    if isinstance(value, _dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, _dt.date | _dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    if dialect == "mysql":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"
