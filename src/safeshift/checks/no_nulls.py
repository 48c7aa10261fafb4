"""``kind = "no_nulls"``: a column that must be filled in every row (``users.family_id``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from safeshift.checks.base import register
from safeshift.checks.common import ColumnRef, ColumnsRef, Identifiers, Reference, key_columns
from safeshift.checks.violations import ViolationCheck, ViolationConfig


class NoNullsConfig(ViolationConfig):
    column: ColumnRef = Field(description="the column that must be filled")
    key: Identifiers | None = Field(default=None, description="columns naming an offending row; default: the primary key")


@register
class NoNullsCheck(ViolationCheck[NoNullsConfig]):
    kind = "no_nulls"
    summary = "a column is filled in every row"
    noun = "rows with NULL"

    @property
    def ref(self) -> ColumnsRef:
        return ColumnsRef.parse(self.config.column)

    def references(self) -> Sequence[Reference]:
        refs = [Reference.columns_of("column", self.config.column)]
        if self.config.key:
            refs.append(Reference.of("key", self.ref.table, self.config.key))
        return refs

    def default_name(self) -> str:
        return f"{self.config.column} has no NULLs"

    def _where(self, table: sa.TableClause) -> sa.ColumnElement[bool]:
        return table.c[self.ref.columns[0]].is_(None)

    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        table = self.ref.table.core(*self.ref.columns)
        return sa.select(sa.func.count()).select_from(table).where(self._where(table))

    def offenders_query(self, conn: Connection | None) -> sa.Select[Any] | None:
        key = key_columns(conn, self.ref.table, self.config.key) if conn is not None else self.config.key
        if not key:
            return None
        table = self.ref.table.core(*self.ref.columns, *key)
        cols = [table.c[k] for k in key]
        return sa.select(*cols).where(self._where(table)).order_by(*cols)
