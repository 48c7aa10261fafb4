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
    On MySQL/MariaDB a ``CREATE INDEX`` or ``ALTER TABLE ... ADD INDEX`` without
    ``ALGORITHM=INPLACE, LOCK=NONE`` lets the server silently pick a locking algorithm when
    it cannot build online. SQLite holds the database write lock for the whole build.

    *Best practice*: PostgreSQL: ``CREATE INDEX CONCURRENTLY`` outside a transaction
    (Alembic: ``with op.get_context().autocommit_block()``), then check the index is valid.
    MySQL/MariaDB: state ``ALGORITHM=INPLACE, LOCK=NONE`` (``LOCK=NONE`` or MariaDB's
    ``ALTER ONLINE`` is what matters) so the server refuses instead of locking. SQLite: build indexes on big tables in a quiet window.
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
            if lock == "NONE" and algorithm in (None, "DEFAULT", *_ONLINE_ALGORITHMS):
                return  # LOCK=NONE rules out a copy: the server refuses rather than blocks
            stated = ", ".join(f"{k}={v}" for k, v in sorted(stmt.options.items())) or "no ALGORITHM/LOCK clause"
            yield Hit(
                f"index build on {table or 'a table'} with {stated}: the server may pick a locking algorithm that blocks writes",
                table,
                suggestion="add ALGORITHM=INPLACE, LOCK=NONE so the server refuses rather than blocks writes",
            )
        elif stmt.kind == "CREATE INDEX":
            yield Hit(
                f"CREATE INDEX on {table or 'a table'} holds the SQLite database write lock for the whole build",
                table,
                suggestion="SQLite cannot build an index online: run it in a quiet window or accept the pause",
            )
