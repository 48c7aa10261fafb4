"""SS005: a statement that destroys data."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.model import Severity
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement, table_name


def _dropped_columns(stmt: Statement) -> list[str]:
    columns: list[str] = []
    for action in stmt.actions:
        if isinstance(action, exp.Drop) and str(action.args.get("kind") or "").upper() == "COLUMN":
            columns.extend(c.name for c in action.args.get("tables") or [])
    if not columns and (stmt.tree is None or isinstance(stmt.tree, exp.Command)) and stmt.kind == "ALTER TABLE":
        if stmt.has(r"\bDROP\s+COLUMN\b"):
            columns.append("a column")
    return columns


@register
class Destructive(Rule):
    """DROP TABLE, DROP COLUMN, TRUNCATE: data that only a backup can bring back.

    *Anti-pattern*: dropping a table or column, or truncating a table, in a migration run
    without a verified backup: a rollback by downgrade recreates the structure, not the rows.

    A verified backup (``[backup] verify``) makes the loss recoverable (the finding becomes
    a warning) but not harmless: the application version still running reads the column or
    table and fails the moment the drop commits (strong_migrations' reason).

    *Best practice*: contract in a later release: first deploy code that no longer reads or
    writes the column (Rails ``ignored_columns``, SQLAlchemy ``deferred``/removed attribute),
    then drop it in a migration of its own and say so inline:
    ``-- safeshift: allow SS005 because release 42 stopped reading users.age``.
    """

    code = "SS005"
    name = "destructive-statement"
    suggestion = (
        "drop only after a release that no longer reads or writes it, then say so: "
        "-- safeshift: allow SS005 because <release> stopped using it (and keep [backup] verify on)"
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        # A backup brings the rows back after a rollback; it does not stop the application
        # version still running from reading the dropped column or table and failing.
        severity: Severity = "warning" if ctx.destructive_ok else "error"
        backed = " (a verified backup is taken first)" if ctx.destructive_ok else " (no verified backup)"
        breaks = "; the application version still running reads it and fails"
        if stmt.kind in ("DROP TABLE", "TRUNCATE"):
            if ctx.rebuild_at(stmt.pos) is not None:
                return  # the rows live on in the copy that is renamed back
            tables = _tables(stmt) or ([stmt.table] if stmt.table else [])
            lost = [t for t in tables if not ctx.is_fresh(t)]
            if tables and not lost:
                return  # only tables this migration created
            verb = "drops" if stmt.kind == "DROP TABLE" else "empties"
            names: list[str | None] = list(lost) or [None]
            for name in names:
                then = breaks if stmt.kind == "DROP TABLE" else ""
                yield Hit(f"{stmt.kind} {verb} {name or 'a table'} and every row in it{backed}{then}", name, severity=severity)
        elif stmt.kind in ("DROP SCHEMA", "DROP DATABASE"):
            yield Hit(f"{stmt.kind} destroys every table in it{backed}", None, severity=severity)
        elif stmt.kind == "ALTER TABLE" and not ctx.is_fresh(stmt.table):
            columns = _dropped_columns(stmt)
            if columns:
                yield Hit(
                    f"DROP COLUMN {', '.join(columns)} on {stmt.table} deletes that data{backed}{breaks}",
                    stmt.table,
                    severity=severity,
                )


def _tables(stmt: Statement) -> list[str]:
    tree = stmt.tree
    if isinstance(tree, exp.Drop):
        nodes = tree.args.get("tables") or []
    elif isinstance(tree, exp.TruncateTable):
        nodes = tree.expressions
    else:
        return []
    return [n for n in (table_name(node) for node in nodes) if n]
