"""One exception family with a user-facing message and an exit code.

Every error a user can cause or meet ends up here, so the CLI can print one line and
exit with a documented code instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (see README)."""

    OK = 0
    CHECKS_FAILED = 1
    USAGE = 2
    ROLLED_BACK = 3
    ROLLBACK_FAILED = 4


class SafeshiftError(Exception):
    """Base class: ``str(err)`` is a one-line message fit for a user."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(" ".join(message.split()))
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(SafeshiftError):
    """The plan file, a URL or an argument is wrong (exit 2)."""


class PlanProblems(ConfigError):
    """Every problem found in a plan file at once, each ``key: what is wrong``.

    One problem reads as one line (``safeshift.toml: migration.targte: unknown key``); several
    are listed one per line under a count, so a person fixes them all in one go instead of
    meeting them one run at a time.
    """

    def __init__(self, filename: str, problems: Sequence[str]) -> None:
        self.filename = filename
        self.problems = [" ".join(p.split()) for p in problems if p.strip()] or ["invalid plan"]
        if len(self.problems) == 1:
            text = f"{filename}: {self.problems[0]}"
        else:
            text = f"{filename}: {len(self.problems)} problems:" + "".join(f"\n  {p}" for p in self.problems)
        super().__init__(text)
        self.args = (text,)  # the lines stay lines (the base class joins whitespace)


class ConnectError(SafeshiftError):
    """The database cannot be reached (exit 2: nothing was changed)."""


class BackupError(SafeshiftError):
    """A backup could not be written or did not verify (exit 2: nothing was changed)."""


class LockError(SafeshiftError):
    """Another run holds the database (exit 2: nothing was changed)."""


class ChecksFailed(SafeshiftError):
    """One or more checks failed (exit 1)."""

    exit_code = ExitCode.CHECKS_FAILED


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The error, what SQLAlchemy wrapped (``orig``) and its causes and contexts, each once.

    Where a driver error hides: lock-timeout and retry detection look at every one.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo.extend([orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__])
