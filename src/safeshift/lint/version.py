"""Which server the advice is for: its version, read once, and what that version can do online.

Much of what a statement locks depends on the server's version: PostgreSQL 11 stopped
rewriting the table for ``ADD COLUMN ... DEFAULT``, MySQL 8.0.12 and MariaDB 10.3 added
INSTANT ADD COLUMN, SQLite 3.35 DROP COLUMN. The version comes from the live server
(``ServerFacts.version``), else ``safeshift lint --server-version``, else ``[lint]
server_version``; without any, the oldest release series still supported upstream is assumed
(:data:`ASSUMED`), so the advice holds on every supported server.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

Product = Literal["postgresql", "mysql", "mariadb", "sqlite"]

NAMES: dict[str, str] = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB", "sqlite": "SQLite"}

# The oldest release series still supported upstream in December 2026: PostgreSQL 14 reached
# its end of life in November 2026, MySQL 8.0 in April 2026 (8.4 is the LTS), MariaDB 10.6 in
# July 2026 (10.11 is the oldest LTS). SQLite has no support window: the library this Python
# links is assumed, the one a SQLite migration run from here uses.
ASSUMED: dict[str, str] = {"postgresql": "15", "mysql": "8.4", "mariadb": "10.11"}

# A version given without its patch number ("8.0") means that series' latest release.
_LATEST = 10**6

_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_SOURCES = {
    "server": "from the server",
    "assumed": "assumed: the oldest supported release; --server-version or [lint] server_version to change",
    "library": "assumed: this Python's SQLite library; --server-version or [lint] server_version to change",
}


@dataclass(frozen=True)
class ServerVersion:
    """A server product and version, and where the lint learned it."""

    product: Product
    number: tuple[int, ...]  # (15, 20), (8, 0, 29), (10, 11): as many parts as were given
    source: str = "assumed"  # "server" | "--server-version" | "[lint] server_version" | "assumed" | "library"

    @property
    def dialect(self) -> str:
        """The lint's dialect (MariaDB's SQL is linted as ``mysql``)."""
        return "mysql" if self.product == "mariadb" else self.product

    @property
    def text(self) -> str:
        return ".".join(str(n) for n in self.number)

    @property
    def label(self) -> str:
        """``PostgreSQL 15.20``."""
        return f"{NAMES[self.product]} {self.text}"

    @property
    def mariadb(self) -> bool:
        return self.product == "mariadb"

    def at_least(self, *version: int) -> bool:
        """Whether this is ``version`` or later; a missing patch number counts as the series' latest."""
        padded = self.number + (_LATEST,) * max(0, len(version) - len(self.number))
        return padded >= version

    def describe(self) -> str:
        """``PostgreSQL 15.20 (from the server)``: shown with every lint, so the advice's premise is visible."""
        return f"{self.label} ({_SOURCES.get(self.source, self.source)})"

    def to_dict(self) -> dict[str, Any]:
        return {"product": self.product, "name": NAMES[self.product], "version": self.text, "source": self.source}


def parse_server_version(text: str, dialect: str, source: str) -> ServerVersion:
    """``text`` as a version of ``dialect``'s server ("mariadb" keeps MariaDB apart from MySQL).

    A product named in the text (``PostgreSQL 15.2``, ``10.11.19-MariaDB-0+deb12u1``) wins; a
    bare number on MySQL is MariaDB from 10 up (MySQL went from 8.4 to 9). A product of another
    dialect is a ValueError naming ``source``.
    """
    family = dialect.lower().split("+")[0]
    family = {"postgres": "postgresql", "pg": "postgresql"}.get(family, family)
    cleaned = re.sub(r"^\s*5\.5\.5-", "", text)  # MariaDB's old handshake prefix
    lowered = cleaned.lower()
    m = _NUMBER.search(cleaned)
    if m is None:
        raise ValueError(f"{source}: expected a version such as 15, 8.0.29 or 'MariaDB 10.6', got {text!r}")
    number = tuple(int(part) for part in m.groups() if part is not None)
    products: dict[str, Product] = {"mariadb": "mariadb", "postgres": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}
    named = next((product for key, product in products.items() if key in lowered), None)
    if named is None:
        if family == "mariadb" or (family == "mysql" and number[0] >= 10):
            named = "mariadb"
        elif family in ("mysql", "postgresql", "sqlite"):
            named = products["postgres" if family == "postgresql" else family]
        else:
            raise ValueError(f"{source}: no version rules for {dialect!r}")
    expected = "mysql" if family == "mariadb" else family
    if ("mysql" if named == "mariadb" else named) != expected:
        raise ValueError(f"{source}: {text!r} is a {NAMES[named]} version, but the SQL is linted as {expected}")
    return ServerVersion(named, number, source)


def assumed_version(dialect: str) -> ServerVersion:
    """The version assumed when nothing says which server runs the SQL."""
    family = dialect.lower().split("+")[0]
    family = {"postgres": "postgresql", "pg": "postgresql"}.get(family, family)
    if family == "sqlite":
        return ServerVersion("sqlite", tuple(sqlite3.sqlite_version_info), "library")
    return parse_server_version(ASSUMED.get(family, ASSUMED["postgresql"]), family, "assumed")


def resolve_version(
    dialect: str, *, given: str | None = None, live: str | None = None, setting: str | None = None
) -> ServerVersion:
    """The version the advice is for: ``--server-version``, else the live server's, else
    ``[lint] server_version``, else :func:`assumed_version`. A bad given or set text raises
    ValueError; a live version that cannot be read is passed over."""
    if given:
        return parse_server_version(given, dialect, "--server-version")
    if live:
        try:
            return parse_server_version(live, dialect, "server")
        except ValueError:
            pass
    if setting:
        return parse_server_version(setting, dialect, "[lint] server_version")
    return assumed_version(dialect)


# -- what each version can do (one place, so a rule never compares numbers itself) ------------------


def pg_add_column_default_rewrites(v: ServerVersion) -> bool:
    """Before PostgreSQL 11, ADD COLUMN with a non-NULL DEFAULT writes it into every row."""
    return v.product == "postgresql" and not v.at_least(11)


def pg_reindex_concurrently(v: ServerVersion) -> bool:
    return v.at_least(12)


def pg_detach_concurrently(v: ServerVersion) -> bool:
    return v.at_least(14)


def pg_attach_without_access_exclusive(v: ServerVersion) -> bool:
    """PostgreSQL 12 made ATTACH PARTITION take SHARE UPDATE EXCLUSIVE on the parent."""
    return v.at_least(12)


def instant_add_column(v: ServerVersion, *, positioned: bool) -> bool:
    """MySQL 8.0.12 / MariaDB 10.3.2 add a last column instantly; MySQL 8.0.29 / MariaDB 10.4 anywhere."""
    if v.mariadb:
        return v.at_least(10, 4) if positioned else v.at_least(10, 3, 2)
    return v.at_least(8, 0, 29) if positioned else v.at_least(8, 0, 12)


def instant_add_column_since(v: ServerVersion, *, positioned: bool) -> str:
    """The first release of this server that adds such a column instantly (for the message)."""
    if v.mariadb:
        return "MariaDB 10.4" if positioned else "MariaDB 10.3.2"
    return "MySQL 8.0.29" if positioned else "MySQL 8.0.12"


def instant_drop_column(v: ServerVersion) -> bool:
    """MySQL 8.0.29 / MariaDB 10.4 drop a column instantly; before, the table is rebuilt in place."""
    return v.at_least(10, 4) if v.mariadb else v.at_least(8, 0, 29)


def sqlite_drop_column(v: ServerVersion) -> bool:
    return v.at_least(3, 35, 0)


def sqlite_rename_column(v: ServerVersion) -> bool:
    return v.at_least(3, 25, 0)
