"""The command line: parse options, call ONE :mod:`safeshift.api` function, hand its result to a
renderer (:mod:`safeshift.cli.render`). Nothing else lives here.

Start-up time matters (``safeshift --help`` must be quick): this module imports Typer, Rich and
the error types only. The api, and through it SQLAlchemy, pydantic, sqlglot, the lint, httpx and
the runner, is imported inside the command that runs. Option types stay builtins, ``Path`` and
the choice enums of :mod:`safeshift.cli.conventions`, because Typer reads these annotations at
start-up. Every command's help ends with ``epilog(examples..., exits=...)``, and its ``--json``
goes through ``render.finish``/``render.fail`` (the JSON envelope).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from safeshift.cli import render
from safeshift.cli.conventions import (
    RUN_EXITS,
    DbKind,
    FamilyBreak,
    LintDialect,
    Phase,
    RelationshipsBreak,
    SafeshiftGroup,
    Shell,
    epilog,
)
from safeshift.errors import ExitCode, SafeshiftError

# Help texts are Rich markup (Typer's rich mode): a literal "[" is written "\[".
# The plan file looked for by default (the same name as safeshift.config.models.DEFAULT_PLAN; importing
# the plan models here would cost pydantic and SQLAlchemy at every start).
DEFAULT_PLAN = "safeshift.toml"


app = typer.Typer(
    name="safeshift",
    cls=SafeshiftGroup,
    help=(
        "Run a production database migration as one proven, reversible command.\n\n"
        "Shell completion: safeshift completion bash (or zsh, fish, powershell) prints the script; "
        "--install-completion adds it to your shell's start-up file."
    ),
    no_args_is_help=True,
    epilog=epilog(
        "safeshift lint && safeshift run --dry-run && safeshift run",
        "safeshift status --json",
        "safeshift -v run                   # also Alembic's log lines, on stderr",
        exits="0 ok, 1 checks failed, 2 usage/config error, 3 rolled back cleanly, "
        "4 rollback failed (a person must act); each command's -h has its own.",
    ),
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
demo_app = typer.Typer(
    help="Run a seed's cutover end to end on a fresh database.",
    no_args_is_help=True,
    epilog=epilog(
        "safeshift demo family",
        "safeshift demo relationships --break",
        exits="those of run: 0 succeeded, 1 blocked, 2 usage error, 3 rolled back, 4 a person must act.",
    ),
)
app.add_typer(demo_app, name="demo")

T = TypeVar("T")

PlanOpt = Annotated[Path, typer.Option("--plan", "-p", help="Plan file (or a folder holding safeshift.toml).")]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        callback=render.json_option,
        is_eager=True,
        help="Print one JSON object (version, command, outcome, exit_code, error…) instead of the human view.",
    ),
]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", help="Folder for .safeshift/ (runs, backups); default: the plan's folder."),
]
RunIdArg = Annotated[str, typer.Argument(metavar="RUN", help="The id of an interrupted run (see `safeshift status`).")]
TargetOpt = Annotated[
    str | None,
    typer.Option("--target", metavar="REV", help=r"Migrate to REV instead of the plan's \[migration] target (part of the approval digest)."),
]


DbOpt = Annotated[DbKind, typer.Option("--db", help="sqlite (embedded), postgresql or mysql (local servers).")]



def _call(fn: Callable[[], T]) -> T:
    """Run a library call; any error becomes one line and an exit code, never a traceback."""
    try:
        return fn()
    except (typer.Exit, typer.Abort):
        raise
    except SafeshiftError as exc:
        render.fail(exc.message, int(exc.exit_code), type(exc).__name__)
    except KeyboardInterrupt:
        render.fail("interrupted", int(ExitCode.USAGE), "Interrupted")
    except OSError as exc:  # the disk or the file system said no: name the file it was about
        where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f) or "a file"
        render.fail(f"cannot use {where}: {exc.strerror or exc}", int(ExitCode.USAGE), "OSError")
    except MemoryError:
        render.fail("out of memory", int(ExitCode.USAGE), "MemoryError")
    except Exception as exc:  # a bug of ours: still one line, still no traceback
        from safeshift.secrets import first_line

        render.fail(f"unexpected {first_line(exc)}", int(ExitCode.USAGE), "InternalError")


def _version(value: bool) -> None:
    if value:
        from safeshift import __version__

        typer.echo(f"safeshift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show third-party log lines (Alembic's) on stderr; a run always keeps them in its journal.",
        ),
    ] = False,
) -> None:
    """Run a production database migration as one proven, reversible command."""
    if verbose:
        from safeshift.logs import route

        ctx.call_on_close(route(render.log_line))


@app.command(
    epilog=epilog(
        "safeshift run --dry-run        # the statements, their locks, the digest",
        "safeshift run                  # the whole runbook",
        "safeshift run --approve 3f2a9c # when \\[approval] required = true",
        "safeshift run --plan deploy/ --json",
        exits=RUN_EXITS,
    )
)
def run(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show every statement that would run and the plan digest; change nothing.")] = False,
    rehearse: Annotated[
        bool | None,
        typer.Option("--rehearse/--no-rehearse", help=r"Apply + verify on a copy restored from the fresh backup first (default: the plan's \[rehearsal] enabled)."),
    ] = None,
    approve: Annotated[str | None, typer.Option("--approve", metavar="DIGEST", help="The digest printed by --dry-run, when the plan requires approval.")] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Start anew over an interrupted run (its process is gone: we hold the lock), abandoning it."),
    ] = False,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
    target: TargetOpt = None,
) -> None:
    r"""Execute the plan: preflight, snapshot, backup, \[rehearse], \[approve], apply, verify, report; roll back on failure."""
    import sys

    from safeshift import api

    # a person at a terminal can approve by typing the database's name
    confirm = None if approve or json_out or not sys.stdin.isatty() else render.confirm_approval
    result = _call(
        lambda: api.run_plan(
            plan,
            workdir=workdir,
            dry_run=dry_run,
            observer=render.observer(json_out),
            rehearse=rehearse,
            approve=approve,
            confirm=confirm,
            force=force,
            target=target,
        )
    )
    render.finish(result, json_out, render.run_result)


@app.command(
    epilog=epilog(
        "safeshift status           # interrupted runs and what to run next",
        "safeshift resume 20240611-101500-ab12",
        exits="0 finished and verified; 2 usage/config error or not resumable (nothing changed); "
        "3 verify failed and it rolled back, proven; 4 a person must act.",
    )
)
def resume(run_id: RunIdArg, plan: PlanOpt = Path(DEFAULT_PLAN), json_out: JsonOpt = False, workdir: WorkdirOpt = None) -> None:
    """Finish an interrupted run whose migration completed: verify, and roll back if that fails."""
    from safeshift import api

    result = _call(lambda: api.resume_run(plan, run_id, workdir=workdir, observer=render.observer(json_out)))
    render.finish(result, json_out, render.run_result)


@app.command(
    epilog=epilog(
        "safeshift rollback 20240611-101500-ab12          # interrupted or succeeded",
        "safeshift rollback 20240611-101500-ab12 --force  # the database moved on",
        exits="3 rolled back and proven; 2 refused or usage/config error (nothing changed); 4 a person must act.",
    )
)
def rollback(
    run_id: RunIdArg,
    plan: PlanOpt = Path(DEFAULT_PLAN),
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Roll back a succeeded run even when the database moved on since.")
    ] = False,
) -> None:
    """Roll back a run with the plan's strategy and prove it.

    An interrupted, unproven or stopped run: back to its snapshot. A run that succeeded
    (a planned rollback): maintenance on, backup, downgrade to its start revision, proof
    against its before-state (rows written since are kept or saved, per [rollback] on_writes),
    maintenance off, smoke probes. Exit 3 when rolled back, 4 when a person must act.
    """
    from safeshift import api

    result = _call(
        lambda: api.rollback_run(plan, run_id, workdir=workdir, observer=render.observer(json_out), force=force)
    )
    render.finish(result, json_out, render.run_result)


@app.command(
    "rehearse",
    epilog=epilog(
        "safeshift rehearse",
        "safeshift rehearse --target 0002 --plan deploy/safeshift.toml --json",
        exits="0 the rehearsal passed; 1 it failed or was blocked (the target database is not changed); "
        "2 usage/config error.",
    ),
)
def rehearse_cmd(
    plan: PlanOpt = Path(DEFAULT_PLAN), json_out: JsonOpt = False, workdir: WorkdirOpt = None, target: TargetOpt = None
) -> None:
    """Back up, restore the backup into a scratch copy, apply + verify there, time every statement; the database is not changed."""
    from safeshift import api

    result = _call(lambda: api.rehearse_plan(plan, workdir=workdir, observer=render.observer(json_out), target=target))
    render.finish(result, json_out, render.run_result)


@app.command(
    epilog=epilog(
        "safeshift check                  # the post-checks, e.g. daily",
        "safeshift check --phase pre --json",
        exits="0 every check passed; 1 a check failed; 2 usage/config error.",
    )
)
def check(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    phase: Annotated[Phase, typer.Option("--phase", help="Which check list.")] = Phase.post,
    json_out: JsonOpt = False,
) -> None:
    """Run the plan's checks now, e.g. as a daily validation. Exit 1 when one fails."""
    from safeshift import api

    report = _call(lambda: api.check(plan, phase.value))
    render.finish(report, json_out, render.check_report)


@app.command(
    "checks",
    epilog=epilog(
        "safeshift checks",
        "safeshift checks --json",
        exits="0 listed; 2 usage error.",
    ),
)
def checks_cmd(json_out: JsonOpt = False) -> None:
    """List the check kinds a plan may use, each with its keys, their types and defaults.

    Example: safeshift checks --json
    """
    from safeshift import api

    kinds = _call(api.check_kinds)
    render.finish(kinds, json_out, render.check_kinds)


@app.command(
    "lint",
    epilog=epilog(
        "safeshift lint                   # the pending migration, live table sizes",
        "safeshift lint 0042.sql --dialect postgresql     # SQL files, no plan",
        "safeshift lint --json --sarif lint.sarif         # for CI",
        "safeshift lint m.sql --dialect mariadb --server-version 10.3   # advice for that server",
        "safeshift lint --observe         # what ran on a schema-only copy, with the locks it took",
        exits="0 no finding at or above fail_on; 1 a finding at or above fail_on (a statement, revision or file "
        "not linted counts as \\[lint] unlintable says: an error by default); 2 usage/config error "
        "(with --observe also: no database, or a copy that cannot be made or migrated).",
    ),
)
def lint_cmd(
    files: Annotated[list[Path] | None, typer.Argument(metavar="[SQL_FILE]...", help="SQL files to lint instead of the plan's pending migration.")] = None,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", "-p", help="Plan file (or a folder holding safeshift.toml); SQL files with --dialect need none."),
    ] = None,
    dialect: Annotated[LintDialect | None, typer.Option("--dialect", help="With files: the SQL's database (default: the plan's).")] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Also write the findings as SARIF 2.1.0 to this file (for CI).")] = None,
    server_version: Annotated[
        str | None,
        typer.Option(
            "--server-version",
            metavar="VERSION",
            help="The server the advice is for, e.g. 13, 8.0.28, 'MariaDB 10.6' (default: the live server's, "
            "else \\[lint] server_version, else the oldest supported release).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    target: TargetOpt = None,
    observe: Annotated[
        bool,
        typer.Option(
            "--observe",
            help="Apply the pending migration to a schema-only copy (dropped after) and lint what ran there, "
            "with the locks each statement took: revisions that cannot be rendered offline too.",
        ),
    ] = False,
) -> None:
    r"""Lock hazards of the pending migration, sized by the live tables. Exit 1 at the plan's \[lint] fail_on."""
    from safeshift import api

    report = _call(
        lambda: api.lint_plan(
            plan, files, dialect.value if dialect else None, sarif=sarif, target=target,
            server_version=server_version, observe=observe,
        )
    )
    render.finish(report, json_out, render.lint_report)


@app.command(
    epilog=epilog(
        "safeshift backup",
        "safeshift backup --no-verify --json",
        exits="0 written (and verified); 2 usage/config error, or a backup that could not be written or did not verify.",
    )
)
def backup(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    workdir: WorkdirOpt = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip restoring/reading the copy back.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take a backup of the plan's database now, verified unless --no-verify."""
    from safeshift import api

    info = _call(lambda: api.backup(plan, workdir=workdir, verify=not no_verify))
    render.finish(info, json_out, render.backup_info)


@app.command(
    epilog=epilog(
        "safeshift restore .safeshift/backups/20240611-101500-ab12.sqlite3",
        "safeshift restore dump.pgdump --yes --force    # a file taken by hand",
        exits="0 restored; 1 declined at the prompt; 2 refused (another database's backup, a changed file) "
        "or usage/config error.",
    )
)
def restore(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="A backup file written by safeshift.")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; replace the database's content.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Restore a file without a safeshift manifest for this database (one taken by hand)."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Replace the database's content with BACKUP, a backup safeshift took of this database
    (its BACKUP.manifest.json names the database, size and checksum; --force skips that check)."""
    from safeshift import api

    confirm = None if yes or json_out else render.confirm_restore
    shown = render.observer(json_out)
    progress = None if shown is None else (lambda done, total: shown.progress("restoring the backup", done, total))
    result = _call(lambda: api.restore(plan, backup_file, confirm=confirm, force=force, progress=progress))
    render.finish(result, json_out, render.restore_result)


@app.command(
    epilog=epilog(
        "safeshift status",
        "safeshift status --plan deploy/ --json",
        exits="0 shown; 2 usage/config error or the database unreachable.",
    )
)
def status(plan: PlanOpt = Path(DEFAULT_PLAN), workdir: WorkdirOpt = None, json_out: JsonOpt = False) -> None:
    """Current revision, pending revisions and the last runs."""
    from safeshift import api

    st = _call(lambda: api.status(plan, workdir=workdir))
    render.finish(st, json_out, render.status)


@app.command(
    epilog=epilog(
        "safeshift completion bash > /etc/bash_completion.d/safeshift",
        "safeshift completion zsh > \"${fpath[1]}/_safeshift\"",
        "eval \"$(safeshift completion bash)\"   # this shell only",
        exits="0 printed; 2 usage error (a shell it does not know).",
    )
)
def completion(shell: Annotated[Shell, typer.Argument(help="The shell to complete in.")]) -> None:
    """Print the shell completion script for SHELL; nothing is installed or written
    (--install-completion adds it to your shell's start-up file instead)."""

    def script() -> str:
        from typer._completion_shared import get_completion_script  # Typer's own protocol

        return get_completion_script(prog_name="safeshift", complete_var="_SAFESHIFT_COMPLETE", shell=shell.value)

    typer.echo(_call(script))


@app.command(
    epilog=epilog(
        "safeshift init                      # with DATABASE_URL=sqlite:///app.db set",
        "safeshift init --dir services/api --url-env API_DATABASE_URL --print",
        exits="0 written (or printed); 2 usage error, a plan already there, no migrator found.",
    )
)
def init(
    folder: Annotated[Path, typer.Option("--dir", help="The project's folder (default: the current one); the plan is written there.")] = Path("."),
    url_env: Annotated[
        str, typer.Option("--url-env", metavar="NAME", help="The environment variable holding the database URL.")
    ] = "DATABASE_URL",
    show: Annotated[bool, typer.Option("--print", "--dry-run", help="Show the plan; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a first safeshift.toml for the project here; never overwrites a file (exit 2).

    The migrator is found from the files (Alembic, a folder of SQL files) or, for Prisma, Django,
    Flyway, dbmate and golang-migrate, from their version table in the database. With
    $DATABASE_URL set, checks are inferred from the live schema.

    Example: DATABASE_URL=sqlite:///app.db safeshift init
    """
    from safeshift import api

    result = _call(lambda: api.init(folder, url_env=url_env, write=not show))
    render.finish(result, json_out, render.init_result)


@app.command(
    epilog=epilog(
        "safeshift baseline 0001 && safeshift run --target 0002",
        "safeshift baseline head --force --json",
        exits="0 recorded; 2 usage/config error, the database already at REV or beyond (without --force).",
    )
)
def baseline(
    revision: Annotated[str, typer.Argument(metavar="REV", help="The revision the database's schema is at (e.g. 0001, or head).")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    force: Annotated[bool, typer.Option("--force", help="Record REV even when the database is at REV or beyond.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Record REV and every revision before it as applied, running none of them.

    For a database whose schema was built before safeshift (a run refuses to create tables that
    exist). SQL files: rows with their checksums; Alembic: stamp; command: its stamp command.
    Refused (exit 2) when the database is at REV or beyond, unless --force.

    Example: safeshift baseline 0001 && safeshift run --target 0002
    """
    from safeshift import api

    result = _call(lambda: api.baseline(plan, revision, force=force))
    render.finish(result, json_out, render.baseline_result)


class Tool(StrEnum):
    """The external migration tools whose version table safeshift reads."""

    prisma = "prisma"
    django = "django"
    flyway = "flyway"
    dbmate = "dbmate"
    golang_migrate = "golang-migrate"


@app.command(
    epilog=epilog(
        "safeshift revisions prisma --dir prisma/migrations            # the current revision",
        "safeshift revisions prisma --dir prisma/migrations --pending  # reads $DATABASE_URL",
        exits="0 printed; 2 usage/config error or an unreachable database.",
    )
)
def revisions(
    tool: Annotated[Tool, typer.Argument(metavar="TOOL", help="prisma, django, flyway, dbmate or golang-migrate.")],
    folder: Annotated[Path, typer.Option("--dir", help="The tool's migrations folder.")] = Path("."),
    pending: Annotated[bool, typer.Option("--pending", help="List the migrations not applied yet, one per line.")] = False,
    url_env: Annotated[str, typer.Option("--url-env", metavar="NAME", help="The environment variable holding the database URL.")] = "DATABASE_URL",
    json_out: JsonOpt = False,
) -> None:
    """Print an external migration tool's current revision (or --pending migrations), from its version table.

    The current/pending commands of the plans `safeshift init` writes for an external tool.

    Example: DATABASE_URL=postgresql://app@db/app safeshift revisions prisma --dir prisma/migrations --pending
    """
    from safeshift import api

    result = _call(lambda: api.tool_revisions(tool.value, folder, pending=pending, url_env=url_env))
    render.finish(result, json_out, render.tool_revisions)


@app.command(
    "history",
    epilog=epilog(
        "safeshift history",
        "safeshift history -n 5 --json",
        exits="0 listed; 2 usage/config error.",
    ),
)
def history_cmd(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    workdir: WorkdirOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most this many runs (newest first).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The runs of this plan's database, newest first: outcome, revision change, duration, downtime."""
    from safeshift import api

    result = _call(lambda: api.history(plan, workdir=workdir, limit=limit))
    render.finish(result, json_out, render.history)


@app.command(
    "report",
    epilog=epilog(
        "safeshift report 20261202T101500000Z-3f2a1b --html -o report.html",
        "safeshift report 20261202T101500000Z-3f2a1b --junit > junit.xml",
        exits="0 rendered; 2 usage/config error or no such run.",
    ),
)
def report_cmd(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id (see `safeshift history`).")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    workdir: WorkdirOpt = None,
    html: Annotated[bool, typer.Option("--html", help="The self-contained HTML report.")] = False,
    md: Annotated[bool, typer.Option("--md", help="Markdown (the default).")] = False,
    junit: Annotated[bool, typer.Option("--junit", help="JUnit XML: a test case per phase and per check.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Render a run's report again from its folder: report.json, or the journal of a run that died."""
    chosen = [name for name, on in (("html", html), ("md", md), ("junit", junit), ("json", json_out)) if on]
    if len(chosen) > 1:
        render.fail(f"choose one format, not --{' and --'.join(chosen)}", int(ExitCode.USAGE))
    from safeshift import api

    result = _call(lambda: api.report(plan, run_id, workdir=workdir, fmt=chosen[0] if chosen else "md"))
    if output is not None:
        _call(lambda: output.write_text(result.text, encoding="utf-8"))
        render.say(f"wrote {output}")
        raise typer.Exit(0)
    render.finish(result, json_out, render.report_text)


@demo_app.command(
    "family",
    epilog=epilog(
        "safeshift demo family --users 5000",
        "safeshift demo family --break --break-mode app",
        "safeshift demo family --db postgresql --json",
        exits="0 succeeded; 1 blocked before any change (--edge-cases); 2 usage error; 3 rolled back, proven (--break); "
        "4 a person must act.",
    ),
)
def demo_family(
    users: Annotated[int, typer.Option("--users", help="Users to generate (seeded, repeatable).")] = 100_000,
    break_: Annotated[bool, typer.Option("--break", help="Make the cutover fail so that it rolls back.")] = False,
    break_mode: Annotated[
        FamilyBreak,
        typer.Option(
            "--break-mode",
            help="With --break: 'check' (a post-check fails after the migration), 'apply' "
            "(the migration fails after its first DDL statement) or 'app' (the application "
            "fails after the cutover: the watch window's trigger rolls back).",
        ),
    ] = FamilyBreak.check,
    edge_cases: Annotated[bool, typer.Option("--edge-cases", help="Add circular parents, missing parents, childless parents.")] = False,
    online: Annotated[
        bool,
        typer.Option("--online", help="The online variant (examples/family-online): expand, batched backfill, contract, while a writer keeps writing."),
    ] = False,
    db: DbOpt = DbKind.sqlite,
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The family cutover (seed: family-migration-runbook.md) on a fresh database."""
    if online and (break_ or edge_cases):
        render.fail("--online runs the cutover as it is: --break and --edge-cases go with the offline demo", int(ExitCode.USAGE))
    from safeshift import api

    if not online:  # the offline cutover runs the family web app: refuse before the banner
        _call(lambda: api.require_demo_extra("the family demo"))
    if online:
        banner = f"[bold]online family cutover demo[/] on {db}: {users} users, a writer keeps writing"
    else:
        banner = f"[bold]family cutover demo[/] on {db}: {users} users" + (" with edge cases" if edge_cases else "") + (f", broken ({break_mode})" if break_ else "")
    render.demo_banner(banner, json_out)
    result = _call(
        lambda: api.demo_family(
            db=db.value,
            users=users,
            break_mode=break_mode.value if break_ else None,
            edge_cases=edge_cases,
            online=online,
            workdir=workdir,
            observer=render.observer(json_out),
        )
    )
    render.finish(result, json_out, render.family_demo)


@demo_app.command(
    "relationships",
    epilog=epilog(
        "safeshift demo relationships --couples 5000",
        "safeshift demo relationships --edge-cases    # duplicates block the run",
        "safeshift demo relationships --db mysql --json",
        exits="0 succeeded; 1 blocked before any change (--edge-cases); 2 usage error; 3 rolled back, proven (--break); "
        "4 a person must act.",
    ),
)
def demo_relationships(
    couples: Annotated[int, typer.Option("--couples", help="Couples to generate (seeded, repeatable).")] = 50_000,
    break_: Annotated[bool, typer.Option("--break", help="Make the cutover fail so that it rolls back.")] = False,
    break_mode: Annotated[
        RelationshipsBreak,
        typer.Option("--break-mode", help="With --break: 'check' (a post-check fails) or 'apply' (the migration fails midway)."),
    ] = RelationshipsBreak.check,
    edge_cases: Annotated[bool, typer.Option("--edge-cases", help="Add duplicate invite codes (they block the run).")] = False,
    db: DbOpt = DbKind.sqlite,
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The relationships cutover (seed: relationship-migration-plan.md) on a fresh database."""
    from safeshift import api

    banner = f"[bold]relationships cutover demo[/] on {db}: {couples} couples" + (" with edge cases" if edge_cases else "") + (f", broken ({break_mode})" if break_ else "")
    render.demo_banner(banner, json_out)
    result = _call(
        lambda: api.demo_relationships(
            db=db.value,
            couples=couples,
            break_mode=break_mode.value if break_ else None,
            edge_cases=edge_cases,
            workdir=workdir,
            observer=render.observer(json_out),
        )
    )
    render.finish(result, json_out, render.relationships_demo)


def main() -> None:
    # a driver's own complaints (a pool reset after a server-side KILL) go nowhere rather than
    # to stderr as a traceback: what matters reaches the user through the run's verdict
    import logging

    logging.getLogger("sqlalchemy").addHandler(logging.NullHandler())
    app()


if __name__ == "__main__":
    main()
