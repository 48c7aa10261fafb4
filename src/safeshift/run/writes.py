"""What the application wrote since the backup: rows inserted, updated and deleted, by key.

A rollback compares the database as it is with the before-state (the run's verified
backup, restored into a scratch copy) table by table, so no row the application wrote
after maintenance went off is discarded without being listed, and, when a restore
discards it, saved as SQL that re-applies it.

Only tables the proof found different are compared; each is read once on each side as
(key, row hash) pairs (the hash the ``table_unchanged`` check uses, over the columns the
table had before), and the two are matched by key in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from safeshift.checks.common import TableRef, column_names, identity, primary_key
from safeshift.checks.table_unchanged import hasher_for

FIRST_KEYS = 10  # keys listed per kind of change in the report; the saved file holds all


@dataclass
class TableWrites:
    """One table's rows that differ from the before-state, by key."""

    table: str
    inserted: list[Any] = field(default_factory=list)
    updated: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    rows_before: int | None = None  # tables without a primary key: counts only
    rows_now: int | None = None

    @property
    def total(self) -> int:
        if self.rows_before is not None and self.rows_now is not None:
            return abs(self.rows_now - self.rows_before)
        return len(self.inserted) + len(self.updated) + len(self.deleted)

    def summary(self) -> str:
        if self.rows_before is not None:
            return f"{self.table}: {self.rows_before} rows before, {self.rows_now} now (no key to name them)"
        parts = [f"{len(keys)} {kind}" for kind, keys in self._kinds() if keys]
        return f"{self.table}: {', '.join(parts)}"

    def _kinds(self) -> list[tuple[str, list[Any]]]:
        return [("inserted", self.inserted), ("updated", self.updated), ("deleted", self.deleted)]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"table": self.table}
        if self.rows_before is not None:
            data.update(rows_before=self.rows_before, rows_now=self.rows_now)
            return data
        for kind, keys in self._kinds():
            data[kind] = len(keys)
            data[f"first_{kind}"] = [identity(k) for k in keys[:FIRST_KEYS]]
        return data


@dataclass
class Writes:
    """Rows that differ from the before-state when a rollback looked, and what became of them."""

    tables: list[TableWrites] = field(default_factory=list)
    policy: str = "keep"
    fate: str = "kept"  # kept | saved (restored, rows in ``saved_to``) | stopped (nothing more changed)
    saved_to: str | None = None
    created: dict[str, int] = field(default_factory=dict)  # tables the migration made: rows held at rollback
    live: bool = True  # the application could write (maintenance off after apply, or none configured)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tables)

    def summary(self, limit: int = 3) -> str:
        shown = "; ".join(t.summary() for t in self.tables[:limit])
        more = f"; and {len(self.tables) - limit} more tables" if len(self.tables) > limit else ""
        return shown + more

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.total,
            "policy": self.policy,
            "fate": self.fate,
            "saved_to": self.saved_to,
            "live": self.live,
            "tables": [t.to_dict() for t in self.tables],
            "created_tables": self.created,
        }


def _row_hashes(conn: Connection, ref: TableRef, key: Sequence[str], columns: Sequence[str]) -> Iterator[tuple[Any, int]]:
    hasher = hasher_for(conn.dialect.name)
    hasher.prepare(conn)
    table = ref.core(*key, *columns)
    query = sa.select(*(table.c[k] for k in key), hasher.row_hash([table.c[c] for c in columns]))
    width = len(key)
    for row in conn.execution_options(stream_results=True).execute(query):
        yield tuple(row[:width]), int(row[width])


def diff_table(before: Connection, now: Connection, name: str) -> TableWrites:
    """Keys inserted, updated and deleted in ``name`` between the before-state and now.

    The row hash covers the columns the table had before that it still has, so a column
    the migration added (and a downgrade that failed to drop it) does not make every row
    look updated.
    """
    ref = TableRef.parse(name)
    key = primary_key(before, ref)
    if not key:
        count = sa.select(sa.func.count()).select_from(ref.core())
        return TableWrites(
            name, rows_before=int(before.execute(count).scalar_one()), rows_now=int(now.execute(count).scalar_one())
        )
    present = set(column_names(now, ref))
    columns = [c for c in column_names(before, ref) if c in present]
    old = dict(_row_hashes(before, ref, key, columns))
    result = TableWrites(name)
    for row_key, row_hash in _row_hashes(now, ref, key, columns):
        was = old.pop(row_key, None)
        if was is None:
            result.inserted.append(row_key)
        elif was != row_hash:
            result.updated.append(row_key)
    result.deleted = list(old)
    for keys in (result.inserted, result.updated, result.deleted):
        _in_key_order(keys)
    return result


def _in_key_order(keys: list[Any]) -> None:
    """Sort keys as the table orders them (9 before 10); keys that do not compare (a NULL in a
    composite key, mixed types) fall back to their text."""
    try:
        keys.sort()
    except TypeError:
        keys.sort(key=repr)


def diff_tables(before: Connection, now: Connection, tables: Iterable[str]) -> list[TableWrites]:
    """Every listed table that differs, in name order."""
    found = [diff_table(before, now, name) for name in sorted(tables)]
    return [t for t in found if t.total]


# -- saving what a restore discards ------------------------------------------------------------


def _renderable(value: Any, dialect: sa.engine.Dialect) -> sa.ColumnElement[Any]:
    """A value as a bound literal the dialect can write into SQL text (JSON, dates and other
    types without a literal renderer of their own are written as their text form)."""
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    element: sa.ColumnElement[Any] = sa.literal(value)
    try:
        element.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        return element
    except Exception:  # no literal renderer for this type here
        pass
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value)
    elif isinstance(value, bytes):
        text = value.hex()
    else:
        text = str(value)
    return sa.literal(text, sa.String())


def _sql(statement: sa.ClauseElement, dialect: sa.engine.Dialect) -> str:
    return f"{statement.compile(dialect=dialect, compile_kwargs={'literal_binds': True})};"


def save_writes(now: Connection, writes: list[TableWrites], path: Path) -> int:
    """Write SQL that re-applies every listed row to the restored database; returns statements written.

    Inserted and updated rows are read from ``now`` (the database before the restore) and
    written as DELETE + INSERT by key, deleted ones as DELETE, so the file can be run
    once on the restored database, or read and merged by hand. The statements are built
    with SQLAlchemy and rendered with the dialect's own quoting; nothing here executes them.
    """
    dialect = now.dialect
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "-- rows the application wrote after the backup, discarded by safeshift's restore\n"
            "-- re-apply with care: review each statement, then run it on the restored database\n"
        )
        for writes_of in writes:
            ref = TableRef.parse(writes_of.table)
            key = primary_key(now, ref)
            out.write(f"\n-- {writes_of.summary()}\n")
            if not key:
                out.write("-- no primary key: the rows are in the backup taken before the rollback\n")
                continue
            columns = column_names(now, ref)
            table = ref.core(*columns)
            for kind, keys in (("inserted", writes_of.inserted), ("updated", writes_of.updated), ("deleted", writes_of.deleted)):
                for row_key in keys:
                    where = [table.c[k] == _renderable(v, dialect) for k, v in zip(key, row_key, strict=True)]
                    out.write(f"{_sql(sa.delete(table).where(*where), dialect)}  -- {kind}\n")
                    count += 1
                    if kind == "deleted":
                        continue
                    row = now.execute(sa.select(*(table.c[c] for c in columns)).where(*where)).first()
                    if row is None:  # gone since we looked: nothing to re-apply
                        out.write("-- (the row was gone when it was saved)\n")
                        continue
                    values = {c: _renderable(v, dialect) for c, v in zip(columns, row, strict=True)}
                    out.write(_sql(sa.insert(table).values(values), dialect) + "\n")
                    count += 1
    return count
