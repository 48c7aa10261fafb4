"""PostgreSQL's run lock: a session-level advisory lock on a dedicated, labelled session.

The label (application_name) is what a second run reads to say who holds the lock; the
session is asked whether it still holds it (fencing), and the lock is taken again on a new
session after a server restart, when every session ended and the lock is free.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from safeshift.dialects import _tools
from safeshift.errors import ConnectError, LockError
from safeshift.secrets import safe_url

APP_PREFIX = "safeshift "  # short: application_name keeps 63 bytes, and the id and start time need 51
MAX_IDENTIFIER_BYTES = 63


class AdvisoryLock:
    """The run lock's own session: taken, asked whether it still holds the lock, and taken
    again on a new session after a server restart (every session ended, the lock was free)."""

    def __init__(self, url: URL, key: int, label: str) -> None:
        self.url, self.key, self.label = url, key, label
        self.engine = create_engine(url, poolclass=NullPool)
        self.conn: Connection | None = None
        self.pid: int | None = None
        self.server_start: Any = None

    def take(self) -> None:
        """Take the lock on a new session (LockError naming the holder when another run has it)."""
        self._close()
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            raise ConnectError(f"cannot connect to {safe_url(self.url)}: {_tools.db_error(exc)}") from None
        if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one():
            message = _holder_message(conn, self.key, self.url.database or "")
            conn.close()
            raise LockError(message)
        conn.execute(text("SELECT set_config('application_name', :label, false)"), {"label": self.label})
        if conn.dialect.server_version_info and conn.dialect.server_version_info >= (14,):
            conn.execute(text("SET idle_session_timeout = 0"))  # a long run must not lose its lock to it
        self.pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        self.server_start = conn.execute(text("SELECT pg_postmaster_start_time()")).scalar_one()
        self.conn = conn

    def held(self) -> bool:
        assert self.conn is not None
        return bool(
            self.conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                    "AND pid = pg_backend_pid() AND classid::bigint = :hi AND objid::bigint = :lo"
                ),
                {"hi": (self.key >> 32) & 0xFFFFFFFF, "lo": self.key & 0xFFFFFFFF},
            ).scalar_one()
        )

    def restarted(self) -> bool | None:
        """Has the server restarted since the lock was taken? None: it does not answer now."""
        try:
            with self.engine.connect() as conn:
                return bool(conn.execute(text("SELECT pg_postmaster_start_time()")).scalar_one() != self.server_start)
        except SQLAlchemyError:
            return None

    def take_again(self) -> bool:
        try:
            self.take()
        except (LockError, ConnectError):
            return False
        return True

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(SQLAlchemyError):  # a dead connection has released it anyway
                self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        self._close()
        self.engine.dispose()

    def _close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self.conn.close()
            self.conn = None


def lock_key(database: str) -> int:
    """A stable signed 64-bit advisory-lock key for the database."""
    digest = hashlib.blake2b(f"safeshift:{database}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def run_label(run_id: str, started: str) -> str:
    """``safeshift <id> <started>``, within the 63 bytes application_name keeps."""
    clean = [re.sub(r"\s+", "_", part) for part in (run_id, started)]
    label = APP_PREFIX + " ".join(clean)
    return label.encode()[:MAX_IDENTIFIER_BYTES].decode("utf-8", "ignore")


def _holder_message(conn: Connection, key: int, database: str) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        text(
            "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND CAST(l.classid AS bigint) = :hi AND CAST(l.objid AS bigint) = :lo LIMIT 1"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
    ).first()
    if row is None:  # released between our attempt and this look-up
        return f"another safeshift run holds database {database}; try again"
    pid, app = int(row[0]), str(row[1] or "")
    if app.startswith(APP_PREFIX):
        run_id, _, started = app[len(APP_PREFIX):].partition(" ")
        return f"another safeshift run holds database {database}: run {run_id} started {started or '?'} (backend pid {pid})"
    return f"another session holds safeshift's lock on database {database} (backend pid {pid}, application {app!r})"
