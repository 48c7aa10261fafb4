"""``kind = "index_exists"``: an index (or unique constraint, or primary key) leads with these columns.

Asked of the database's catalog through SQLAlchemy's inspector, so it works the same on
every dialect. Leading columns suffice: an index on (a, b) serves lookups on a.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import Check, CheckConfig, CheckContext, CheckResult, register
from safeshift.checks.common import Identifiers, Reference, TableName, TableRef


class IndexExistsConfig(CheckConfig):
    table: TableName = Field(description="the table")
    columns: Identifiers = Field(description="the index's leading columns, in order")


@register
class IndexExistsCheck(Check[IndexExistsConfig]):
    kind = "index_exists"
    summary = "an index (or unique constraint, or primary key) leads with these columns"

    def references(self) -> Sequence[Reference]:
        return [Reference.of("table", self.config.table), Reference.of("columns", self.config.table, self.config.columns)]

    def default_name(self) -> str:
        return f"index on {self.config.table}({', '.join(self.config.columns)})"

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [f"-- inspect the indexes, unique constraints and primary key of {self.config.table}"]

    @staticmethod
    def _candidates(conn: Connection, table: TableRef) -> Iterator[tuple[str, list[str]]]:
        """(name, columns) of everything that gives an index on the table."""
        inspector = sa.inspect(conn)
        pk: Any = inspector.get_pk_constraint(table.name, schema=table.schema)
        if pk.get("constrained_columns"):
            yield str(pk.get("name") or "PRIMARY KEY"), list(pk["constrained_columns"])
        for ix in inspector.get_indexes(table.name, schema=table.schema):
            yield str(ix["name"]), [str(c) for c in ix["column_names"] if c is not None]
        for uq in inspector.get_unique_constraints(table.name, schema=table.schema):
            yield str(uq["name"] or "UNIQUE"), list(uq["column_names"])

    def measure(self, ctx: CheckContext) -> CheckResult:
        want = [c.casefold() for c in self.config.columns]
        seen: list[str] = []
        for name, columns in self._candidates(ctx.conn, TableRef.parse(self.config.table)):
            if [c.casefold() for c in columns[: len(want)]] == want:
                return self.result(True, value=name, expected=f"leading columns ({', '.join(self.config.columns)})")
            seen.append(f"{name}({', '.join(columns)})")
        return self.result(
            False,
            value=None,
            expected=f"leading columns ({', '.join(self.config.columns)})",
            message=f"no index on {self.config.table} starts with {', '.join(self.config.columns)}; "
            f"found: {', '.join(seen) or 'none'}",
        )
