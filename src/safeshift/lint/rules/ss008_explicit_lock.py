"""SS008: a statement that asks for a blocking lock outright."""

from __future__ import annotations

from collections.abc import Iterable

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement


@register
class ExplicitBlockingLock(Rule):
    """A lock requested explicitly: ``LOCK TABLE(S)`` or MySQL's ``LOCK=SHARED``/``EXCLUSIVE``.

    *Anti-pattern*: PostgreSQL ``LOCK TABLE t`` (ACCESS EXCLUSIVE unless a mode is named),
    MySQL/MariaDB ``LOCK TABLES t WRITE`` or an ALTER with ``LOCK=EXCLUSIVE`` (no reads, no
    writes) or ``LOCK=SHARED`` (no writes) for the whole operation, even one the server could
    do online.

    *Best practice*: let the server take the weakest lock: MySQL/MariaDB ``LOCK=NONE`` (the
    server refuses if it cannot, instead of blocking); PostgreSQL: no explicit LOCK TABLE in a
    migration (safeshift's apply session sets ``lock_timeout``).
    """

    code = "SS008"
    name = "explicit-blocking-lock"
    dialects = frozenset({"postgresql", "mysql"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if ctx.is_fresh(table):
            return
        if stmt.kind == "LOCK TABLE":
            if stmt.dialect == "postgresql":
                weak = stmt.has(r"\bIN\s+(ACCESS\s+SHARE|ROW\s+SHARE|ROW\s+EXCLUSIVE|SHARE\s+UPDATE\s+EXCLUSIVE)\s+MODE\b")
                total = not stmt.has(r"\bMODE\b") or stmt.has(r"\bACCESS\s+EXCLUSIVE\b")
                if not weak:
                    yield Hit(
                        f"LOCK TABLE {table} blocks {'reads and writes' if total else 'writes'} until the transaction ends",
                        table,
                        suggestion="remove the LOCK TABLE: each statement takes the lock it needs, bounded by safeshift's lock_timeout",
                    )
            else:
                write = stmt.has(r"\bWRITE\b")
                yield Hit(
                    f"LOCK TABLES {table} blocks {'reads and writes' if write else 'writes'} until UNLOCK TABLES",
                    table,
                    suggestion="remove LOCK TABLES: run the ALTER with ALGORITHM=INPLACE, LOCK=NONE instead",
                )
            return
        if stmt.dialect != "mysql" or stmt.kind not in ("ALTER TABLE", "CREATE INDEX", "DROP INDEX"):
            return
        lock = stmt.options.get("LOCK")
        if lock not in ("SHARED", "EXCLUSIVE"):
            return
        if stmt.kind == "CREATE INDEX" or stmt.has(r"\bADD\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?(INDEX|KEY)\b"):
            return  # SS001 reports the index build
        blocks = "reads and writes" if lock == "EXCLUSIVE" else "writes"
        yield Hit(
            f"LOCK={lock} on {table}: {blocks} wait for the whole ALTER, even where the server could run it online",
            table,
            suggestion="use LOCK=NONE (with ALGORITHM=INSTANT or INPLACE): the server refuses instead of blocking; "
            "if it refuses, use gh-ost or pt-online-schema-change",
        )
