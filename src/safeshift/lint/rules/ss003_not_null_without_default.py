"""SS003: a new NOT NULL column without a default."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import fill_then_require
from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement
from safeshift.lint.version import instant_add_column, pg_add_column_default_rewrites


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


def _advice(stmt: Statement, column: str, ctx: LintContext) -> str:
    """The safe sequence, as SQL for the statement's dialect and server version."""
    t = stmt.table or "<table>"
    c = column if column != "a column" else "<column>"
    col_type = _type_of(stmt, column)
    version = ctx.version
    batched = fill_then_require(stmt.dialect, t, c, version, col_type)
    if stmt.dialect == "postgresql" and not pg_add_column_default_rewrites(version):
        return (
            f"a constant default fills every row without a rewrite on {version.label} (since PostgreSQL 11): "
            f"ALTER TABLE {t} ADD COLUMN {c} {col_type} NOT NULL DEFAULT <constant>;\nor, for a value computed per row, {batched}"
        )
    if stmt.dialect == "mysql" and instant_add_column(version, positioned=False):
        return (
            f"a constant default: ALTER TABLE {t} ADD COLUMN {c} {col_type} NOT NULL DEFAULT <constant>, ALGORITHM=INSTANT;"
            f"\nor, for a value computed per row, {batched}"
        )
    return batched


def _type_of(stmt: Statement, column: str) -> str:
    for action in stmt.actions:
        kind = action.args.get("kind") if isinstance(action, exp.ColumnDef) and action.name == column else None
        if isinstance(kind, exp.DataType):
            return kind.sql("postgres" if stmt.dialect == "postgresql" else stmt.dialect)
    return "<type>"


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
        advice = _advice(stmt, columns[0], ctx)
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
