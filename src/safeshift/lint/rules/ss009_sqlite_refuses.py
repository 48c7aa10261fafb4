"""SS009: an ALTER TABLE ... ADD COLUMN that SQLite refuses."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement


def _refusals(column: exp.ColumnDef) -> list[str]:
    """Why SQLite's ADD COLUMN refuses this column (empty: it accepts it)."""
    why: list[str] = []
    for constraint in column.args.get("constraints") or []:
        kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
        if isinstance(kind, exp.UniqueColumnConstraint):
            why.append("a UNIQUE column")
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            why.append("a PRIMARY KEY column")
        elif isinstance(kind, exp.ComputedColumnConstraint) and kind.args.get("persisted"):
            why.append("a STORED generated column")
        elif isinstance(kind, exp.DefaultColumnConstraint):
            value = kind.this
            if isinstance(value, exp.CurrentTimestamp | exp.CurrentDate | exp.CurrentTime) or (
                isinstance(value, exp.Column) and value.name.upper() in ("CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME")
            ):
                why.append("a default of CURRENT_TIME/DATE/TIMESTAMP")
            elif isinstance(value, exp.Paren):
                why.append("a default that is an expression in parentheses")
    return why


@register
class SqliteRefusesAddColumn(Rule):
    """``ALTER TABLE ... ADD COLUMN`` that SQLite refuses outright: the migration fails.

    *Anti-pattern*: ADD COLUMN with UNIQUE or PRIMARY KEY, a STORED generated column, or a
    non-constant default (CURRENT_TIMESTAMP, an expression in parentheses): SQLite's ALTER
    TABLE cannot fill existing rows with them and stops with an error.

    *Best practice*: add the column plain (nullable or with a constant default), then
    ``CREATE UNIQUE INDEX`` for uniqueness, a trigger or the application for computed values;
    or rebuild the table (Alembic batch mode: ``with op.batch_alter_table(...)``).
    """

    code = "SS009"
    name = "sqlite-refuses-add-column"
    dialects = frozenset({"sqlite"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        if stmt.kind != "ALTER TABLE":
            return
        for column in stmt.actions:
            if not isinstance(column, exp.ColumnDef):
                continue
            why = _refusals(column)
            if why:
                yield Hit(
                    f"SQLite refuses ADD COLUMN {column.name} on {stmt.table}: {', '.join(why)}; the migration fails here",
                    stmt.table,
                    severity="error",
                    suggestion=f"ALTER TABLE {stmt.table} ADD COLUMN {column.name} {column.args.get('kind') or ''} NULL;"
                    + (f" then CREATE UNIQUE INDEX ux_{stmt.table}_{column.name} ON {stmt.table} ({column.name});" if "a UNIQUE column" in why else "")
                    + " or rebuild the table (Alembic batch_alter_table)",
                )
