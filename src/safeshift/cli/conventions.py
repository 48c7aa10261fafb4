"""The command line's conventions, shared by every command: usage errors as one line (and as a
JSON object under ``--json``), ``-v`` anywhere on the line, the options' choices as enums (so
the help lists them and the parser checks them), and the help's examples and exit codes.

Cheap to import (Typer and the standard library only): ``safeshift --help`` must start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import typer
from typer.core import TyperGroup

from safeshift.cli import render
from safeshift.errors import ExitCode

# Every command's help ends with examples and its exit codes (Rich markup: a literal "[" is "\[").
RUN_EXITS = (
    "0 migrated, nothing pending or a dry run; 1 blocked before any change (a pre-check, the lint, a rehearsal); "
    "2 usage/config error, nothing changed; 3 failed and rolled back, proven; 4 a person must act."
)


def epilog(*examples: str, exits: str) -> str:
    """A command's help epilog: its examples, then its exit codes."""
    lines = "\n".join(f"  {example}" for example in examples)
    return f"Examples:\n\n{lines}\n\nExit codes: {exits}"


class SafeshiftGroup(TyperGroup):
    """The root command: every usage error of the parser is one line (and, under ``--json``, one
    JSON object on stdout), and ``-v`` is read wherever it stands on the line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        *rest: Any,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, *rest, **extra)
        argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
        end = argv.index("--") if "--" in argv else len(argv)
        # -v is a global option, also when it follows the command (`safeshift run -v`)
        verbose = [a for a in argv[:end] if a in ("-v", "--verbose")]
        argv = verbose[:1] + [a for a in argv[:end] if a not in ("-v", "--verbose")] + argv[end:]
        render.begin(argv)
        try:
            code = super().main(argv, prog_name, complete_var, False, *rest, **extra)
        except typer.Abort:
            render.err.print("aborted")
            code = 1
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help is printed already
                code = int(getattr(exc, "exit_code", ExitCode.USAGE))
            elif any(c.__name__ == "UsageError" for c in type(exc).__mro__):  # Click's, or Typer's copy
                code = render.usage_error(exc)
            else:  # outside any command's _call: still one line, never a traceback
                from safeshift.secrets import first_line

                code = int(ExitCode.USAGE)
                render.report_error(f"unexpected {first_line(exc)}", code, "InternalError")
        sys.exit(code if isinstance(code, int) else 0)


# -- choices (StrEnum: the value is the text the api takes) -----------------------------------


class DbKind(StrEnum):
    """The demos' databases (``--db``)."""

    sqlite = "sqlite"
    postgresql = "postgresql"
    mysql = "mysql"


class LintDialect(StrEnum):
    """What ``lint --dialect`` lints SQL files for."""

    sqlite = "sqlite"
    postgresql = "postgresql"
    mysql = "mysql"
    mariadb = "mariadb"


class Phase(StrEnum):
    """Which check list ``check --phase`` runs."""

    pre = "pre"
    post = "post"


class FamilyBreak(StrEnum):
    check = "check"
    apply = "apply"
    app = "app"


class RelationshipsBreak(StrEnum):
    check = "check"
    apply = "apply"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
