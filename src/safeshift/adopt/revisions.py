"""``safeshift revisions TOOL``: an external tool's current and pending migrations, one per line.

The command engine's ``current`` and ``pending`` commands for the tools ``safeshift init``
recognises: run in the plan's folder with the database URL in ``$DATABASE_URL`` (as the
command engine passes it), they read the tool's version table and its migration folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from safeshift.adopt.tools import get_tool
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ConnectError, SafeshiftError
from safeshift.secrets import first_line, register_url, safe_url


@dataclass
class ToolRevisions:
    tool: str
    current: str | None
    pending: list[dict[str, str]] | None  # None: not asked
    exit_code: int = 0

    def lines(self) -> list[str]:
        """What the command engine reads: the current revision, or "ID description" per pending one."""
        if self.pending is not None:
            return [f"{p['id']} {p['message']}".strip() for p in self.pending]
        return [self.current] if self.current else []

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "current": self.current, "pending": self.pending}


def read_revisions(tool_name: str, folder: Path, *, pending: bool = False, url_env: str = "DATABASE_URL") -> ToolRevisions:
    """The database's revision by ``tool_name``'s version table; with ``pending``, the migrations in ``folder`` not applied."""
    tool = get_tool(tool_name)
    if pending and not folder.is_dir():
        raise ConfigError(f"--dir: {folder}: no such folder (the tool's migrations)")
    raw = os.environ.get(url_env)
    if not raw:
        raise ConfigError(f"${url_env} is not set (the command engine puts the database URL there)")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"${url_env}: not a database URL") from None
    register_url(url)
    engine = get_dialect(url).create_engine()
    try:
        with engine.connect() as conn:
            current = tool.current(conn)
            todo = tool.pending(conn, folder) if pending else None
    except SafeshiftError:
        raise
    except SQLAlchemyError as exc:
        raise ConnectError(f"cannot read {tool.table} in {safe_url(url)}: {first_line(exc)}") from None
    finally:
        engine.dispose()
    listed = None if todo is None else [{"id": rid, "message": text} for rid, text in todo]
    return ToolRevisions(tool=tool.name, current=current, pending=listed)
