"""SS001: an index build that blocks writes for as long as it takes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import index_constraint_advice, no_online_alter
from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement
from safeshift.lint.version import pg_reindex_concurrently

_ONLINE_ALGORITHMS = ("INPLACE", "NOCOPY", "INSTANT")


def _adds_index(stmt: Statement) -> bool:
    """ALTER TABLE ... ADD INDEX / KEY / UNIQUE / FULLTEXT / SPATIAL (MySQL)."""
    for action in stmt.actions:
        if isinstance(action, exp.AddConstraint):
            for part in action.expressions:
                if isinstance(part, exp.IndexColumnConstraint | exp.UniqueColumnConstraint):
                    return True
    if stmt.tree is None or isinstance(stmt.tree, exp.Command):
        return stmt.kind == "ALTER TABLE" and stmt.has(r"\bADD\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?(INDEX|KEY)\b")
    return False


@register
class BlockingIndexCreation(Rule):
    """Index creation that blocks writes to the table while the index builds.

    *Anti-pattern*: PostgreSQL ``CREATE INDEX`` without ``CONCURRENTLY`` holds a SHARE
    lock: reads go on, every INSERT/UPDATE/DELETE waits until the whole table is indexed.
    On MySQL/MariaDB InnoDB builds a plain secondary index online by default, but a
    FULLTEXT or SPATIAL index, ``LOCK=SHARED``/``EXCLUSIVE`` or ``ALGORITHM=COPY`` blocks
    writes for the whole build. SQLite holds the database write lock for the whole build.

    PostgreSQL ``REINDEX`` without ``CONCURRENTLY`` blocks writes and the reads that use the
    index; ``ADD CONSTRAINT ... UNIQUE | PRIMARY KEY`` builds its index under ACCESS EXCLUSIVE.

    *Best practice*: PostgreSQL: ``CREATE INDEX CONCURRENTLY`` outside a transaction
    (Alembic: ``with op.get_context().autocommit_block()``), then check the index is valid;
    ``REINDEX ... CONCURRENTLY`` (12+; before: build a new index concurrently and swap);
    constraints ``USING INDEX`` of an index built concurrently.
    MySQL/MariaDB: ``ALGORITHM=INPLACE, LOCK=NONE`` (or MariaDB's ``ALTER ONLINE``) so the
    server refuses instead of locking; FULLTEXT/SPATIAL indexes through gh-ost or
    pt-online-schema-change. SQLite: build indexes on big tables in a quiet window.
    """

    code = "SS001"
    name = "blocking-index-creation"
    squawk_rules = frozenset({"require-concurrent-index-creation", "require-concurrent-reindex", "disallowed-unique-constraint"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if ctx.is_fresh(table):
            return
        if stmt.dialect == "postgresql":
            yield from _postgresql(stmt, ctx)
        elif stmt.dialect == "mysql":
            if stmt.kind != "CREATE INDEX" and not (stmt.kind == "ALTER TABLE" and _adds_index(stmt)):
                return
            algorithm = stmt.options.get("ALGORITHM")
            lock = stmt.options.get("LOCK")
            special = stmt.has(r"\b(FULLTEXT|SPATIAL)\b")
            if lock == "NONE" and algorithm in (None, "DEFAULT", *_ONLINE_ALGORITHMS):
                return  # LOCK=NONE rules out a copy: the server refuses rather than blocks
            if not special and lock in (None, "DEFAULT") and algorithm in (None, "DEFAULT", "INPLACE", "NOCOPY"):
                return  # InnoDB builds a secondary index in place with concurrent DML by default
            if special:
                what = "FULLTEXT" if stmt.has(r"\bFULLTEXT\b") else "SPATIAL"
                yield Hit(
                    f"a {what} index on {table or 'a table'} cannot be built with LOCK=NONE: InnoDB blocks writes "
                    "for the whole build (the first FULLTEXT index also rebuilds the table)",
                    table,
                    suggestion=no_online_alter(table, _as_alter(stmt), ctx.version),
                )
                return
            stated = ", ".join(f"{k}={v}" for k, v in sorted(stmt.options.items()))
            yield Hit(
                f"index build on {table or 'a table'} with {stated}: writes to it wait for the whole build",
                table,
                suggestion="drop the clause (InnoDB builds secondary indexes online) or state ALGORITHM=INPLACE, LOCK=NONE",
            )
        elif stmt.kind == "CREATE INDEX":
            yield Hit(
                f"CREATE INDEX on {table or 'a table'} holds the SQLite database write lock for the whole build",
                table,
                suggestion="SQLite cannot build an index online: run it in a quiet window or accept the pause",
            )


_CREATE_INDEX = re.compile(r"^(\s*CREATE\s+(?:UNIQUE\s+)?INDEX)\b", re.IGNORECASE)
_REINDEX = re.compile(r"^(\s*REINDEX\b(?:\s*\([^)]*\))?\s+(?:TABLE|INDEX|SCHEMA|DATABASE|SYSTEM)\b)", re.IGNORECASE)


def _one_line(sql: str) -> str:
    return " ".join(sql.split()).rstrip("; ")


def _as_alter(stmt: Statement) -> str:
    """``CREATE FULLTEXT INDEX ix ON t (c)`` as the ALTER an online tool runs: ``ADD FULLTEXT INDEX ix (c)``."""
    text = _one_line(stmt.scanned.stripped)
    m = re.match(r"CREATE\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(\S+)\s+ON\s+\S+\s*(\(.*\))", text, re.IGNORECASE)
    if m:
        return f"ADD {(m.group(1) or '').upper()}INDEX {m.group(2)} {m.group(3)}"
    return re.sub(r"^ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+\S+\s*", "", text, flags=re.IGNORECASE)


def _postgresql(stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
    table = stmt.table
    if stmt.kind == "CREATE INDEX":
        concurrent = bool(stmt.tree.args.get("concurrently")) if isinstance(stmt.tree, exp.Create) else stmt.has(r"\bCONCURRENTLY\b")
        if not concurrent:
            written = _CREATE_INDEX.sub(r"\1 CONCURRENTLY", _one_line(stmt.scanned.stripped), count=1)
            yield Hit(
                f"CREATE INDEX on {table or 'a table'} without CONCURRENTLY blocks every write to it until the index is built",
                table,
                suggestion=f"{written}; outside a transaction (Alembic: with op.get_context().autocommit_block():); "
                "if it fails it leaves an INVALID index: DROP INDEX CONCURRENTLY it and run it again",
            )
    elif stmt.kind == "REINDEX":
        yield from _reindex(stmt, ctx)
    elif stmt.kind == "ALTER TABLE":
        advice = index_constraint_advice(stmt)
        if advice is not None and "NOT VALID does not apply" in advice:
            yield Hit(
                f"ADD CONSTRAINT on {table} builds its unique index under ACCESS EXCLUSIVE: no reads, no writes until it is built",
                table,
                suggestion=advice.split(": ", 1)[1],
            )


def _reindex(stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
    table, version = stmt.table, ctx.version
    one_line = _one_line(stmt.scanned.stripped)
    if stmt.has(r"\bCONCURRENTLY\b"):
        if not pg_reindex_concurrently(version):
            yield Hit(
                f"{version.label} has no REINDEX CONCURRENTLY (PostgreSQL 12 added it): the server refuses it and the migration fails",
                table,
                severity="error",
                suggestion=_rebuild_index(stmt),
            )
        return
    if pg_reindex_concurrently(version):
        advice = _REINDEX.sub(r"\1 CONCURRENTLY", one_line, count=1) + "; outside a transaction"
    else:
        advice = f"{version.label} has no REINDEX CONCURRENTLY: {_rebuild_index(stmt)}"
    yield Hit(
        f"REINDEX of {table or 'an index'} without CONCURRENTLY blocks writes to the table, and every read that uses the index, "
        "until the rebuild ends",
        table,
        suggestion=advice,
    )


def _rebuild_index(stmt: Statement) -> str:
    if not stmt.has(r"^\s*REINDEX\b(?:\s*\([^)]*\))?\s+INDEX\b"):
        t = stmt.table or "<table>"
        return f"rebuild each index of {t} as a copy swapped in (CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, ALTER INDEX ... RENAME), or pg_repack --table={t} --only-indexes"
    ix = stmt.table or "<index>"
    return (
        f"build a copy and swap it in: CREATE INDEX CONCURRENTLY {ix}_new ON <table> (<the same columns>); "
        f"DROP INDEX CONCURRENTLY {ix}; ALTER INDEX {ix}_new RENAME TO {ix}; (or pg_repack --index={ix})"
    )
