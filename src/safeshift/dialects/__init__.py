"""Dialect registry: one module per database, chosen by the URL's backend name."""

from __future__ import annotations

import importlib

from sqlalchemy.engine import URL

from safeshift.dialects.base import BackupInfo, Dialect, ServerFacts, Session, TableFacts
from safeshift.errors import ConfigError

__all__ = ["BackupInfo", "Dialect", "ServerFacts", "Session", "TableFacts", "get_dialect"]

# backend name -> "module:Class"; modules are imported on first use so a missing driver
# for one database never breaks another.
_REGISTRY: dict[str, str] = {
    "sqlite": "safeshift.dialects.sqlite:SQLiteDialect",
    "postgresql": "safeshift.dialects.postgresql:PostgreSQLDialect",
    "mysql": "safeshift.dialects.mysql:MySQLDialect",
    "mariadb": "safeshift.dialects.mysql:MySQLDialect",
}


def get_dialect(url: URL) -> Dialect:
    """The dialect for a URL, e.g. ``sqlite:///app.db`` or ``postgresql+psycopg://...``."""
    backend = url.get_backend_name()
    target = _REGISTRY.get(backend)
    if target is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"database.url: unsupported database {backend!r} (supported: {known})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"database.url: support for {backend} is not available: {exc}") from None
    cls: type[Dialect] = getattr(module, class_name)
    return cls(url)
