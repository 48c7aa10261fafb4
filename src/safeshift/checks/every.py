"""``kind = "every"``: every row of a table has at least ``min`` related rows elsewhere.

E.g. every family has a parent: ``table = "families"``, ``related = "users.family_id"``,
``related_filter = { is_parent = true }``. Filters are column = value pairs bound as
parameters, so no SQL fragment from the plan is ever spliced into the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import NamedFromClause

from safeshift.checks.base import register
from safeshift.checks.common import (
    ColumnRef,
    ColumnsRef,
    Identifier,
    Reference,
    Scalar,
    TableName,
    TableRef,
)
from safeshift.checks.violations import ViolationCheck, ViolationConfig


class EveryConfig(ViolationConfig):
    table: TableName = Field(description="the table whose every row needs related rows")
    key: Identifier = Field(default="id", description="the column of table that related refers to")
    related: ColumnRef = Field(description="the column of the other table that points at table's key")
    min: int = Field(default=1, ge=1, description="at least this many related rows")
    related_filter: dict[Identifier, Scalar] = Field(
        default_factory=dict, description="only related rows with these column values count"
    )


@register
class EveryCheck(ViolationCheck[EveryConfig]):
    kind = "every"
    summary = "every row of a table has at least min related rows elsewhere"

    def violation_noun(self) -> str:
        return f"{self.config.table} rows with fewer than {self.config.min} related {self.config.related}"

    def references(self) -> Sequence[Reference]:
        cfg = self.config
        related = Reference.columns_of("related", cfg.related)
        refs = [Reference.of("table", cfg.table), Reference.of("key", cfg.table, [cfg.key]), related]
        if cfg.related_filter:
            refs.append(Reference.of("related_filter", related.table, list(cfg.related_filter)))
        return refs

    def default_name(self) -> str:
        where = "".join(f" with {k} = {v!r}" for k, v in self.config.related_filter.items())
        return f"every {self.config.table} row has {self.config.min}+ {self.config.related}{where}"

    def _lacking(self) -> tuple[NamedFromClause, sa.ColumnElement[bool]]:
        """The (aliased) table and the condition "this row has too few related rows"."""
        cfg = self.config
        owner = TableRef.parse(cfg.table).core(cfg.key).alias("a")
        ref = ColumnsRef.parse(cfg.related)
        fk = ref.columns[0]
        related = ref.table.core(fk, *cfg.related_filter).alias("b")
        match = [related.c[fk] == owner.c[cfg.key]]
        match += [related.c[col] == value for col, value in cfg.related_filter.items()]
        if cfg.min == 1:  # the common case as an anti-join, which stops at the first match
            exists = sa.select(sa.literal_column("1")).select_from(related).where(*match).exists()
            return owner, ~exists
        found = sa.select(sa.func.count()).select_from(related).where(*match).scalar_subquery()
        return owner, found < cfg.min

    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        owner, lacking = self._lacking()
        return sa.select(sa.func.count()).select_from(owner).where(lacking)

    def offenders_query(self, conn: Connection | None) -> sa.Select[Any]:
        owner, lacking = self._lacking()
        key = owner.c[self.config.key]
        return sa.select(key).where(lacking).order_by(key)
