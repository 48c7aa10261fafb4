"""``kind = "sql"``: a query returning one number, compared with an expectation."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field
from sqlalchemy import text
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import (
    MAX_SAMPLES,
    Check,
    CheckContext,
    CheckResult,
    ExpectConfig,
    register,
)
from safeshift.expectations import Expectation, SnapshotMissing


class SqlConfig(ExpectConfig):
    query: str = Field(description="SQL returning one number")
    sample: str | None = Field(default=None, description="SQL listing offending keys, shown when the check fails")


@register
class SqlCheck(Check[SqlConfig]):
    kind = "sql"
    summary = "a query returning one number meets expect; sample lists offending keys"

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [self.config.query] + ([self.config.sample] if self.config.sample else [])

    def measure(self, ctx: CheckContext) -> CheckResult:
        expectation = Expectation.parse(self.config.expect)
        value = ctx.conn.execute(text(self.config.query)).scalar()
        if value is None:
            return self.result(False, expected=self.config.expect, message="query returned no value")
        number = float(value)
        shown = int(number) if number.is_integer() else number
        try:
            passed = expectation.holds(number, ctx.snapshot)
        except SnapshotMissing as exc:
            return self.result(False, value=shown, expected=self.config.expect, message=str(exc), error=True)
        samples: list[object] = []
        if not passed and self.config.sample:
            rows = ctx.conn.execute(text(self.config.sample)).fetchmany(MAX_SAMPLES)
            samples = [row[0] if len(row) == 1 else list(row) for row in rows]
        return self.result(
            passed,
            value=shown,
            expected=expectation.resolved(ctx.snapshot),
            samples=samples,
        )
