"""``kind = "no_cycles"``: no row reaches itself by following a self-reference.

A recursive CTE walks each row's chain (``parent_id`` → ``id`` → ...) up to
``max_depth`` hops, one indexed lookup per hop; rows that come back to themselves are in
a cycle. Rows that merely lead into a cycle are not reported, only its members.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from safeshift.checks.base import register
from safeshift.checks.common import Identifier, Reference, TableName, TableRef
from safeshift.checks.violations import ViolationCheck, ViolationConfig


class NoCyclesConfig(ViolationConfig):
    table: TableName = Field(description="the table")
    column: Identifier = Field(description="the self-reference, e.g. parent_id")
    key: Identifier = Field(default="id", description="the column it refers to")
    max_depth: int = Field(default=10, ge=1, le=1000, description="hops followed looking for a cycle")


@register
class NoCyclesCheck(ViolationCheck[NoCyclesConfig]):
    kind = "no_cycles"
    summary = "no row reaches itself by following a self-reference"
    noun = "rows in a reference cycle"

    def references(self) -> Sequence[Reference]:
        cfg = self.config
        return [
            Reference.of("table", cfg.table),
            Reference.of("column", cfg.table, [cfg.column]),
            Reference.of("key", cfg.table, [cfg.key]),
        ]

    def default_name(self) -> str:
        return f"{self.config.table}.{self.config.column} has no cycles"

    def _chain(self) -> sa.CTE:
        """Rows ``(start_id, cur_id, depth)``: where each row's chain is after ``depth`` hops."""
        cfg = self.config
        table = TableRef.parse(cfg.table).core(cfg.key, cfg.column)
        ref, key = table.c[cfg.column], table.c[cfg.key]
        # A constant, not a bound value: PostgreSQL needs the depth's type fixed up front.
        one = sa.literal_column("1", sa.Integer)
        chain = (
            sa.select(key.label("start_id"), ref.label("cur_id"), one.label("depth"))
            .where(ref.is_not(None))
            .cte("chain", recursive=True)
        )
        step = table.alias("step")
        chain = chain.union_all(
            sa.select(chain.c.start_id, step.c[cfg.column], chain.c.depth + one)
            .select_from(chain.join(step, step.c[cfg.key] == chain.c.cur_id))
            .where(
                step.c[cfg.column].is_not(None),
                chain.c.cur_id != chain.c.start_id,
                chain.c.depth < cfg.max_depth,
            )
        )
        return chain

    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        chain = self._chain()
        start = chain.c.start_id
        return sa.select(sa.func.count(sa.distinct(start))).where(chain.c.cur_id == start)

    def offenders_query(self, conn: Connection | None) -> sa.Select[Any]:
        chain = self._chain()
        start = chain.c.start_id
        return sa.select(start).where(chain.c.cur_id == start).distinct().order_by(start)
