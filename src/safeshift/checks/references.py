"""The tables and columns checks name, looked up in a database before any check runs.

A check naming a table or column the database does not have is a mistake in the plan, not
a failed check: it is reported as a configuration problem naming the check, its key and
what is missing (``checks.pre[0].child (check '...'): table users has no column parent_id``),
instead of the driver's error about an internal alias such as ``c.parent_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.checks.base import Check
from safeshift.checks.common import Reference, TableRef

_SHOWN = 12  # names listed when saying what there is instead


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(sorted(names)[:_SHOWN])
    return shown + (f", … ({len(names)} in all)" if len(names) > _SHOWN else "") if names else "none"


class _Schema:
    """Table and column names, asked of the database once each."""

    def __init__(self, conn: Connection) -> None:
        self.inspector: Any = sa.inspect(conn)
        self._tables: dict[str | None, list[str] | None] = {}
        self._columns: dict[tuple[str | None, str], list[str]] = {}

    def tables(self, schema: str | None) -> list[str] | None:
        """Tables and views of ``schema`` (None: the default one); None when the schema does not exist."""
        if schema not in self._tables:
            try:
                names = list(self.inspector.get_table_names(schema=schema))
                names += list(self.inspector.get_view_names(schema=schema))
            except sa.exc.SQLAlchemyError:
                names = None
            self._tables[schema] = names
        return self._tables[schema]

    def columns(self, table: TableRef, actual: str) -> list[str]:
        key = (table.schema, actual)
        if key not in self._columns:
            self._columns[key] = [str(c["name"]) for c in self.inspector.get_columns(actual, schema=table.schema)]
        return self._columns[key]


def _match(name: str, names: Sequence[str]) -> str | None:
    """``name`` as the database spells it: exactly, else ignoring case (quoting rules differ)."""
    if name in names:
        return name
    folded = [n for n in names if n.casefold() == name.casefold()]
    return folded[0] if folded else None


def _problem(schema: _Schema, ref: Reference, when: str) -> str | None:
    tables = schema.tables(ref.table.schema)
    if tables is None:
        return f"no schema {ref.table.schema}{when}"
    actual = _match(ref.table.name, tables)
    if actual is None:
        return f"no table {ref.table}{when} (tables: {_listing(tables)})"
    columns = schema.columns(ref.table, actual)
    missing = [c for c in ref.columns if _match(c, columns) is None]
    if not missing:
        return None
    what = f"column {missing[0]}" if len(missing) == 1 else "columns " + ", ".join(missing)
    return f"table {ref.table} has no {what}{when} (its columns: {_listing(columns)})"


@dataclass(frozen=True)
class Missing:
    """A check key naming what the database lacks; ``str()`` is the problem's line."""

    check: Check[Any]
    key: str
    problem: str

    def __str__(self) -> str:
        return f"checks.{self.check.phase}[{self.check.index}].{self.key} (check {self.check.name!r}): {self.problem}"


def missing_references(checks: Sequence[Check[Any]], conn: Connection, when: str = "") -> list[Missing]:
    """Each check key naming a table or column ``conn``'s database lacks (a missing table once
    per check). ``when`` is said after what is missing (" after the migration to 0002")."""
    schema = _Schema(conn)
    found: list[Missing] = []
    for check in checks:
        said: set[str] = set()
        for ref in check.references():
            problem = _problem(schema, ref, when)
            if problem is None or problem in said:
                continue
            said.add(problem)
            found.append(Missing(check, ref.key, problem))
    if conn.in_transaction():
        conn.rollback()
    return found
