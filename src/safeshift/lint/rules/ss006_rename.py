"""SS006: a table or column rename."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import expand_backfill_contract, keep_old_table_name
from safeshift.lint.context import LintContext, renamed_to
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement


@register
class Rename(Rule):
    """A table or column rename, which the running application version does not know about.

    *Anti-pattern*: ``ALTER TABLE ... RENAME TO``, ``RENAME COLUMN``, MySQL ``CHANGE COLUMN
    old new`` or ``RENAME TABLE``: between the migration's commit and the new release being
    everywhere, every query of the old code that names the old name fails.

    *Best practice*: expand and contract: add the new column (or a view with the new table
    name), write both, backfill, switch reads, and drop the old name in a later release.
    """

    code = "SS006"
    name = "rename-breaks-running-app"
    squawk_rules = frozenset({"renaming-column", "renaming-table"})
    suggestion = "expand and contract: add the new name, write both, backfill, switch reads, drop the old name in a later release"

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if ctx.is_fresh(table) or ctx.rebuild_at(stmt.pos) is not None:
            return
        if stmt.kind == "RENAME TABLE":
            yield Hit(
                f"RENAME TABLE {table}: the running application still uses the old name",
                table,
                severity="error",
                suggestion=keep_old_table_name(stmt.dialect, table, _renamed_to(stmt)),
            )
            return
        if stmt.kind != "ALTER TABLE":
            return
        new_table = renamed_to(stmt)
        if new_table:
            yield Hit(
                f"renames table {table} to {new_table}: the running application still uses {table}",
                table,
                severity="error",
                suggestion=keep_old_table_name(stmt.dialect, table, new_table),
            )
        for action in stmt.actions:
            if isinstance(action, exp.RenameColumn):
                old, new = action.this.name, action.args["to"].name
                yield Hit(
                    f"renames column {table}.{old} to {new}: the running application still uses {old}",
                    table,
                    severity="error",
                    suggestion=expand_backfill_contract(stmt.dialect, table, old, "<type of " + old + ">", ctx.version, new=new, value=old),
                )
            elif isinstance(action, exp.ModifyColumn) and action.args.get("rename_from") is not None:
                old, new = action.args["rename_from"].name, action.this.name
                kind = action.this.args.get("kind") if isinstance(action.this, exp.ColumnDef) else None
                new_type = kind.sql("mysql") if isinstance(kind, exp.DataType) else f"<type of {old}>"
                if old.lower() != new.lower():
                    yield Hit(
                        f"CHANGE COLUMN renames {table}.{old} to {new}: the running application still uses {old}",
                        table,
                        severity="error",
                        suggestion=expand_backfill_contract(stmt.dialect, table, old, new_type, ctx.version, new=new, value=old),
                    )
        if not stmt.actions and (stmt.tree is None or isinstance(stmt.tree, exp.Command)) and stmt.has(r"\bRENAME\b"):
            yield Hit(f"renames something on {table}: the running application still uses the old name", table, severity="error")


def _renamed_to(stmt: Statement) -> str | None:
    """``RENAME TABLE a TO b``: b (the first pair only)."""
    m = re.search(r"\bRENAME\s+TABLES?\s+\S+\s+TO\s+([^\s,;]+)", stmt.masked, re.IGNORECASE)
    return stmt.sql[m.start(1) : m.end(1)] if m else None
