"""SS007: an UPDATE or DELETE of the whole table in one statement."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import backfill_snippet
from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement


def _trivial(where: exp.Expression | None) -> bool:
    """No WHERE, or one that is always true (``WHERE 1 = 1``, ``WHERE TRUE``)."""
    if where is None:
        return True
    cond = where.this if isinstance(where, exp.Where) else where
    if isinstance(cond, exp.Boolean):
        return bool(cond.this)
    if isinstance(cond, exp.EQ) and isinstance(cond.left, exp.Literal) and isinstance(cond.right, exp.Literal):
        return bool(cond.left.this == cond.right.this)
    return False


@register
class UnbatchedDml(Rule):
    """UPDATE or DELETE without WHERE: every row locked in one long transaction.

    *Anti-pattern*: a backfill such as ``UPDATE users SET family_id = ...`` over the whole
    table in one statement: it locks every row until commit (writers to any row wait), bloats
    undo/WAL, lags replicas, and on SQLite holds the database write lock throughout.

    *Best practice*: a batched backfill: walk the primary key in ranges of a few thousand
    rows (``WHERE id > :last AND id <= :last + 5000``), commit each batch, pause between
    batches; make it idempotent so it can resume.
    """

    code = "SS007"
    name = "unbatched-whole-table-dml"
    suggestion = "backfill in primary-key batches of a few thousand rows, committing each batch"

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if stmt.kind not in ("UPDATE", "DELETE") or ctx.is_fresh(table):
            return
        if isinstance(stmt.tree, exp.Update | exp.Delete):
            if not _trivial(stmt.tree.args.get("where")):
                return
            if stmt.tree.args.get("limit") is not None:
                return  # a batch (MySQL UPDATE ... LIMIT n)
        elif stmt.has(r"\bWHERE\b") or stmt.has(r"\bLIMIT\b"):
            return
        verb = "updates" if stmt.kind == "UPDATE" else "deletes"
        yield Hit(f"{stmt.kind} without WHERE {verb} every row of {table or 'the table'} in one transaction", table, suggestion=_advice(stmt))


_SQLGLOT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def _advice(stmt: Statement) -> str:
    """The UPDATE as a batched backfill in the plan; a DELETE as a loop of small deletes."""
    t = stmt.table or "<table>"
    if isinstance(stmt.tree, exp.Update):
        dialect = _SQLGLOT[stmt.dialect]
        assignments = {
            e.this.sql(dialect): e.expression.sql(dialect) for e in stmt.tree.expressions if isinstance(e, exp.EQ)
        }
        if assignments:
            return "\n".join(
                [
                    "take it out of the migration and let safeshift run it in primary-key batches, each committed: add to safeshift.toml",
                    backfill_snippet(t, assignments),
                    '(it runs after the upgrade; after = "<revision>" runs it between revisions)',
                ]
            )
    if stmt.kind == "DELETE":
        # advice shown to a person, never executed
        mysql = f"DELETE FROM {t} LIMIT 5000;"  # noqa: S608
        other = f"DELETE FROM {t} WHERE id IN (SELECT id FROM {t} LIMIT 5000);"  # noqa: S608
        batch = mysql if stmt.dialect == "mysql" else other
        return f"delete in batches, each its own transaction, until none is left: {batch}"
    return UnbatchedDml.suggestion
