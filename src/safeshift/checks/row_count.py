"""``kind = "row_count"``: a table's row count against an expectation.

``expect`` may use the snapshot: ``== snapshot`` (this table before the change),
``== snapshot.couples`` or ``== 2 * snapshot.couples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import Check, CheckContext, CheckResult, ExpectConfig, register
from safeshift.checks.common import Reference, TableName, TableRef, render
from safeshift.expectations import Expectation, SnapshotMissing


class RowCountConfig(ExpectConfig):
    table: TableName = Field(description="the table counted")
    expect: str = Field(default="== snapshot", description='e.g. "== snapshot", ">= 1", "== snapshot.users - 3"')


@register
class RowCountCheck(Check[RowCountConfig]):
    kind = "row_count"
    summary = "a table's row count meets an expectation, often relative to the snapshot"

    def references(self) -> Sequence[Reference]:
        return [Reference.of("table", self.config.table)]

    def default_name(self) -> str:
        return f"{self.config.table} row count {self.config.expect}"

    def query(self) -> sa.Select[Any]:
        return sa.select(sa.func.count()).select_from(TableRef.parse(self.config.table).core())

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [render(self.query(), dialect)]

    def measure(self, ctx: CheckContext) -> CheckResult:
        expectation = Expectation.parse(self.config.expect)
        # Snapshot keys are bare table names, so "snapshot" means this table without schema.
        own = TableRef.parse(self.config.table).name
        count = int(ctx.conn.execute(self.query()).scalar_one())
        try:
            passed = expectation.holds(count, ctx.snapshot, own)
        except SnapshotMissing as exc:
            return self.result(False, value=count, expected=self.config.expect, message=str(exc), error=True)
        return self.result(passed, value=count, expected=expectation.resolved(ctx.snapshot, own))
