"""What the server dialects (PostgreSQL, MySQL/MariaDB) share."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from safeshift.dialects._tools import db_error
from safeshift.dialects.base import Dialect
from safeshift.errors import ConnectError
from safeshift.secrets import safe_url


class ServerDialect(Dialect):
    """What PostgreSQL and MySQL/MariaDB share: a driver of our choosing and a reachability probe."""

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
