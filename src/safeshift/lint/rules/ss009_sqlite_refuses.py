"""SS009: an ALTER TABLE that SQLite refuses (its ADD COLUMN limits, DROP/RENAME COLUMN on old versions)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import sqlite_rebuild
from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement
from safeshift.lint.version import sqlite_drop_column, sqlite_rename_column


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
class SqliteRefusesAlter(Rule):
    """``ALTER TABLE`` that SQLite refuses outright: the migration fails.

    *Anti-pattern*: ADD COLUMN with UNIQUE or PRIMARY KEY, a STORED generated column, or a
    non-constant default (CURRENT_TIMESTAMP, an expression in parentheses): SQLite's ALTER
    TABLE cannot fill existing rows with them and stops with an error. DROP COLUMN before
    SQLite 3.35.0 and RENAME COLUMN before 3.25.0 do not exist at all.

    *Best practice*: add the column plain (nullable or with a constant default), then
    ``CREATE UNIQUE INDEX`` for uniqueness, a trigger or the application for computed values;
    or rebuild the table (SQLite's 12-step rebuild; Alembic batch mode: ``with op.batch_alter_table(...)``).
    """

    code = "SS009"
    name = "sqlite-refuses-alter"
    dialects = frozenset({"sqlite"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        if stmt.kind != "ALTER TABLE":
            return
        yield from _missing_in_version(stmt, ctx)
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


def _missing_in_version(stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
    """DROP COLUMN (3.35.0) and RENAME COLUMN (3.25.0) on a SQLite older than they are."""
    version, table = ctx.version, stmt.table
    drops = any(isinstance(a, exp.Drop) and str(a.args.get("kind") or "").upper() == "COLUMN" for a in stmt.actions)
    renames = any(isinstance(a, exp.RenameColumn) for a in stmt.actions)
    if not stmt.actions and (stmt.tree is None or isinstance(stmt.tree, exp.Command)):
        drops, renames = stmt.has(r"\bDROP\s+COLUMN\b"), stmt.has(r"\bRENAME\s+COLUMN\b")
    for present, supported, what, since in (
        (drops, sqlite_drop_column, "DROP COLUMN", "3.35.0"),
        (renames, sqlite_rename_column, "RENAME COLUMN", "3.25.0"),
    ):
        if present and not supported(version):
            yield Hit(
                f"{version.label} has no ALTER TABLE {what} (SQLite {since} added it): the migration fails here",
                table,
                severity="error",
                suggestion=sqlite_rebuild(table, what.lower(), version),
            )
