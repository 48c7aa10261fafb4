"""SS002: a statement that copies or rewrites the whole table."""

from __future__ import annotations

import re
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


_SERIAL = {exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL, exp.DataType.Type.SMALLSERIAL}
_STRING = {exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR}


def _constraint_kinds(column: exp.ColumnDef) -> list[exp.Expression]:
    kinds = []
    for constraint in column.args.get("constraints") or []:
        kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
        if isinstance(kind, exp.Expression):
            kinds.append(kind)
    return kinds


def added_columns(stmt: Statement) -> list[exp.ColumnDef]:
    """The column definitions an ALTER TABLE ... ADD COLUMN adds."""
    return [a for a in stmt.actions if isinstance(a, exp.ColumnDef)]


def _filled_columns(stmt: Statement) -> list[tuple[str, str]]:
    """(column, why) for added columns whose value must be written into every existing row."""
    found: list[tuple[str, str]] = []
    for column in added_columns(stmt):
        kind = column.args.get("kind")
        kinds = _constraint_kinds(column)
        if stmt.dialect == "postgresql":
            if isinstance(kind, exp.DataType) and kind.this in _SERIAL:
                found.append((column.name, f"a {kind.this.value.lower()} column fills every row from a sequence"))
            elif any(isinstance(k, exp.GeneratedAsIdentityColumnConstraint) for k in kinds):
                found.append((column.name, "an identity column fills every row from a sequence"))
            elif any(isinstance(k, exp.ComputedColumnConstraint) for k in kinds):
                found.append((column.name, "a STORED generated column is computed for every row"))
        elif stmt.dialect == "mysql":
            if any(isinstance(k, exp.ComputedColumnConstraint) and k.args.get("persisted") for k in kinds):
                found.append((column.name, "a STORED generated column is computed for every row (MariaDB refuses LOCK=NONE)"))
            elif any(isinstance(k, exp.AutoIncrementColumnConstraint) for k in kinds):
                found.append((column.name, "an AUTO_INCREMENT column is numbered row by row (MariaDB refuses LOCK=NONE)"))
    if not found and stmt.dialect == "postgresql" and isinstance(stmt.tree, exp.Command | type(None)) and stmt.kind == "ALTER TABLE":
        if stmt.has(r"\bADD\b[^;]*\b(BIG|SMALL)?SERIAL\b") or stmt.has(r"\bADD\b[^;]*\bGENERATED\b[^;]*\b(IDENTITY|STORED)\b"):
            found.append(("a column", "its value is written into every row"))
    return found


def string_retype(stmt: Statement) -> bool:
    """PostgreSQL ``ALTER COLUMN ... TYPE text | varchar[(n)]`` without USING: a varchar/text
    column changes in the catalog only (binary-coercible, a longer or no limit)."""
    changes = [a for a in stmt.actions if isinstance(a, exp.AlterColumn) and a.args.get("dtype") is not None]
    if not changes or len(changes) != len(stmt.actions):
        return False
    for change in changes:
        dtype = change.args["dtype"]
        if change.args.get("using") or not isinstance(dtype, exp.DataType) or dtype.this not in _STRING:
            return False
    return True


def online_tool(table: str | None, alter: str) -> str:
    """The gh-ost / pt-online-schema-change command that runs ``alter`` by copying in chunks."""
    t = table or "<table>"
    return (
        f'gh-ost --database=<db> --table={t} --alter="{alter}" --execute, or '
        f'pt-online-schema-change --alter "{alter}" D=<db>,t={t} --execute'
    )


def _alter_body(stmt: Statement) -> str:
    """The ALTER's actions as written (without ALTER TABLE t and the ALGORITHM/LOCK clauses)."""
    text = " ".join(stmt.scanned.stripped.split()).rstrip("; ")
    text = re.sub(r"^ALTER\s+(ONLINE\s+)?(IGNORE\s+)?TABLE\s+\S+\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r",?\s*\b(ALGORITHM|LOCK)\s*=?\s*\w+", "", text, flags=re.IGNORECASE)
    return text.strip(" ,")


def _pg_expand_contract(table: str | None, column: str) -> str:
    t, c = table or "<table>", column if column != "a column" else "<column>"
    return (  # advice shown to a person, never executed
        f"expand, backfill, contract: ALTER TABLE {t} ADD COLUMN {c}_new <new type>; "  # noqa: S608 (advice text)
        f"backfill {c}_new from {c} in batches ([[migration.backfill]] in the plan, or "
        f"UPDATE {t} SET {c}_new = {c}::<new type> WHERE id > :last AND id <= :last + 5000); "
        f"write both from the application, switch reads, then in a later release: "
        f"ALTER TABLE {t} DROP COLUMN {c}; ALTER TABLE {t} RENAME COLUMN {c}_new TO {c};"
    )


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
                    suggestion=f"pg_repack --table={table or '<table>'} (online; add --order-by for CLUSTER) outside the migration, "
                    "or plain VACUUM; never VACUUM FULL/CLUSTER a live table",
                )
            return
        if stmt.kind == "VACUUM" and stmt.dialect == "sqlite":
            yield Hit(
                "VACUUM rewrites the whole SQLite database while holding its write lock",
                table,
                suggestion="run VACUUM outside the migration in a quiet window, or PRAGMA auto_vacuum = INCREMENTAL; "
                "then PRAGMA incremental_vacuum(1000); in small steps",
            )
            return
        if stmt.kind == "OPTIMIZE TABLE":
            yield Hit(
                f"OPTIMIZE TABLE rebuilds {table or 'the table'} by copying it",
                table,
                suggestion=f"ALTER TABLE {table or '<table>'} FORCE, ALGORITHM=INPLACE, LOCK=NONE; (an online rebuild)",
            )
            return
        if stmt.kind != "ALTER TABLE":
            return
        algorithm = stmt.options.get("ALGORITHM")
        body = _alter_body(stmt)
        if stmt.dialect == "mysql" and algorithm == "COPY":
            yield Hit(
                f"ALGORITHM=COPY rebuilds {table} by copying every row while writes wait",
                table,
                suggestion=f"ALTER TABLE {table} {body}, ALGORITHM=INPLACE, LOCK=NONE; and if the server refuses: "
                + online_tool(table, body),
            )
            return
        if stmt.dialect == "mysql" and stmt.has(r"\bCONVERT\s+TO\s+(CHARACTER\s+SET|CHARSET)\b"):
            yield Hit(
                f"CONVERT TO CHARACTER SET copies {table} and rewrites every text column",
                table,
                suggestion="no online ALTER exists for this: " + online_tool(table, body),
            )
            return
        for column, why in _filled_columns(stmt):
            if stmt.dialect == "postgresql" and "generated" in why:
                advice = (
                    f"ALTER TABLE {table} ADD COLUMN {column} <type>; keep it filled with a BEFORE INSERT OR UPDATE trigger; "
                    f"backfill the existing rows in batches ([[migration.backfill]])"
                )
            elif stmt.dialect == "postgresql":
                advice = (
                    f"ALTER TABLE {table} ADD COLUMN {column} bigint; CREATE SEQUENCE {table}_{column}_seq OWNED BY {table}.{column}; "
                    f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT nextval('{table}_{column}_seq'); then backfill the "
                    f"existing rows in batches ([[migration.backfill]])"
                )
            else:
                advice = "MariaDB cannot add it with LOCK=NONE: " + online_tool(table, body)
            yield Hit(f"ADD COLUMN {column} rewrites {table}: {why} while writes wait", table, suggestion=advice)
        if stmt.dialect == "mysql" and stmt.has(r"\bDROP\s+PRIMARY\s+KEY\b") and algorithm not in _ONLINE_ALGORITHMS:
            yield Hit(
                f"DROP PRIMARY KEY copies {table} (the clustered index is rebuilt) while writes wait",
                table,
                suggestion="drop and add the primary key in one ALTER (DROP PRIMARY KEY, ADD PRIMARY KEY (...)), "
                "ALGORITHM=INPLACE, LOCK=NONE; or " + online_tool(table, body),
            )
        if stmt.dialect == "postgresql" and stmt.has(r"\bSET\s+TABLESPACE\b"):
            yield Hit(
                f"SET TABLESPACE copies {table} under an ACCESS EXCLUSIVE lock: no reads, no writes",
                table,
                suggestion=f"pg_repack --table={table} --tablespace=<tablespace> (online), outside the migration",
            )
        columns = _type_changes(stmt)
        if not columns:
            return
        if stmt.dialect == "postgresql" and string_retype(stmt):
            return  # varchar/text → text or a longer varchar: catalog only (the file cannot show a shorter limit)
        if stmt.dialect == "mysql" and algorithm in _ONLINE_ALGORITHMS:
            return  # the server refuses it if it would need a copy
        if stmt.dialect == "sqlite":
            return  # SQLite has no ALTER COLUMN TYPE; batch rebuilds are judged above
        what = ", ".join(columns)
        if stmt.dialect == "mysql":
            guess = " (best guess: confirm with probe_lock_class on a rehearsal copy)"
            advice = (
                f"ALTER TABLE {table} {body}, ALGORITHM=INPLACE, LOCK=NONE; (the server refuses if it would copy); "
                "if it refuses: " + online_tool(table, body)
            )
        else:
            guess = ""
            advice = _pg_expand_contract(table, columns[0])
        yield Hit(f"changing the type of {what} copies {table} while writes wait{guess}", table, suggestion=advice)
