"""``kind = "fk_valid"``: a real FOREIGN KEY exists and no row violates it.

Constraints can be created ``NOT VALID`` (PostgreSQL), with checks off (MySQL) or never
enforced (SQLite without ``PRAGMA foreign_keys``), so the constraint's existence and the
data are checked separately.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.checks.base import CheckContext, CheckResult, register
from safeshift.checks.no_orphans import NoOrphansCheck


@register
class FkValidCheck(NoOrphansCheck):
    kind = "fk_valid"
    summary = "a real FOREIGN KEY exists and no row violates it"

    def default_name(self) -> str:
        return f"foreign key {self.child} → {self.parent}"

    def constraint(self, conn: Connection) -> str | None:
        """The name (or "unnamed") of a FOREIGN KEY matching child → parent, else None."""
        child, parent = self.child, self.parent
        want_cols = [c.casefold() for c in child.columns]
        want_ref = [c.casefold() for c in parent.columns]
        fks: list[Any] = sa.inspect(conn).get_foreign_keys(child.table.name, schema=child.table.schema)
        for fk in fks:
            same_table = str(fk["referred_table"]).casefold() == parent.table.name.casefold()
            cols = [str(c).casefold() for c in fk["constrained_columns"]]
            refs = [str(c).casefold() for c in fk["referred_columns"]]
            if same_table and cols == want_cols and refs == want_ref:
                return str(fk.get("name") or "unnamed")
        return None

    def measure(self, ctx: CheckContext) -> CheckResult:
        result = super().measure(ctx)
        name = self.constraint(ctx.conn)
        result.details["constraint"] = name
        if name is None:
            missing = f"no FOREIGN KEY constraint {self.child} → {self.parent}"
            result.passed = False
            result.message = f"{missing}; {result.message}" if result.message else missing
        return result
