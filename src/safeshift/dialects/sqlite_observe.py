"""SQLite's lock observer: one write lock for the whole database, and tables replaced by a rebuild.

A statement that changed rows (``total_changes()``) or the schema (``PRAGMA schema_version``)
took the database's write lock, held until its transaction commits: every other writer waits.
A table that was there when the migration began and now has another root page was replaced
by a new table (Alembic's batch mode: create, copy, drop, rename), which copied every row.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from safeshift.dialects.observe import (
    DATABASE,
    WRITE_LOCK,
    HeldLock,
    LockObserver,
    Seen,
    cursor_rows,
)

NO_ROWS = "changed nothing here (no rows to change): a write that changes a row takes the database write lock"
_ROOTS = "SELECT name, rootpage FROM sqlite_master WHERE type = 'table'"


class SQLiteLockObserver(LockObserver):
    def __init__(self) -> None:
        self._before: dict[int, tuple[int, int, dict[str, int]]] = {}
        self._start: dict[str, int] | None = None  # root page of each table when the migration began
        # the last statement seen to change nothing, and total_changes() then: a statement with
        # RETURNING changes its rows as they are fetched, after the cursor event, so it is settled later
        self._open: tuple[Any, int, Seen] | None = None

    def before(self, dbapi_conn: Any) -> None:
        self._settle(dbapi_conn)
        state = _state(dbapi_conn)
        if self._start is None:
            self._start = dict(state[2])
        self._before[id(dbapi_conn)] = state

    def after(self, dbapi_conn: Any) -> Seen:
        before = self._before.pop(id(dbapi_conn), None)
        if before is None:
            return Seen(note="not observed")
        changes, version, roots = _state(dbapi_conn)
        wrote = changes != before[0] or version != before[1]
        start = self._start or {}
        # replaced by this statement: there at the start, now with another root page, which it
        # did not have just before (the rename that ends a rebuild, not every statement after it)
        rebuilt = sorted(
            name for name, root in roots.items()
            if name in start and root != start[name] and before[2].get(name) != root
        )
        if wrote:
            return Seen(locks=[HeldLock(DATABASE, WRITE_LOCK)], rewrote=rebuilt, wrote=True)
        seen = Seen(rewrote=rebuilt, wrote=False, note=NO_ROWS)  # a write that found no rows (a schema-only copy has none)
        self._open = (dbapi_conn, changes, seen)
        return seen

    def close(self) -> None:
        if self._open is not None:
            with contextlib.suppress(sqlite3.Error):  # the connection is gone: nothing more to learn
                self._settle(self._open[0])

    def _settle(self, dbapi_conn: Any) -> None:
        if self._open is None or self._open[0] is not dbapi_conn:
            return
        _, changes, seen = self._open
        self._open = None
        if int(cursor_rows(dbapi_conn, "SELECT total_changes()")[0][0]) != changes:
            seen.locks, seen.wrote, seen.note = [HeldLock(DATABASE, WRITE_LOCK)], True, None


def _state(dbapi_conn: Any) -> tuple[int, int, dict[str, int]]:
    changes = int(cursor_rows(dbapi_conn, "SELECT total_changes()")[0][0])
    version = int(cursor_rows(dbapi_conn, "PRAGMA schema_version")[0][0])
    roots = {str(name): int(root or 0) for name, root in cursor_rows(dbapi_conn, _ROOTS)}
    return changes, version, roots
