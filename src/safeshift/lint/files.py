"""SQL files as the lint reads them: statements, and a finding for a file that is not UTF-8."""

from __future__ import annotations

from pathlib import Path

from safeshift.errors import ConfigError
from safeshift.lint.core import unreadable
from safeshift.lint.model import Finding
from safeshift.lint.sqltext import split_script


def read_sql_files(files: list[Path], dialect_name: str) -> tuple[list[str], list[Finding]]:
    """Every file's statements in order, and an SS095 finding naming each file that is not UTF-8
    (the others are still linted). A file that cannot be read at all is a usage error."""
    statements: list[str] = []
    unread: list[Finding] = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            statements += split_script(raw.decode("utf-8-sig"), dialect_name)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            unread += unreadable(str(path), f"not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line})")
    return statements, unread
