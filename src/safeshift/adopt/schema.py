"""Checks inferred from a live schema: what a migration must not break, read from the database.

Every table keeps its rows (``row_count == snapshot``), every foreign key stays a real,
valid constraint (``fk_valid``, ``baseline = true``: rows that were orphans before the
migration, possible where the database does not enforce keys, do not fail it), every
unique constraint or unique index still holds (``unique``), and every NOT NULL column
outside the primary key still has no NULLs (``no_nulls``: the database enforces NOT NULL,
so this catches a migration that relaxes the constraint while copying data). Checks are
plain dicts, as a plan file holds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")  # the names a check accepts (checks.common)


@dataclass
class TableChecks:
    """One table's inferred post-checks."""

    table: str
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Inferred:
    tables: list[TableChecks]
    skipped: list[str]  # tables whose names a check cannot name (quoted identifiers)

    @property
    def count(self) -> int:
        return sum(len(t.checks) for t in self.tables)


def _ref(table: str, columns: list[str]) -> str | list[str]:
    refs = [f"{table}.{c}" for c in columns]
    return refs[0] if len(refs) == 1 else refs


def infer_checks(conn: Connection, ignore: set[str]) -> Inferred:
    """Post-checks for every table of the connection's default schema but ``ignore`` (version tables)."""
    inspector = sa.inspect(conn)
    ignored = {t.casefold() for t in ignore}
    tables: list[TableChecks] = []
    skipped: list[str] = []
    for name in sorted(inspector.get_table_names()):
        if name.casefold() in ignored or name.startswith("sqlite_"):
            continue
        if not _PLAIN.match(name):
            skipped.append(name)
            continue
        tables.append(_table_checks(inspector, name))
    if conn.in_transaction():
        conn.rollback()
    return Inferred(tables, skipped)


def _table_checks(inspector: Any, table: str) -> TableChecks:
    found = TableChecks(table)
    found.checks.append({"kind": "row_count", "table": table, "expect": "== snapshot"})
    for fk in inspector.get_foreign_keys(table):
        columns, parent, referred = fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]
        names = [*columns, *referred, parent]
        if fk.get("referred_schema") or not columns or len(columns) != len(referred) or not all(_PLAIN.match(n) for n in names):
            continue
        found.checks.append({"kind": "fk_valid", "child": _ref(table, columns), "parent": _ref(parent, referred), "baseline": True})
    primary = list(inspector.get_pk_constraint(table).get("constrained_columns") or [])
    seen: set[tuple[str, ...]] = {tuple(c.casefold() for c in primary)}
    uniques = [list(u["column_names"]) for u in inspector.get_unique_constraints(table)]
    uniques += [list(i["column_names"]) for i in inspector.get_indexes(table) if i.get("unique")]
    for columns in uniques:
        key = tuple(str(c).casefold() for c in columns)
        if key in seen or not columns or not all(isinstance(c, str) and _PLAIN.match(c) for c in columns):
            continue  # the primary key, a duplicate, or an expression index
        seen.add(key)
        found.checks.append({"kind": "unique", "table": table, "columns": columns})
    for column in inspector.get_columns(table):
        name = str(column["name"])
        if not column.get("nullable", True) and name not in primary and _PLAIN.match(name):
            found.checks.append({"kind": "no_nulls", "column": f"{table}.{name}"})
    return found
