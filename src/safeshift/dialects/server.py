"""What the server dialects (PostgreSQL, MySQL/MariaDB) share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from safeshift import faults
from safeshift.dialects._tools import compare_counts, db_error, scratch_name
from safeshift.dialects.base import BackupInfo, Dialect, Progress
from safeshift.errors import BackupError, ConfigError, ConnectError
from safeshift.secrets import safe_url


class ServerDialect(Dialect):
    """What PostgreSQL and MySQL/MariaDB share: a driver of our choosing, a reachability probe,
    and backup verification by loading the backup into a scratch database.

    Subclasses say how a scratch database is made and loaded (:meth:`_create_empty`,
    :meth:`_load_backup`) and how long its name may be.
    """

    max_name_chars: ClassVar[int]
    _lock_guard: ClassVar[threading.Lock] = threading.Lock()  # the lock's connection is not thread-safe
    default_database: ClassVar[str]

    def driver_url(self) -> URL:
        """The URL with the driver these modules are written for."""
        return self.url

    def create_engine(self) -> Engine:
        return create_engine(self.driver_url(), pool_pre_ping=True)

    def check_reachable(self) -> None:
        engine = create_engine(self.driver_url(), poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise ConnectError(f"cannot connect to {safe_url(self.url)}: {db_error(exc)}") from None
        finally:
            engine.dispose()

    def database_names(self) -> list[str]:
        """Every database on the server."""
        raise NotImplementedError

    def drop_leftovers(self, run_id: str, backup_dir: Path) -> list[str]:
        """Also the run's scratch databases (``<db>_safeshift_<label>_<run>``): full copies of the data."""
        removed = super().drop_leftovers(run_id, backup_dir)
        tail = scratch_name("x", "y", run_id, 10_000).removeprefix("x_safeshift_y_")  # the run's part of a name
        for name in self.database_names():
            if "_safeshift_" in name and name.endswith(f"_{tail}") and name != self.url.database:
                self.drop_database(name)
                removed.append(name)
        return removed

    # set by run_lock while the lock is held: ask the lock's own session; take it again; has the
    # server restarted since it was taken (None: it does not answer now)?
    _lock_check: Callable[[], bool] | None = None
    _relock: Callable[[], bool] | None = None
    _restarted: Callable[[], bool | None] | None = None

    def lock_alive(self) -> bool:
        """Does this run still hold the database's run lock?

        Its session answers and the server lists the lock as its: held. Otherwise, a server
        that restarted ended every session, so the lock is free: it is taken again on a new
        session (False if another run took it first). A session ended while the server stayed
        up (a DBA's terminate, a KILL) is a lost lock. A server that does not answer cannot
        tell: True, and the next step waits for it or fails on its own.
        """
        check = self._lock_check
        if check is None:
            return True  # no run lock held by this process (status, lint): nothing to lose
        with self._lock_guard:
            try:
                if check():
                    return True
            except Exception:  # noqa: BLE001 - any failure to ask: find out why below
                pass
            restarted = self._restarted() if self._restarted is not None else False
            if restarted is None:
                return True
            return bool(restarted and self._relock is not None and self._relock())

    def check_scratch(self, run_id: str, why: str) -> None:
        """Create and drop an empty run-named database: a login that cannot is found at
        preflight (exit 2), not when a rollback's proof needs the copy (an unprovable exit 4)."""
        name = scratch_name(self.url.database or self.default_database, "can", run_id, self.max_name_chars)
        try:
            self._create_empty(name)
        except BackupError as exc:
            raise ConfigError(
                f"{why} needs a scratch database, and this login cannot create one ({exc.message}); "
                "grant that, or set [rollback] prove_contents = \"snapshot\" and [backup] verify = \"scan\""
            ) from None
        self.drop_database(name)

    def backup_counts(self, backup: BackupInfo) -> dict[str, int]:
        path = Path(backup.path)
        self._check_backup_file(path)
        return self._scan_counts(path)

    def _check_backup_file(self, path: Path) -> None:
        """Refuse a backup file that is visibly incomplete before loading it anywhere."""

    def _create_empty(self, name: str) -> URL:
        """An empty database ``name`` like this one; its URL."""
        raise NotImplementedError

    def _load_backup(self, url: URL, path: Path, name: str, progress: Progress | None = None) -> None:
        """Load the backup file into the (empty) database at ``url`` (``progress``: how far)."""
        raise NotImplementedError

    def _scan_counts(self, path: Path) -> dict[str, int]:
        """Rows per table of the default schema, read from the backup file without loading it."""
        raise NotImplementedError

    def verify_backup(
        self,
        backup: BackupInfo,
        snapshot: dict[str, int],
        run_id: str,
        method: str = "restore",
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """``restore``: load into a scratch database, compare every table's exact row count, drop it.
        ``scan``: read the whole file, compare the rows it holds per table (no server work)."""
        path = Path(backup.path)
        self._check_backup_file(path)
        if method == "scan":
            counts = self._scan_counts(path)
            compare_counts(backup.path, snapshot, counts)
            return {"method": "scan", "tables_compared": len(snapshot), "row_counts_equal": True}
        name = scratch_name(self.url.database or self.default_database, "verify", run_id, self.max_name_chars)
        url = self._create_empty(name)
        try:
            self._load_backup(url, path, name, progress)
            faults.hit("backup:verify:loaded")
            engine = create_engine(type(self)(url).driver_url(), poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    counts = self.row_counts(conn)
            except SQLAlchemyError as exc:
                raise BackupError(f"cannot count rows in scratch database {name}: {db_error(exc)}") from None
            finally:
                engine.dispose()
        finally:
            self.drop_database(name)
        compare_counts(backup.path, snapshot, counts)
        return {"method": "restore", "scratch_database": name, "tables_compared": len(snapshot), "row_counts_equal": True}
