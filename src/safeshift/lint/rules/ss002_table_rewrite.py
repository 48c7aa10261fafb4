"""SS002: a statement that copies or rewrites the whole table."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.advice import (
    backfill_snippet,
    expand_backfill_contract,
    fill_then_require,
    no_online_alter,
    online_tool,
)
from safeshift.lint.context import LintContext
from safeshift.lint.locks import positioned
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement
from safeshift.lint.version import (
    ServerVersion,
    instant_add_column,
    instant_add_column_since,
    instant_drop_column,
    pg_add_column_default_rewrites,
)

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


def _alter_body(stmt: Statement) -> str:
    """The ALTER's actions as written (without ALTER TABLE t and the ALGORITHM/LOCK clauses)."""
    text = " ".join(stmt.scanned.stripped.split()).rstrip("; ")
    text = re.sub(r"^ALTER\s+(ONLINE\s+)?(IGNORE\s+)?TABLE\s+\S+\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r",?\s*\b(ALGORITHM|LOCK)\s*=?\s*\w+", "", text, flags=re.IGNORECASE)
    return text.strip(" ,")


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
                suggestion=no_online_alter(table, body, ctx.version),
            )
            return
        filled = _filled_columns(stmt)
        for column, why in filled:
            if stmt.dialect == "postgresql" and "generated" in why:
                col_type, expression = _generated(stmt, column)
                advice = "\n".join(
                    [
                        "a plain column kept filled by a trigger, the existing rows backfilled:",
                        f"1. ALTER TABLE {table} ADD COLUMN {column} {col_type};",
                        f"2. a BEFORE INSERT OR UPDATE trigger on {table} that sets NEW.{column} := {expression};",
                        "3. backfill the existing rows in batches: add to safeshift.toml",
                        backfill_snippet(table, {column: expression}, f"{column} IS NULL"),
                    ]
                )
            elif stmt.dialect == "postgresql":
                seq = f"{table}_{column}_seq"
                advice = (
                    f"CREATE SEQUENCE {seq}; then "
                    + fill_then_require("postgresql", table, column, ctx.version, "bigint", f"nextval('{seq}')")
                    + f"\n4. ALTER SEQUENCE {seq} OWNED BY {table}.{column};"
                )
            else:
                advice = no_online_alter(table, body, ctx.version)
            yield Hit(f"ADD COLUMN {column} rewrites {table}: {why} while writes wait", table, suggestion=advice)
        skip = {column for column, _ in filled}
        if stmt.dialect == "postgresql":
            yield from _pg_defaults(stmt, ctx, skip)
        elif stmt.dialect == "mysql":
            yield from _mysql_rebuilds(stmt, ctx, skip, body)
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
            advice = expand_backfill_contract("postgresql", table, columns[0], _new_type(stmt), ctx.version)
        yield Hit(f"changing the type of {what} copies {table} while writes wait{guess}", table, suggestion=advice)


_VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v1(?:mc)?|uuid_generate_v4|clock_timestamp|timeofday|nextval|txid_current)\s*\(",
    re.IGNORECASE,
)


def _new_type(stmt: Statement) -> str:
    for action in stmt.actions:
        dtype = action.args.get("dtype") if isinstance(action, exp.AlterColumn) else None
        if isinstance(dtype, exp.DataType):
            return dtype.sql("postgres")
    return "<new type>"


def _generated(stmt: Statement, name: str) -> tuple[str, str]:
    """(type, expression) of a generated column the statement adds (placeholders where unknown)."""
    for column in added_columns(stmt):
        if column.name != name:
            continue
        kind = column.args.get("kind")
        computed = next((k for k in _constraint_kinds(column) if isinstance(k, exp.ComputedColumnConstraint)), None)
        col_type = kind.sql("postgres") if isinstance(kind, exp.DataType) else "<type>"
        if computed is not None and isinstance(computed.this, exp.Expression):
            return col_type, computed.this.sql("postgres")
        return col_type, "<its expression>"
    return "<type>", "<its expression>"


def _default_of(column: exp.ColumnDef) -> exp.Expression | None:
    for kind in _constraint_kinds(column):
        value = kind.this if isinstance(kind, exp.DefaultColumnConstraint) else None
        if isinstance(value, exp.Expression) and not isinstance(value, exp.Null):
            return value
    return None


def _pg_defaults(stmt: Statement, ctx: LintContext, skip: set[str]) -> Iterable[Hit]:
    """ADD COLUMN ... DEFAULT: a volatile default is written into every row on every version, a
    constant one before PostgreSQL 11 (since 11 it is stored once in the catalog)."""
    table, version = stmt.table, ctx.version
    for column in added_columns(stmt):
        default = _default_of(column)
        if column.name in skip or default is None:
            continue
        value = default.sql("postgres")
        volatile = _VOLATILE.search(value) is not None
        if not volatile and not pg_add_column_default_rewrites(version):
            continue
        why = (
            f"the volatile default {value} is computed for every existing row"
            if volatile
            else f"{version.label} writes the default into every row (PostgreSQL 11 stopped rewriting for a constant default)"
        )
        kind = column.args.get("kind")
        not_null = any(isinstance(k, exp.NotNullColumnConstraint) for k in _constraint_kinds(column))
        col_type = kind.sql("postgres") if isinstance(kind, exp.DataType) else "<type>"
        yield Hit(
            f"ADD COLUMN {column.name} rewrites {table} under ACCESS EXCLUSIVE: {why}",
            table,
            suggestion=fill_then_require("postgresql", table, column.name, version, col_type, value, require=not_null),
        )


def _mysql_rebuilds(stmt: Statement, ctx: LintContext, skip: set[str], body: str) -> Iterable[Hit]:
    """ADD/DROP COLUMN where this server has no INSTANT for it: the table is rebuilt in place
    (writes go on, but the copy takes as long as the table, and replicas replay it after)."""
    table, version = stmt.table, ctx.version
    algorithm = stmt.options.get("ALGORITHM")
    if algorithm in ("INPLACE", "NOCOPY") or (stmt.options.get("LOCK") == "NONE" and algorithm != "INSTANT"):
        return  # the statement asks for an in-place rebuild without blocking writes: its author's choice
    for column in added_columns(stmt):
        at = positioned(column)
        if column.name in skip or instant_add_column(version, positioned=at):
            continue
        since = instant_add_column_since(version, positioned=at)
        where = " with FIRST/AFTER" if at else ""
        if at and instant_add_column(version, positioned=False):
            last = column.copy()
            last.set("position", None)
            advice = f"add it as the last column, which {version.label} adds instantly: ALTER TABLE {table} ADD COLUMN {last.sql('mysql')}, ALGORITHM=INSTANT;"
        else:
            advice = (
                f"ALTER TABLE {table} {body}, ALGORITHM=INPLACE, LOCK=NONE; (writes go on during the rebuild); "
                f"for a big table: {online_tool(table, body)}"
            )
        yield _mysql_hit(algorithm, f"ADD COLUMN {column.name}{where}", table, version, since, advice)
    dropped = [a for a in stmt.actions if isinstance(a, exp.Drop) and str(a.args.get("kind") or "").upper() == "COLUMN"]
    if dropped and not instant_drop_column(version):
        since = "MariaDB 10.4" if version.mariadb else "MySQL 8.0.29"
        advice = (
            f"ALTER TABLE {table} {body}, ALGORITHM=INPLACE, LOCK=NONE; (writes go on during the rebuild); "
            f"for a big table: {online_tool(table, body)}"
        )
        yield _mysql_hit(algorithm, "DROP COLUMN", table, version, since, advice)


def _mysql_hit(algorithm: str | None, what: str, table: str | None, version: ServerVersion, since: str, advice: str) -> Hit:
    if algorithm == "INSTANT":
        return Hit(
            f"{version.label} refuses ALGORITHM=INSTANT for {what} (instant since {since}): the migration fails",
            table,
            severity="error",
            suggestion=advice,
        )
    return Hit(
        f"{what} rebuilds {table} on {version.label} (instant since {since}): writes go on, but the copy takes as "
        "long as the table and replicas lag behind it",
        table,
        suggestion=advice,
    )
