"""``kind = "no_orphans"``: every non-NULL reference points at an existing row.

Set-based: the child LEFT JOINed to the parent, keeping the rows that found none (an
anti-join). Written as a join rather than ``NOT EXISTS`` because MariaDB runs ``NOT EXISTS``
through a materialized subquery, ten times slower at a million rows (0.27 s against 2.9 s);
PostgreSQL and SQLite plan both forms the same way.
Composite references list several columns; a row with any NULL among them is not an
orphan, as with SQL's default ``MATCH SIMPLE`` foreign keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import NamedFromClause

from safeshift.checks.base import register
from safeshift.checks.common import (
    ColumnRefs,
    ColumnsRef,
    Identifiers,
    Reference,
    all_not_null,
    key_columns,
)
from safeshift.checks.violations import ViolationCheck, ViolationConfig


class NoOrphansConfig(ViolationConfig):
    child: ColumnRefs = Field(description="the referencing column(s)")
    parent: ColumnRefs = Field(description="the referenced column(s), as many as child")
    key: Identifiers | None = Field(
        default=None, description="child columns naming an offending row; default: its primary key"
    )

    @model_validator(mode="after")
    def _same_arity(self) -> NoOrphansConfig:
        if len(self.child) != len(self.parent):
            raise PydanticCustomError(
                "arity",
                "child has {child} column(s) but parent has {parent}",
                {"child": len(self.child), "parent": len(self.parent)},
            )
        return self


@register
class NoOrphansCheck(ViolationCheck[NoOrphansConfig]):
    kind = "no_orphans"
    summary = "every non-NULL reference points at an existing row"
    noun = "orphaned rows"

    @property
    def child(self) -> ColumnsRef:
        return ColumnsRef.parse(self.config.child)

    @property
    def parent(self) -> ColumnsRef:
        return ColumnsRef.parse(self.config.parent)

    def references(self) -> Sequence[Reference]:
        refs = [Reference.columns_of("child", self.config.child), Reference.columns_of("parent", self.config.parent)]
        if self.config.key:
            refs.append(Reference.of("key", self.child.table, self.config.key))
        return refs

    def default_name(self) -> str:
        return f"{self.child} has no orphans in {self.parent}"

    def _orphans(self, *extra: str) -> tuple[NamedFromClause, sa.FromClause, sa.ColumnElement[bool]]:
        """The child table (aliased: it may be the parent table too), the child LEFT JOIN the
        parent, and the orphan condition: a complete reference that matched no parent row (a
        match has every parent column equal to a non-NULL value, so a NULL there means none)."""
        child = self.child.table.core(*self.child.columns, *extra).alias("c")
        parent = self.parent.table.core(*self.parent.columns).alias("p")
        refs = [child.c[c] for c in self.child.columns]
        match = sa.and_(*(parent.c[p] == r for p, r in zip(self.parent.columns, refs, strict=True)))
        joined = child.outerjoin(parent, match)
        return child, joined, sa.and_(all_not_null(refs), parent.c[self.parent.columns[0]].is_(None))

    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        _child, joined, orphan = self._orphans()
        return sa.select(sa.func.count()).select_from(joined).where(orphan)

    def offenders_query(self, conn: Connection | None) -> sa.Select[Any] | None:
        if conn is None and not self.config.key:
            return None  # --dry-run: the primary key is only known once connected
        key = key_columns(conn, self.child.table, self.config.key) if conn is not None else self.config.key
        if key:
            child, joined, orphan = self._orphans(*key)
            cols = [child.c[k] for k in key]
            return sa.select(*cols).select_from(joined).where(orphan).order_by(*cols)
        # No key: name the missing parent values instead.
        child, joined, orphan = self._orphans()
        cols = [child.c[c] for c in self.child.columns]
        return sa.select(*cols).select_from(joined).where(orphan).distinct().order_by(*cols)
