"""SS006: a table or column rename."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

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
            yield Hit(f"RENAME TABLE {table}: the running application still uses the old name", table, severity="error")
            return
        if stmt.kind != "ALTER TABLE":
            return
        new_table = renamed_to(stmt)
        if new_table:
            yield Hit(f"renames table {table} to {new_table}: the running application still uses {table}", table, severity="error")
        for action in stmt.actions:
            if isinstance(action, exp.RenameColumn):
                old, new = action.this.name, action.args["to"].name
                yield Hit(f"renames column {table}.{old} to {new}: the running application still uses {old}", table, severity="error")
            elif isinstance(action, exp.ModifyColumn) and action.args.get("rename_from") is not None:
                old, new = action.args["rename_from"].name, action.this.name
                if old.lower() != new.lower():
                    yield Hit(f"CHANGE COLUMN renames {table}.{old} to {new}: the running application still uses {old}", table, severity="error")
        if not stmt.actions and (stmt.tree is None or isinstance(stmt.tree, exp.Command)) and stmt.has(r"\bRENAME\b"):
            yield Hit(f"renames something on {table}: the running application still uses the old name", table, severity="error")
