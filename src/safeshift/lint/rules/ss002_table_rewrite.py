"""SS002: a statement that copies or rewrites the whole table."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement

_ONLINE_ALGORITHMS = ("INPLACE", "NOCOPY", "INSTANT")


def _type_changes(stmt: Statement) -> list[str]:
    """Columns whose type an ALTER TABLE sets (PostgreSQL ALTER COLUMN TYPE, MySQL MODIFY/CHANGE)."""
    columns: list[str] = []
    for action in stmt.actions:
        if isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
            columns.append(action.name)
        elif isinstance(action, exp.ModifyColumn):
            definition = action.this
            if isinstance(definition, exp.ColumnDef) and definition.args.get("kind") is not None:
                columns.append(definition.name)
    if not columns and isinstance(stmt.tree, exp.Command | type(None)) and stmt.kind == "ALTER TABLE":
        if stmt.has(r"\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b") or stmt.has(r"\b(MODIFY|CHANGE)\b"):
            columns.append("a column")
    return columns


@register
class TableRewrite(Rule):
    """A column type change or other statement that copies every row of the table.

    *Anti-pattern*: ``ALTER COLUMN ... TYPE`` (PostgreSQL), ``MODIFY``/``CHANGE COLUMN``
    with a new type, ``ALGORITHM=COPY``, ``CONVERT TO CHARACTER SET``, ``OPTIMIZE TABLE``
    (MySQL/MariaDB), ``VACUUM FULL``/``CLUSTER`` (PostgreSQL), or SQLite's copy-and-swap
    table rebuild: the table is rewritten while writers (and on PostgreSQL readers) wait.

    *Best practice*: expand and contract: add a new column of the new type, backfill it in
    batches, switch the application, drop the old column in a later release. On
    MySQL/MariaDB, state ``ALGORITHM=INPLACE, LOCK=NONE`` (or INSTANT) so the server refuses
    a copy, and learn the real class with ``probe_lock_class`` on a rehearsal copy.
    """

    code = "SS002"
    name = "table-rewrite"
    squawk_rules = frozenset({"changing-column-type"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        rebuild = ctx.rebuild_at(stmt.pos)
        if rebuild is not None:
            if stmt.pos == rebuild.copy and not ctx.is_fresh(rebuild.table):
                yield Hit(
                    f"rebuilds {rebuild.table} by copying every row into {rebuild.temp}, then drops and renames: "
                    "writers wait for the whole copy",
                    rebuild.table,
                    suggestion="run table rebuilds in a quiet window; on SQLite prefer ALTER TABLE ADD/RENAME/DROP COLUMN, which need no copy",
                )
            return
        if ctx.is_fresh(table):
            return
        if stmt.kind in ("VACUUM", "CLUSTER") and stmt.dialect == "postgresql":
            if stmt.kind == "CLUSTER" or stmt.has(r"\bFULL\b"):
                yield Hit(
                    f"{stmt.kind}{' FULL' if stmt.kind == 'VACUUM' else ''} rewrites {table or 'tables'} under an ACCESS EXCLUSIVE lock: no reads, no writes",
                    table,
                    suggestion="use pg_repack (online) or plain VACUUM; never VACUUM FULL/CLUSTER a live table",
                )
            return
        if stmt.kind == "OPTIMIZE TABLE":
            yield Hit(f"OPTIMIZE TABLE rebuilds {table or 'the table'} by copying it", table)
            return
        if stmt.kind != "ALTER TABLE":
            return
        algorithm = stmt.options.get("ALGORITHM")
        if stmt.dialect == "mysql" and algorithm == "COPY":
            yield Hit(f"ALGORITHM=COPY rebuilds {table} by copying every row while writes wait", table)
            return
        if stmt.dialect == "mysql" and stmt.has(r"\bCONVERT\s+TO\s+(CHARACTER\s+SET|CHARSET)\b"):
            yield Hit(f"CONVERT TO CHARACTER SET copies {table} and rewrites every text column", table)
            return
        columns = _type_changes(stmt)
        if not columns:
            return
        if stmt.dialect == "mysql" and algorithm in _ONLINE_ALGORITHMS:
            return  # the server refuses it if it would need a copy
        if stmt.dialect == "sqlite":
            return  # SQLite has no ALTER COLUMN TYPE; batch rebuilds are judged above
        what = ", ".join(columns)
        guess = " (best guess: confirm with probe_lock_class on a rehearsal copy)" if stmt.dialect == "mysql" else ""
        yield Hit(f"changing the type of {what} copies {table} while writes wait{guess}", table)
