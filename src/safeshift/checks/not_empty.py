"""``kind = "not_empty"``: the table has at least one row (``LIMIT 1``, never a full count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import Check, CheckConfig, CheckContext, CheckResult, register
from safeshift.checks.common import Reference, TableName, TableRef, render


class NotEmptyConfig(CheckConfig):
    table: TableName = Field(description="the table that must hold a row")


@register
class NotEmptyCheck(Check[NotEmptyConfig]):
    kind = "not_empty"
    summary = "the table has at least one row"

    def references(self) -> Sequence[Reference]:
        return [Reference.of("table", self.config.table)]

    def default_name(self) -> str:
        return f"{self.config.table} is not empty"

    def query(self) -> sa.Select[Any]:
        table = TableRef.parse(self.config.table).core()
        return sa.select(sa.literal_column("1")).select_from(table).limit(1)

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [render(self.query(), dialect)]

    def measure(self, ctx: CheckContext) -> CheckResult:
        found = ctx.conn.execute(self.query()).first() is not None
        return self.result(
            found,
            value=1 if found else 0,
            expected=">= 1",
            message="" if found else f"table {self.config.table} has no rows",
        )
