"""PostgreSQL's lock observer: ``pg_locks`` read from a second session while each statement's
transaction is still open, and a table's relfilenode read before and after it (a new one: the
table was rewritten).

A relation lock is held until the transaction ends, so after a statement its transaction holds
everything the statement took; what was held before it is subtracted. Which relation an OID
is, and its relfilenode, are read on the migrating session itself: the second session cannot
see a transaction's uncommitted catalog rows (a table rewritten or created in it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from safeshift.dialects.observe import RELEASED, HeldLock, LockObserver, Seen, cursor_rows

# PostgreSQL's table lock modes, weakest first (each conflicts with more of the others)
MODES = (
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
)

# every user relation a lock can name: tables, partitioned tables, views, materialized views,
# foreign tables, sequences and indexes (an index's table beside it)
_RELATIONS = (
    "SELECT c.oid::bigint, c.relname, c.relkind::text, c.relfilenode::bigint, t.relname, c.ctid::text "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
    "LEFT JOIN pg_catalog.pg_class t ON t.oid = i.indrelid "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'i', 'I') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"
)
_LOCKS = (
    "SELECT relation::bigint, mode FROM pg_catalog.pg_locks "
    "WHERE pid = %s AND locktype = 'relation' AND granted AND relation IS NOT NULL"
)


@dataclass(frozen=True)
class _Relation:
    name: str
    kind: str  # pg_class.relkind
    filenode: int
    table: str  # the table an index belongs to; the relation itself otherwise
    row: str  # where its pg_class row is (ctid): another after an ALTER changed it


def mode_name(pg_mode: str) -> str:
    """``AccessExclusiveLock`` (pg_locks) → ``ACCESS EXCLUSIVE`` (the documentation's and the lint's word)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", pg_mode.removesuffix("Lock")).upper()


class PgLockObserver(LockObserver):
    """Observes the migrating sessions of the copy at ``url`` from a session of its own."""

    def __init__(self, url: URL) -> None:
        self._engine: Engine = create_engine(url, poolclass=NullPool)
        self._watcher: Any = None  # a DB-API connection: no SQLAlchemy event (no recorder) sees its queries
        self._pids: dict[int, int] = {}
        self._before: dict[int, tuple[dict[int, _Relation], set[tuple[int, str]]]] = {}
        self._existing: set[int] | None = None  # relations there when the migration began

    def before(self, dbapi_conn: Any) -> None:
        key = id(dbapi_conn)
        if key not in self._pids:
            self._pids[key] = int(cursor_rows(dbapi_conn, "SELECT pg_backend_pid()")[0][0])
        relations = _relations(dbapi_conn)
        if self._existing is None:
            self._existing = set(relations)
        self._before[key] = (relations, self._held(self._pids[key]))

    def after(self, dbapi_conn: Any) -> Seen:
        key = id(dbapi_conn)
        if key not in self._before:  # before() did not run for it (an error in between)
            return Seen(note="not observed")
        relations, held = self._before.pop(key)
        now = _relations(dbapi_conn)
        added = self._held(self._pids[key]) - held
        named = {**relations, **now}
        existing = self._existing or set()
        strongest = _strongest((oid, mode) for oid, mode in added if oid in existing and oid in named)
        locks = sorted(
            (HeldLock(named[oid].name, mode, named[oid].table) for oid, mode in strongest.items()),
            key=lambda lock: (-MODES.index(lock.mode), lock.relation),
        )
        rewrote = sorted(
            rel.name
            for oid, rel in relations.items()
            if rel.kind in ("r", "m") and oid in existing and oid in now and now[oid].filenode != rel.filenode
        )
        # a write: a lock beyond reading, or the catalog changed (a relation made, dropped or altered)
        changed = {oid: r.row for oid, r in relations.items()} != {oid: r.row for oid, r in now.items()}
        wrote = changed or bool(rewrote) or any(mode != "ACCESS SHARE" and oid in named for oid, mode in added)
        note = None
        if getattr(dbapi_conn, "autocommit", False):
            note = RELEASED
        elif not locks:
            made = {(oid, mode) for oid, mode in added if oid in named and oid not in existing}
            note = _listed("locks only what this migration created (nobody else can wait on it): ", made, named) or (
                _listed("no new lock: its transaction already held ", {(o, m) for o, m in held if o in existing}, named)
            )
        return Seen(locks=locks, rewrote=rewrote, wrote=wrote, note=note)

    def _held(self, pid: int) -> set[tuple[int, str]]:
        if self._watcher is None:
            self._watcher = self._engine.raw_connection()
            self._watcher.dbapi_connection.autocommit = True  # every read a fresh look
        rows = cursor_rows(self._watcher.dbapi_connection, _LOCKS, (pid,))
        return {(int(oid), mode_name(str(mode))) for oid, mode in rows if mode_name(str(mode)) in MODES}

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._engine.dispose()


def _strongest(locks: Iterable[tuple[int, str]]) -> dict[int, str]:
    """The strongest mode held on each relation."""
    out: dict[int, str] = {}
    for oid, mode in locks:
        if oid not in out or MODES.index(mode) > MODES.index(out[oid]):
            out[oid] = mode
    return out


def _listed(prefix: str, locks: set[tuple[int, str]], named: dict[int, _Relation]) -> str | None:
    """The strongest lock per table among ``locks`` (indexes left out), as words after ``prefix``.

    A lock the transaction already held is not added again to pg_locks, and one on a relation
    the migration created blocks nobody: either way "no lock found" must not read "nothing locked".
    """
    strongest = _strongest((oid, mode) for oid, mode in locks if oid in named and named[oid].kind not in ("i", "I"))
    if not strongest:
        return None
    top = sorted(((named[oid].name, mode) for oid, mode in strongest.items()), key=lambda item: (-MODES.index(item[1]), item[0]))
    return prefix + ", ".join(f"{mode} on {name}" for name, mode in top[:3]) + (", ..." if len(top) > 3 else "")


def _relations(dbapi_conn: Any) -> dict[int, _Relation]:
    """Every user relation as the migrating session sees it (its own uncommitted changes too)."""
    found: dict[int, _Relation] = {}
    for oid, name, kind, filenode, table, row in cursor_rows(dbapi_conn, _RELATIONS):
        found[int(oid)] = _Relation(str(name), str(kind), int(filenode or 0), str(table or name), str(row))
    return found
