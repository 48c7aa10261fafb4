"""SS001: an index build that blocks writes for as long as it takes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement

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

    *Best practice*: PostgreSQL: ``CREATE INDEX CONCURRENTLY`` outside a transaction
    (Alembic: ``with op.get_context().autocommit_block()``), then check the index is valid.
    MySQL/MariaDB: ``ALGORITHM=INPLACE, LOCK=NONE`` (or MariaDB's ``ALTER ONLINE``) so the
    server refuses instead of locking; FULLTEXT/SPATIAL indexes through gh-ost or
    pt-online-schema-change. SQLite: build indexes on big tables in a quiet window.
    """

    code = "SS001"
    name = "blocking-index-creation"
    squawk_rules = frozenset({"require-concurrent-index-creation"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if ctx.is_fresh(table):
            return
        if stmt.dialect == "postgresql":
            if stmt.kind != "CREATE INDEX":
                return
            concurrent = bool(stmt.tree.args.get("concurrently")) if isinstance(stmt.tree, exp.Create) else stmt.has(r"\bCONCURRENTLY\b")
            if not concurrent:
                yield Hit(
                    f"CREATE INDEX on {table or 'a table'} without CONCURRENTLY blocks every write to it until the index is built",
                    table,
                    suggestion="CREATE INDEX CONCURRENTLY outside a transaction (Alembic: autocommit_block()), then check pg_index.indisvalid",
                )
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
                    suggestion=f"build it with an online schema-change tool that copies the table in chunks: "
                    f"gh-ost --alter=\"ADD {what} INDEX ...\" or pt-online-schema-change --alter \"ADD {what} INDEX ...\" D={{db}},t={table or '<table>'}",
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
