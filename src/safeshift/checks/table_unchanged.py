"""``kind = "table_unchanged"``: prove a table's rows are identical before and after.

Nothing but checksums leaves the database. :meth:`capture` numbers the rows in key order
and sums a per-row hash over consecutive runs of rows ("leaves", at most ``max_leaves``
of them, one row each for tables up to that size), remembering each leaf's first key,
row count and checksum. :meth:`measure` sums the same hashes over the same key ranges
now: ``segments`` range queries cover the table; a range whose count or checksum differs
is split again (data-diff style) until single leaves name the first differing keys.

A leaf of several rows also keeps a position-weighted checksum (row ``i`` of the leaf
counts ``i + 1`` times). When one row of such a leaf changed, was deleted or was inserted,
the two sums locate it, the way a single-error-correcting code does: for a changed row the
weighted difference divided by the plain one is its position. So a million-row table kept
as 65,536 leaves still names the one changed key, with no per-row state kept.

Hashing differs per database, so it sits behind :data:`_HASHERS`, keyed by dialect name:
PostgreSQL and MariaDB/MySQL hash a length-prefixed text form of the row with ``md5``;
SQLite has no hash function, so one is registered on the connection from Python.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.dialects import mysql as _mysql
from sqlalchemy.dialects import postgresql as _pg
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import (
    MAX_SAMPLES,
    Check,
    CheckConfig,
    CheckContext,
    CheckResult,
    register,
)
from safeshift.checks.common import (
    Identifiers,
    Reference,
    TableName,
    TableRef,
    column_names,
    identity,
    primary_key,
    render,
)

Cols = Sequence[sa.ColumnElement[Any]]

# --- per-dialect row hashing ------------------------------------------------------------


def _row_text(cols: Cols) -> sa.ColumnElement[Any]:
    """The row as text, each value length-prefixed ("5:alice") and NULL as "~", so no two
    different rows share a text: "ab","c" and "a","bc" differ, as do NULL and "~"."""
    parts: list[sa.ColumnElement[Any]] = []
    for col in cols:
        as_text = sa.cast(col, sa.Text)
        encoded = sa.func.concat(sa.func.char_length(as_text), ":", as_text)
        parts.append(sa.case((col.is_(None), sa.literal("~")), else_=encoded))
    while len(parts) > 50:  # PostgreSQL functions take at most 100 arguments
        parts = [sa.func.concat(*parts[i : i + 50]) for i in range(0, len(parts), 50)]
    return sa.func.concat(*parts)


def _md5_prefix(cols: Cols) -> sa.ColumnElement[Any]:
    return sa.func.substr(sa.func.md5(_row_text(cols)), 1, 16)


def _postgresql_hash(cols: Cols) -> sa.ColumnElement[Any]:
    # 64 bits of md5 as a bigint: ('x' || hex)::bit(64)::bigint; SUM(bigint) is numeric, no overflow.
    bits = sa.cast(sa.literal("x") + _md5_prefix(cols), _pg.BIT(64))
    return sa.cast(bits, sa.BigInteger)


def _mysql_hash(cols: Cols) -> sa.ColumnElement[Any]:
    # 64 bits of md5 as an unsigned integer; SUM() of integers is DECIMAL, no overflow.
    return sa.cast(sa.func.conv(_md5_prefix(cols), 16, 10), _mysql.BIGINT(unsigned=True))


_SQLITE_FUNCTION = "safeshift_row_hash"


def _sqlite_row_hash(*values: Any) -> int:
    # 32 bits keep SQLite's 64-bit integer SUM from overflowing on billions of rows.
    digest = hashlib.blake2b(repr(values).encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def _sqlite_hash(cols: Cols) -> sa.ColumnElement[Any]:
    return getattr(sa.func, _SQLITE_FUNCTION)(*cols)  # type: ignore[no-any-return]


def _sqlite_prepare(conn: Connection) -> None:
    raw: Any = conn.connection.driver_connection
    raw.create_function(_SQLITE_FUNCTION, -1, _sqlite_row_hash, deterministic=True)


def _nothing(conn: Connection) -> None:
    pass


def _as_is(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return value


def _pg_numeric(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(value, sa.Numeric)  # bigint * weight would overflow


def _mysql_decimal(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.cast(value, sa.Numeric(20, 0))  # BIGINT UNSIGNED * weight would overflow


# SQLite sums 64-bit integers: 32-bit hashes weighted up to this many rows stay below 2**63
_MAX_WEIGHTED_LEAF = 16_384


@dataclass(frozen=True)
class _Hasher:
    row_hash: Callable[[Cols], sa.ColumnElement[Any]]
    prepare: Callable[[Connection], None] = _nothing
    widen: Callable[[sa.ColumnElement[Any]], sa.ColumnElement[Any]] = _as_is  # room to multiply a hash


_HASHERS: dict[str, _Hasher] = {
    "postgresql": _Hasher(_postgresql_hash, widen=_pg_numeric),
    "mysql": _Hasher(_mysql_hash, widen=_mysql_decimal),
    "mariadb": _Hasher(_mysql_hash, widen=_mysql_decimal),
    "sqlite": _Hasher(_sqlite_hash, _sqlite_prepare),
}


def _hasher(dialect_name: str) -> _Hasher:
    try:
        return _HASHERS[dialect_name]
    except KeyError:
        raise ValueError(f"table_unchanged does not support {dialect_name}") from None


# --- captured state -----------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """A run of consecutive rows at capture time: from ``start`` up to the next leaf's start."""

    start: tuple[Any, ...]
    count: int
    checksum: int
    weighted: int | None = None  # sum of (position in leaf + 1) * row hash; None: one-row leaves


@dataclass(frozen=True)
class TableState:
    key: tuple[str, ...]
    columns: tuple[str, ...]
    rows: int
    rows_per_leaf: int
    leaves: tuple[Leaf, ...]


class TableUnchangedConfig(CheckConfig):
    table: TableName = Field(description="the table whose rows must not change")
    key: Identifiers | None = Field(default=None, description="the key rows are ordered by; default: the primary key")
    columns: Identifiers | None = Field(default=None, description="columns hashed; default: every column at capture time")
    segments: int = Field(default=16, ge=2, le=1024, description="ranges per level when narrowing down a difference")
    max_leaves: int = Field(default=65_536, ge=1, le=1_000_000, description="checksums kept from the capture")


@register
class TableUnchangedCheck(Check[TableUnchangedConfig]):
    kind = "table_unchanged"
    summary = "a table's rows are identical before and after (hashed in the database; the first differing keys named)"

    @property
    def ref(self) -> TableRef:
        return TableRef.parse(self.config.table)

    def references(self) -> Sequence[Reference]:
        refs = [Reference.of("table", self.ref)]
        for key in ("key", "columns"):
            names = getattr(self.config, key)
            if names:
                refs.append(Reference.of(key, self.ref, names))
        return refs

    def default_name(self) -> str:
        return f"{self.config.table} unchanged"

    def _leaves_query(self, key: Sequence[str], columns: Sequence[str], per_leaf: int, hasher: _Hasher) -> sa.Select[Any]:
        """One ordered pass: per leaf, its first key, row count and checksum."""
        table = self.ref.core(*key, *columns)
        keys = [table.c[k].label(f"k{i}") for i, k in enumerate(key)]
        position = sa.func.row_number().over(order_by=[table.c[k] for k in key]) - 1
        numbered = sa.select(
            *keys, hasher.row_hash([table.c[c] for c in columns]).label("row_hash"), position.label("pos")
        ).subquery("numbered")
        offset = numbered.c.pos % per_leaf
        leaf = numbered.c.pos - offset
        # each leaf's first key, carried on every row of the leaf and grouped by: min() would do
        # for integers, but PostgreSQL has no min() for boolean or uuid keys; grouping needs only equality
        placed = sa.select(
            *(
                sa.func.first_value(numbered.c[f"k{i}"]).over(partition_by=leaf, order_by=numbered.c.pos).label(f"f{i}")
                for i in range(len(key))
            ),
            numbered.c.row_hash,
            leaf.label("leaf"),
            offset.label("offset"),
        ).subquery("placed")
        firsts = [placed.c[f"f{i}"] for i in range(len(key))]
        if 1 < per_leaf <= _MAX_WEIGHTED_LEAF:
            weight = hasher.widen(placed.c.row_hash) * (placed.c.offset + 1)
            weighted: sa.ColumnElement[Any] = sa.func.coalesce(sa.func.sum(weight), 0)
        else:
            weighted = sa.null()
        return (
            sa.select(
                placed.c.leaf,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(placed.c.row_hash), 0),
                weighted,
                *firsts,
            )
            .group_by(placed.c.leaf, *firsts)
            .order_by(placed.c.leaf)
        )

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        cfg = self.config
        if not (cfg.key and cfg.columns):
            return [
                f"-- checksums of {cfg.table} over key ranges (at most {cfg.max_leaves}); "
                "key and columns are read from the catalog at run time"
            ]
        hasher = _hasher(dialect.name if dialect is not None else "sqlite")
        return [render(self._leaves_query(cfg.key, cfg.columns, 1, hasher), dialect)]

    def capture(self, ctx: CheckContext) -> TableState:
        conn, ref = ctx.conn, self.ref
        key = list(self.config.key or primary_key(conn, ref))
        if not key:
            raise ValueError(f"table {ref} has no primary key: set key")
        columns = list(self.config.columns or column_names(conn, ref))
        hasher = _hasher(conn.dialect.name)
        hasher.prepare(conn)
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(ref.core())).scalar_one())
        per_leaf = max(1, math.ceil(rows / self.config.max_leaves))
        leaves = tuple(
            Leaf(
                start=tuple(row[4:]),
                count=int(row[1]),
                checksum=int(row[2]),
                weighted=None if row[3] is None else int(row[3]),
            )
            for row in conn.execute(self._leaves_query(key, columns, per_leaf, hasher))
        )
        # Rows as the leaves saw them: a write between the two queries must not skew the count.
        rows = sum(leaf.count for leaf in leaves)
        return TableState(tuple(key), tuple(columns), rows, per_leaf, leaves)

    def measure(self, ctx: CheckContext) -> CheckResult:
        state: TableState | None = self.captured(ctx)
        if state is None:  # preflight: the "before" is captured later, in the snapshot phase
            return self.result(True, message="nothing to compare with yet: captured in the snapshot phase")
        hasher = _hasher(ctx.conn.dialect.name)
        hasher.prepare(ctx.conn)
        diff = _Diff(ctx.conn, self.ref, state, hasher)
        top = _split(0, len(state.leaves), self.config.segments)
        sums = [diff.after(a, b) for a, b in top]
        rows_after = sum(count for count, _ in sums)
        differing = [(a, b) for (a, b), now in zip(top, sums, strict=True) if now != diff.before(a, b)]
        if not differing:
            return self.result(True, value=0, expected="== 0 differing segments", details={"rows": rows_after, "segments": len(top)})
        for a, b in differing:
            diff.narrow(a, b, self.config.segments)
            if len(diff.found) >= MAX_SAMPLES:
                break
        found = diff.found[:MAX_SAMPLES]
        first = ", ".join(_describe(d) for d in found[:3])
        return self.result(
            False,
            value=len(differing),
            expected="== 0 differing segments",
            message=f"{len(differing)} of {len(top)} segments differ ({state.rows} rows before, "
            f"{rows_after} after); first differences: {first}",
            samples=[d["key"] if "key" in d else _describe(d) for d in found],
            details={"rows_before": state.rows, "rows_after": rows_after, "differences": found},
        )


def _split(a: int, b: int, parts: int) -> list[tuple[int, int]]:
    """[a, b) cut into at most ``parts`` contiguous, non-empty ranges (one range if empty)."""
    if b - a <= 1:
        return [(a, b)]
    n = min(parts, b - a)
    cuts = [a + (b - a) * i // n for i in range(n + 1)]
    return list(zip(cuts, cuts[1:], strict=False))


def _describe(diff: dict[str, Any]) -> str:
    if "key" in diff:
        return f"{diff['key']} {diff['change']}"
    lo, hi = diff["from"], diff["to"]
    if diff.get("change") == "deleted":
        return f"one row between keys {lo} and {'…' if hi is None else hi} deleted"
    span = f"keys {'…' if lo is None else lo} to {'…' if hi is None else hi}"
    return f"{span} ({diff['rows_before']} rows before, {diff['rows_after']} after)"


class _Diff:
    """Compares key ranges of leaves [a, b) now against the captured checksums."""

    def __init__(self, conn: Connection, ref: TableRef, state: TableState, hasher: _Hasher) -> None:
        self.conn = conn
        self.state = state
        self.table = ref.core(*state.key, *state.columns)
        self.keys = [self.table.c[k] for k in state.key]
        self.row_hash = hasher.row_hash([self.table.c[c] for c in state.columns])
        self.counts = [0, *accumulate(leaf.count for leaf in state.leaves)]
        self.sums = [0, *accumulate(leaf.checksum for leaf in state.leaves)]
        self.found: list[dict[str, Any]] = []

    def before(self, a: int, b: int) -> tuple[int, int]:
        return self.counts[b] - self.counts[a], self.sums[b] - self.sums[a]

    def _key_expr(self) -> sa.ColumnElement[Any]:
        return self.keys[0] if len(self.keys) == 1 else sa.tuple_(*self.keys)

    def _bound(self, start: tuple[Any, ...]) -> Any:
        """A leaf's first key as typed bound values (a bare True/False would not compare with >=)."""
        values = [sa.literal(v, type_=k.type) for v, k in zip(start, self.keys, strict=True)]
        return values[0] if len(values) == 1 else sa.tuple_(*values)

    def where(self, a: int, b: int) -> list[sa.ColumnElement[bool]]:
        """Rows whose key falls in leaves [a, b); the first and last leaf are open-ended."""
        leaves, key = self.state.leaves, self._key_expr()
        conds = []
        if a > 0:
            conds.append(key >= self._bound(leaves[a].start))
        if b < len(leaves):
            conds.append(key < self._bound(leaves[b].start))
        return conds

    def after(self, a: int, b: int) -> tuple[int, int]:
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(self.row_hash), 0)).select_from(self.table)
        count, checksum = self.conn.execute(query.where(*self.where(a, b))).one()
        return int(count), int(checksum)

    def narrow(self, a: int, b: int, parts: int) -> None:
        """Record the differing leaves in [a, b), in key order, up to the sample limit."""
        if len(self.found) >= MAX_SAMPLES:
            return
        if b - a <= 1:
            self._leaf(a, b)
            return
        for x, y in _split(a, b, parts):
            if len(self.found) >= MAX_SAMPLES:
                return
            if self.after(x, y) != self.before(x, y):
                self.narrow(x, y, parts)

    def _keys(self, conds: Sequence[sa.ColumnElement[bool]], limit: int) -> list[Any]:
        query = sa.select(*self.keys).where(*conds).order_by(*self.keys).limit(limit)
        return [identity(row) for row in self.conn.execute(query)]

    def _leaf(self, a: int, b: int) -> None:
        leaves = self.state.leaves
        room = MAX_SAMPLES - len(self.found)
        if a >= len(leaves):  # the table was empty at capture: everything now is new
            self.found += [{"key": k, "change": "inserted"} for k in self._keys([], room)]
            return
        leaf = leaves[a]
        if leaf.count != 1:  # a coarse leaf: locate a single change, else name its key range
            located = self._locate(a, b)
            if located is not None:
                self.found.append(located)
                return
            rows_after, _ = self.after(a, b)
            self.found.append(
                {
                    "from": identity(leaf.start) if a > 0 else None,
                    "to": identity(leaves[b].start) if b < len(leaves) else None,
                    "rows_before": leaf.count,
                    "rows_after": rows_after,
                }
            )
            return
        # One row at capture: its own hash tells changed from untouched.
        key = self._key_expr()
        own = self.conn.execute(
            sa.select(self.row_hash).select_from(self.table).where(key == self._bound(leaf.start))
        ).first()
        if own is None:
            self.found.append({"key": identity(leaf.start), "change": "deleted"})
        elif int(own[0]) != leaf.checksum:
            self.found.append({"key": identity(leaf.start), "change": "changed"})
        others = [*self.where(a, b), key != self._bound(leaf.start)]
        self.found += [{"key": k, "change": "inserted"} for k in self._keys(others, room)]

    def _locate(self, a: int, b: int) -> dict[str, Any] | None:
        """The one changed, deleted or inserted row of leaf ``a``, from its two sums; None when
        the difference is not a single row (or the leaf kept no weighted sum)."""
        leaf = self.state.leaves[a]
        if leaf.weighted is None:
            return None
        query = sa.select(*self.keys, self.row_hash).select_from(self.table).where(*self.where(a, b))
        rows = self.conn.execute(query.order_by(*self.keys).limit(leaf.count + 2)).all()
        if abs(len(rows) - leaf.count) > 1:
            return None
        width = len(self.keys)
        keys = [identity(tuple(row[:width])) for row in rows]
        hashes = [int(row[width]) for row in rows]
        return _single_change(leaf, keys, hashes)


def _single_change(leaf: Leaf, keys: Sequence[Any], hashes: Sequence[int]) -> dict[str, Any] | None:
    """Solve for one changed, inserted or deleted row between a leaf's sums and its rows now.

    With ``S`` the plain and ``W`` the weighted sum (row ``p`` counts ``p + 1`` times) and
    ``tail(i)`` the sum of the hashes from position ``i`` on, one row at position ``i``:
    changed: ``W_now - W_before = (i + 1) * (S_now - S_before)``;
    inserted (hash ``S_now - S_before``): ``W_now - W_before = (i + 1) * h_i + tail(i + 1)``;
    deleted (hash ``S_before - S_now``): ``W_before - W_now = (i + 1) * h + tail(i)``.
    Each candidate costs O(1), so a leaf of thousands of rows is solved in one pass.
    """
    assert leaf.weighted is not None
    s_now = sum(hashes)
    w_now = sum((p + 1) * h for p, h in enumerate(hashes))
    tails = [0] * (len(hashes) + 1)
    for p in range(len(hashes) - 1, -1, -1):
        tails[p] = tails[p + 1] + hashes[p]
    if len(hashes) == leaf.count:
        d_sum, d_weighted = s_now - leaf.checksum, w_now - leaf.weighted
        if d_sum == 0 or d_weighted % d_sum:
            return None
        position = d_weighted // d_sum
        if 1 <= position <= len(keys):
            return {"key": keys[position - 1], "change": "changed"}
        return None
    if len(hashes) == leaf.count + 1:
        extra = s_now - leaf.checksum
        for i, h in enumerate(hashes):
            if h == extra and w_now - leaf.weighted == (i + 1) * h + tails[i + 1]:
                return {"key": keys[i], "change": "inserted"}
        return None
    if len(hashes) == leaf.count - 1:
        missing = leaf.checksum - s_now
        for i in range(len(hashes) + 1):
            if leaf.weighted - w_now == (i + 1) * missing + tails[i]:
                if i == 0:  # the leaf's first row: its key is the leaf's start
                    return {"key": identity(leaf.start), "change": "deleted"}
                after = keys[i] if i < len(keys) else None
                return {"from": keys[i - 1], "to": after, "rows_before": leaf.count, "rows_after": len(hashes),
                        "change": "deleted"}
        return None
    return None


def hasher_for(dialect_name: str) -> _Hasher:
    """The row hash this check uses on a database (``row_hash(cols)``, ``prepare(conn)``),
    for callers that compare rows by the same hash (the rollback's write diff)."""
    return _hasher(dialect_name)
