"""SS003: a new NOT NULL column without a default."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement


def _required_columns(stmt: Statement) -> list[str]:
    """Columns added NOT NULL with no (non-NULL) default and no generated value."""
    found: list[str] = []
    for action in stmt.actions:
        if not isinstance(action, exp.ColumnDef):
            continue
        not_null = has_default = False
        for constraint in action.args.get("constraints") or []:
            kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
            if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
                not_null = True
            elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                not_null = True
            elif isinstance(kind, exp.DefaultColumnConstraint) and not isinstance(kind.this, exp.Null):
                has_default = True
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint | exp.ComputedColumnConstraint | exp.AutoIncrementColumnConstraint):
                has_default = True
        if not_null and not has_default:
            found.append(action.name)
    return found


def _advice(stmt: Statement, column: str) -> str:
    """The safe sequence, as SQL for the statement's dialect."""
    t = stmt.table or "<table>"
    c = column if column != "a column" else "<column>"
    if stmt.dialect == "postgresql":
        return (
            f"ALTER TABLE {t} ADD COLUMN {c} <type>; backfill it in batches ([[migration.backfill]]); deploy code that writes it; "
            f"then ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_not_null CHECK ({c} IS NOT NULL) NOT VALID; "
            f"ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_not_null; ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL; "
            f"ALTER TABLE {t} DROP CONSTRAINT {t}_{c}_not_null;"
        )
    if stmt.dialect == "mysql":
        return (
            f"ALTER TABLE {t} ADD COLUMN {c} <type> NULL, ALGORITHM=INSTANT; backfill it in batches ([[migration.backfill]]); "
            f"deploy code that writes it; then ALTER TABLE {t} MODIFY COLUMN {c} <type> NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;"
        )
    return f"ALTER TABLE {t} ADD COLUMN {c} <type> NOT NULL DEFAULT <constant>; (SQLite needs a constant default for NOT NULL)"


@register
class NotNullWithoutDefault(Rule):
    """``ADD COLUMN ... NOT NULL`` without a default.

    *Anti-pattern*: adding a required column with no default. PostgreSQL and SQLite refuse
    it on a table with rows; MySQL/MariaDB fill existing rows with an implicit 0 or ''; and
    everywhere the application version still running inserts rows without the column and
    starts failing the moment the migration commits.

    *Best practice*: add the column nullable (or with a constant default), backfill it in
    batches, deploy the code that writes it, then add NOT NULL (PostgreSQL: a
    ``CHECK (col IS NOT NULL) NOT VALID`` constraint validated separately).
    """

    code = "SS003"
    name = "not-null-column-without-default"
    squawk_rules = frozenset({"adding-required-field"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if stmt.kind != "ALTER TABLE" or ctx.is_fresh(table):
            return
        columns = _required_columns(stmt)
        if not columns and (stmt.tree is None or isinstance(stmt.tree, exp.Command)):
            if stmt.has(r"\bADD\b(\s+COLUMN)?\s+\S+\s+[^,]*\bNOT\s+NULL\b") and not stmt.has(r"\bDEFAULT\b"):
                columns = ["a column"]
        if not columns:
            return
        rows = ctx.rows(table)
        what = ", ".join(columns)
        advice = _advice(stmt, columns[0])
        if stmt.dialect == "sqlite":
            yield Hit(f"SQLite refuses ADD COLUMN {what} NOT NULL without a default", table, severity="error", suggestion=advice)
        elif stmt.dialect == "postgresql" and rows:
            yield Hit(
                f"ADD COLUMN {what} NOT NULL without a default fails on {table}, which has rows",
                table,
                severity="error",
                suggestion=advice,
            )
        elif stmt.dialect == "mysql":
            yield Hit(
                f"ADD COLUMN {what} NOT NULL without a default: existing rows get an implicit 0 or '', and every insert "
                "of the running application version that omits it fails (strict mode)",
                table,
                severity="error",
                suggestion=advice,
            )
        else:
            yield Hit(
                f"ADD COLUMN {what} NOT NULL without a default: inserts from the running application version fail",
                table,
                severity="warning",
                suggestion=advice,
            )
