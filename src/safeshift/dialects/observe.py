"""Watching a migration run on a scratch copy: the locks each statement took, the tables it rewrote.

The lint predicts a statement's lock from its text; a copy of the database can show it. An
observer is called around every statement executed on the copy (``before`` and ``after``,
on the migrating DB-API connection) and says what that statement added: the locks it holds
now, and the tables whose storage it replaced. Each database observes what it can
(``Dialect.lock_observer``): PostgreSQL reads ``pg_locks`` from a second session while the
statement's transaction is still open; SQLite sees its one write lock and a table replaced
by a rebuild. MySQL/MariaDB commit DDL at once, so nothing is held afterwards: this base
observer sees nothing there, and the server is asked on a replay instead
(``Dialect.asks_lock_classes``).

Only objects that existed when the migration began count: a lock on a table the migration
itself created blocks nobody, since nobody else knows it yet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# SQLite's lock: on the whole database, not one table
DATABASE = "(database)"
WRITE_LOCK = "database write lock"
RELEASED = "ran outside a transaction (autocommit): its locks were released before they could be read"


@dataclass(frozen=True)
class HeldLock:
    """One lock a statement took: on which relation (a table, an index, the database), in which mode.

    ``mode`` is the database's own word: a PostgreSQL lock mode ("ACCESS EXCLUSIVE"), the
    lock class MySQL/MariaDB accepted for it ("instant", "inplace", "copy"), or SQLite's
    "database write lock". ``table`` is the table the relation belongs to (an index's).
    """

    relation: str
    mode: str
    table: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Seen:
    """What an observer saw of one statement."""

    locks: list[HeldLock] = field(default_factory=list)
    rewrote: list[str] = field(default_factory=list)  # tables whose storage it replaced (a full copy)
    wrote: bool | None = None  # whether it changed anything; None: this database cannot tell
    note: str | None = None  # why the locks may be incomplete (autocommit, an error reading them)


class LockObserver:
    """Sees nothing: the base for a database whose locks cannot be read after a statement.

    ``before``/``after`` get the DB-API connection the statement runs on. They must not
    change its transaction state or leave anything on it: they run inside the migration.
    """

    def before(self, dbapi_conn: Any) -> None:
        """Remember the state ``after`` compares with."""

    def after(self, dbapi_conn: Any) -> Seen:
        """What the statement that just ran added."""
        return Seen()

    def close(self) -> None:
        """Release what the observer opened (a second session)."""


def cursor_rows(dbapi_conn: Any, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on a cursor of its own on ``dbapi_conn``: no SQLAlchemy event sees it,
    so the recorder of a migration never captures the observer's own queries."""
    cursor = dbapi_conn.cursor()
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
