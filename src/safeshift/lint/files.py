"""SQL files as ``safeshift lint FILE...`` reads them: the dialect named on the command line, each
file split into statements, and a file that is not UTF-8 named (SS095) while the others still lint."""

from __future__ import annotations

from pathlib import Path

from safeshift.errors import ConfigError
from safeshift.lint.core import unreadable
from safeshift.lint.model import Finding, LintSettings
from safeshift.lint.sqltext import split_script
from safeshift.lint.statement import normalize_dialect


def lint_dialect(name: str, *, given: bool) -> str:
    """``name`` as the lint knows it (``mariadb`` is ``mysql``); a database it has no rules for is
    a usage error, not a crash (``given``: named by --dialect, else by the plan's URL)."""
    try:
        return normalize_dialect(name)
    except ValueError:
        if given:
            raise ConfigError(f"--dialect: expected sqlite, postgresql, mysql or mariadb, got {name!r}") from None
        raise ConfigError(f"lint: no lint rules for {name!r} databases (sqlite, postgresql, mysql, mariadb)") from None


def read_sql_files(files: list[Path], dialect: str, settings: LintSettings | None = None) -> tuple[list[str], list[Finding]]:
    """The files' statements in order, and an SS095 finding for each file that is not UTF-8
    (a BOM is dropped). A file that cannot be opened at all is a usage error."""
    statements: list[str] = []
    problems: list[Finding] = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            statements += split_script(raw.decode("utf-8-sig"), dialect)
        except UnicodeDecodeError as exc:  # named, and the other files are still linted
            line = raw.count(b"\n", 0, exc.start) + 1
            problems += unreadable(str(path), f"not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line})", settings)
    return statements, problems
