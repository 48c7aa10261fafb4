"""``kind = "unique"``: no two rows share the same values in ``columns``.

Like a SQL UNIQUE constraint, rows with a NULL in any of the columns never clash. One
``GROUP BY`` over the columns (an index on them makes it cheap) finds the duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from safeshift.checks.base import register
from safeshift.checks.common import Identifiers, Reference, TableName, TableRef, all_not_null
from safeshift.checks.violations import ViolationCheck, ViolationConfig


class UniqueConfig(ViolationConfig):
    table: TableName = Field(description="the table")
    columns: Identifiers = Field(description="no two rows share these values")


@register
class UniqueCheck(ViolationCheck[UniqueConfig]):
    kind = "unique"
    summary = "no two rows share the same values in columns"
    weighted = True  # offenders are (values..., copies): a duplicate gaining a copy is new
    noun = "rows repeating another row's values"

    def references(self) -> Sequence[Reference]:
        return [Reference.of("table", self.config.table), Reference.of("columns", self.config.table, self.config.columns)]

    def default_name(self) -> str:
        return f"{self.config.table}({', '.join(self.config.columns)}) is unique"

    def _duplicates(self) -> sa.Subquery:
        table = TableRef.parse(self.config.table).core(*self.config.columns)
        cols = [table.c[c] for c in self.config.columns]
        copies = sa.func.count()
        return (
            sa.select(*cols, copies.label("copies"))
            .where(all_not_null(cols))
            .group_by(*cols)
            .having(copies > 1)
            .subquery("dups")
        )

    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        dups = self._duplicates()
        return sa.select(sa.func.coalesce(sa.func.sum(dups.c.copies - 1), 0))

    def offenders_query(self, conn: Connection | None) -> sa.Select[Any]:
        dups = self._duplicates()
        cols = [dups.c[c] for c in self.config.columns]
        return sa.select(*cols, dups.c.copies).order_by(*cols)
