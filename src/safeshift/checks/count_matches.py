"""``kind = "count_matches"``: two queries' numbers compared (``left`` op ``right``).

For invariants between tables that no built-in kind names, e.g. one family per parent:
``left = "SELECT COUNT(*) FROM families"``, ``right = "SELECT COUNT(*) FROM users WHERE is_parent"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import Check, CheckConfig, CheckContext, CheckResult, register
from safeshift.checks.common import jsonable
from safeshift.config.compare import OPERATORS, Operator


class CountMatchesConfig(CheckConfig):
    left: str = Field(min_length=1, description="SQL returning one number")
    right: str = Field(min_length=1, description="SQL returning one number")
    op: Operator = Field(default="==", description="how left compares with right")


@register
class CountMatchesCheck(Check[CountMatchesConfig]):
    kind = "count_matches"
    summary = "two queries' numbers compared: left op right"

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [self.config.left.strip(), self.config.right.strip()]

    @staticmethod
    def _number(conn: Connection, query: str, side: str) -> float:
        value = conn.execute(text(query)).scalar()
        if value is None:
            raise ValueError(f"the {side} query returned no value")
        return float(value)

    def measure(self, ctx: CheckContext) -> CheckResult:
        left = self._number(ctx.conn, self.config.left, "left")
        right = self._number(ctx.conn, self.config.right, "right")
        shown_left, shown_right = (int(n) if n.is_integer() else n for n in (left, right))
        passed = OPERATORS[self.config.op](left, right)
        return self.result(
            passed,
            value=jsonable(shown_left),
            expected=f"{self.config.op} {shown_right} (right)",
            message="" if passed else f"left is {shown_left}, right is {shown_right}",
        )
