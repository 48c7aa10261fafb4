"""Dialect registry: one module per database, chosen by the URL's backend name."""

from __future__ import annotations

from sqlalchemy.engine import URL

from safeshift.dialects.base import BackupInfo, Dialect, ServerFacts, Session, TableFacts
from safeshift.registry import Registry

__all__ = ["DIALECTS", "BackupInfo", "Dialect", "ServerFacts", "Session", "TableFacts", "get_dialect"]

# backend name -> "module:Class"; modules are imported on first use so a missing driver
# for one database never breaks another.
DIALECTS: Registry[type[Dialect]] = Registry(
    "database", unknown="unsupported database {name!r} (supported: {known})"
)
DIALECTS.register_lazy("sqlite", "safeshift.dialects.sqlite:SQLiteDialect")
DIALECTS.register_lazy("postgresql", "safeshift.dialects.postgresql:PostgreSQLDialect")
DIALECTS.register_lazy("mysql", "safeshift.dialects.mysql:MySQLDialect")
DIALECTS.register_lazy("mariadb", "safeshift.dialects.mysql:MySQLDialect")


def get_dialect(url: URL) -> Dialect:
    """The dialect for a URL, e.g. ``sqlite:///app.db`` or ``postgresql+psycopg://...``."""
    cls = DIALECTS.get(url.get_backend_name(), where="database.url")
    return cls(url)
