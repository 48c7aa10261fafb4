"""Pieces the built-in check kinds share: validated names, Core tables, keys and samples.

Plans name tables and columns as text (``"users.family_id"``); these validators reject
anything that is not a plain identifier at load time, and the helpers turn names into
SQLAlchemy Core objects so every identifier is quoted by SQLAlchemy for the dialect.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect
from sqlalchemy.sql.elements import ClauseElement

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class Shown:
    """How a key's type is shown in ``safeshift checks`` and the README (metadata of an ``Annotated``)."""

    text: str


def _scalar(value: Any) -> Any:
    if not isinstance(value, str | int | float | bool):
        raise PydanticCustomError(
            "scalar", "expected a string, number or boolean, got {value}", {"value": repr(value)}
        )
    return value


# A value a plan may compare with (TOML scalars); bound as a parameter, never inlined.
Scalar = Annotated[str | int | float | bool, BeforeValidator(_scalar), Shown("string, number or boolean")]


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not _IDENT.match(value):
        raise PydanticCustomError(
            "identifier", "expected a plain table or column name, got {value}", {"value": repr(value)}
        )
    return value


def _table_name(value: Any) -> str:
    """``table`` or ``schema.table``."""
    parts = value.split(".") if isinstance(value, str) else [value]
    if len(parts) > 2 or not all(isinstance(p, str) and _IDENT.match(p) for p in parts):
        raise PydanticCustomError(
            "table_name", "expected a table name like 'users' or 'schema.users', got {value}", {"value": repr(value)}
        )
    return str(value)


def _column_ref(value: Any) -> str:
    """``table.column`` or ``schema.table.column``."""
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) not in (2, 3) or not all(_IDENT.match(p) for p in parts):
        raise PydanticCustomError(
            "column_ref", "expected 'table.column' (e.g. 'users.family_id'), got {value}", {"value": repr(value)}
        )
    return str(value)


def _names(value: Any) -> Any:
    """Let a single name stand for a one-element list (``columns = "code"``)."""
    return [value] if isinstance(value, str) else value


def _one_table(value: list[str]) -> list[str]:
    """Composite references (``["t.a", "t.b"]``) must name one table."""
    tables = {ref.rpartition(".")[0] for ref in value}
    if len(tables) > 1:
        raise PydanticCustomError(
            "column_refs", "all columns must belong to one table, got {refs}", {"refs": ", ".join(value)}
        )
    return value


Identifier = Annotated[str, BeforeValidator(_identifier), Shown("column")]
TableName = Annotated[str, BeforeValidator(_table_name), Shown("table")]
ColumnRef = Annotated[str, BeforeValidator(_column_ref), Shown("table.column")]
ColumnRefs = Annotated[
    list[ColumnRef], BeforeValidator(_names), Field(min_length=1), AfterValidator(_one_table),
    Shown("table.column, or a list of them (one table)"),
]
Identifiers = Annotated[
    list[Identifier], BeforeValidator(_names), Field(min_length=1), Shown("column, or a list of columns")
]


@dataclass(frozen=True)
class TableRef:
    """A table, optionally schema-qualified, as written in the plan."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableRef:
        schema, _, name = text.rpartition(".")
        return cls(name, schema or None)

    def core(self, *columns: str) -> sa.TableClause:
        """A lightweight Core table with just the columns a query needs."""
        return sa.table(self.name, *(sa.column(c) for c in dict.fromkeys(columns)), schema=self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class Reference:
    """A table (and columns of it) a check's key names; preflight looks each one up."""

    key: str  # the check's key that names it, e.g. "child"
    table: TableRef
    columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, key: str, table: str | TableRef, columns: Sequence[str] | None = ()) -> Reference:
        ref = table if isinstance(table, TableRef) else TableRef.parse(table)
        return cls(key, ref, tuple(columns or ()))

    @classmethod
    def columns_of(cls, key: str, refs: str | Sequence[str]) -> Reference:
        """From ``table.column`` text (or a list of them, one table)."""
        parsed = ColumnsRef.parse(refs)
        return cls(key, parsed.table, parsed.columns)


@dataclass(frozen=True)
class ColumnsRef:
    """One or more columns of one table (``users.family_id``, or a composite key)."""

    table: TableRef
    columns: tuple[str, ...]

    @classmethod
    def parse(cls, refs: str | Sequence[str]) -> ColumnsRef:
        """From validated text (:data:`ColumnRef` / :data:`ColumnRefs`)."""
        texts = [refs] if isinstance(refs, str) else list(refs)
        table = texts[0].rpartition(".")[0]
        return cls(TableRef.parse(table), tuple(t.rpartition(".")[2] for t in texts))

    def __str__(self) -> str:
        cols = ", ".join(self.columns)
        return f"{self.table}.{cols}" if len(self.columns) == 1 else f"{self.table}({cols})"


def primary_key(conn: Connection, table: TableRef) -> list[str]:
    """The table's primary key columns, asked of the database (empty when it has none)."""
    pk = sa.inspect(conn).get_pk_constraint(table.name, schema=table.schema)
    return list(pk.get("constrained_columns") or [])


def column_names(conn: Connection, table: TableRef) -> list[str]:
    """The table's columns in order, asked of the database."""
    return [str(c["name"]) for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)]


def key_columns(conn: Connection, table: TableRef, configured: Sequence[str] | None) -> list[str]:
    """The columns naming a row in samples: the plan's ``key``, else the primary key."""
    return list(configured) if configured else primary_key(conn, table)


def jsonable(value: Any) -> Any:
    """A database value as something JSON (and a terminal) can show."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def identity(row: Sequence[Any]) -> Any:
    """A row's key as shown in samples: the bare value, or a list for composite keys."""
    if len(row) == 1:
        return jsonable(row[0])
    return [jsonable(v) for v in row]


def hashable(value: Any) -> Any:
    """A sample turned back into something a set can hold (lists become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def all_not_null(columns: Iterable[sa.ColumnElement[Any]]) -> sa.ColumnElement[bool]:
    return sa.and_(*(c.is_not(None) for c in columns))


def render(statement: ClauseElement, dialect: SqlDialect | None) -> str:
    """SQL text for ``--dry-run``: values inlined when the dialect can, else placeholders."""
    try:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    except Exception:  # a type without a literal renderer: show the placeholders instead
        compiled = statement.compile(dialect=dialect)
    return str(compiled).strip()
