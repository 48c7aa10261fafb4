"""The command line: parse options, call ONE :mod:`safeshift.api` function, hand its result to a
renderer (:mod:`safeshift.cli.render`). Nothing else lives here.

Start-up time matters (``safeshift --help`` must be quick): this module imports Typer, Rich and
the error types only. The api, and through it SQLAlchemy, pydantic, sqlglot, the lint, httpx and
the runner, is imported inside the command that runs. Option types stay builtins and ``Path``,
because Typer reads these annotations at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from safeshift.cli import render
from safeshift.errors import ExitCode, SafeshiftError

# Help texts are Rich markup (Typer's rich mode): a literal "[" is written "\[".
# The plan file looked for by default (the same name as safeshift.config.models.DEFAULT_PLAN; importing
# the plan models here would cost pydantic and SQLAlchemy at every start).
DEFAULT_PLAN = "safeshift.toml"

app = typer.Typer(
    name="safeshift",
    help=(
        "Run a production database migration as one proven, reversible command.\n\n"
        "Exit codes: 0 ok, 1 checks failed, 2 usage/config error, 3 rolled back cleanly, "
        "4 rollback failed (a person must act)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
demo_app = typer.Typer(help="Run a seed's cutover end to end on a fresh database.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")

T = TypeVar("T")

PlanOpt = Annotated[Path, typer.Option("--plan", "-p", help="Plan file (or a folder holding safeshift.toml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the human view.")]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", help="Folder for .safeshift/ (runs, backups); default: the plan's folder."),
]
RunIdArg = Annotated[str, typer.Argument(metavar="RUN", help="The id of an interrupted run (see `safeshift status`).")]
DbOpt = Annotated[str, typer.Option("--db", help="sqlite (embedded), postgresql or mysql (local servers).")]
DB_KINDS = ("sqlite", "postgresql", "mysql")


def _call(fn: Callable[[], T]) -> T:
    """Run a library call; any error becomes one line and an exit code, never a traceback."""
    try:
        return fn()
    except (typer.Exit, typer.Abort):
        raise
    except SafeshiftError as exc:
        render.fail(exc.message, int(exc.exit_code))
    except KeyboardInterrupt:
        render.fail("interrupted", int(ExitCode.USAGE))
    except OSError as exc:  # the disk or the file system said no: name the file it was about
        where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f) or "a file"
        render.fail(f"cannot use {where}: {exc.strerror or exc}", int(ExitCode.USAGE))
    except MemoryError:
        render.fail("out of memory", int(ExitCode.USAGE))
    except Exception as exc:  # a bug of ours: still one line, still no traceback
        from safeshift.secrets import first_line

        render.fail(f"unexpected {first_line(exc)}", int(ExitCode.USAGE))


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        expected = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        render.fail(f"{option}: expected {expected}, got {value!r}", int(ExitCode.USAGE))


def _version(value: bool) -> None:
    if value:
        from safeshift import __version__

        typer.echo(f"safeshift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Run a production database migration as one proven, reversible command."""


@app.command()
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
        )
    )
    render.finish(result, json_out, render.run_result)


@app.command()
def resume(run_id: RunIdArg, plan: PlanOpt = Path(DEFAULT_PLAN), json_out: JsonOpt = False, workdir: WorkdirOpt = None) -> None:
    """Finish an interrupted run whose migration completed: verify, and roll back if that fails."""
    from safeshift import api

    result = _call(lambda: api.resume_run(plan, run_id, workdir=workdir, observer=render.observer(json_out)))
    render.finish(result, json_out, render.run_result)


@app.command()
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


@app.command("rehearse")
def rehearse_cmd(plan: PlanOpt = Path(DEFAULT_PLAN), json_out: JsonOpt = False, workdir: WorkdirOpt = None) -> None:
    """Back up, restore the backup into a scratch copy, apply + verify there, time every statement; the target is not changed."""
    from safeshift import api

    result = _call(lambda: api.rehearse_plan(plan, workdir=workdir, observer=render.observer(json_out)))
    render.finish(result, json_out, render.run_result)


@app.command()
def check(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    phase: Annotated[str, typer.Option("--phase", help="Which check list: pre or post.")] = "post",
    json_out: JsonOpt = False,
) -> None:
    """Run the plan's checks now, e.g. as a daily validation. Exit 1 when one fails."""
    from safeshift import api

    report = _call(lambda: api.check(plan, phase))
    render.finish(report, json_out, render.check_report)


@app.command("checks")
def checks_cmd(json_out: JsonOpt = False) -> None:
    """List the check kinds a plan may use, each with its keys, their types and defaults.

    Example: safeshift checks --json
    """
    from safeshift import api

    kinds = _call(api.check_kinds)
    render.finish(kinds, json_out, render.check_kinds)


@app.command("lint")
def lint_cmd(
    files: Annotated[list[Path] | None, typer.Argument(metavar="[SQL_FILE]...", help="SQL files to lint instead of the plan's pending migration.")] = None,
    plan: PlanOpt = Path(DEFAULT_PLAN),
    dialect: Annotated[str | None, typer.Option("--dialect", help="With files: sqlite, postgresql or mysql (default: the plan's database).")] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Also write the findings as SARIF 2.1.0 to this file (for CI).")] = None,
    json_out: JsonOpt = False,
) -> None:
    r"""Lock hazards of the pending migration, sized by the live tables. Exit 1 at the plan's \[lint] fail_on."""
    from safeshift import api

    report = _call(lambda: api.lint_plan(plan, files, dialect, sarif=sarif))
    render.finish(report, json_out, render.lint_report)


@app.command()
def backup(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    workdir: WorkdirOpt = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip restoring/reading the copy back.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take a backup of the plan's database now, verified unless --no-verify."""
    from safeshift import api

    info = _call(lambda: api.backup(plan, workdir=workdir, verify=not no_verify))
    if json_out:
        render.emit_json(info.to_dict())
    else:
        render.backup_info(info)


@app.command()
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
    result = _call(lambda: api.restore(plan, backup_file, confirm=confirm, force=force))
    if json_out:
        render.emit_json(result.to_dict())
    else:
        render.restore_result(result)


@app.command()
def status(plan: PlanOpt = Path(DEFAULT_PLAN), workdir: WorkdirOpt = None, json_out: JsonOpt = False) -> None:
    """Current revision, pending revisions and the last runs."""
    from safeshift import api

    st = _call(lambda: api.status(plan, workdir=workdir))
    if json_out:
        render.emit_json(st.to_dict())
    else:
        render.status(st)


@demo_app.command("family")
def demo_family(
    users: Annotated[int, typer.Option("--users", help="Users to generate (seeded, repeatable).")] = 100_000,
    break_: Annotated[bool, typer.Option("--break", help="Make the cutover fail so that it rolls back.")] = False,
    break_mode: Annotated[
        str,
        typer.Option(
            "--break-mode",
            help="With --break: 'check' (a post-check fails after the migration), 'apply' "
            "(the migration fails after its first DDL statement) or 'app' (the application "
            "fails after the cutover: the watch window's trigger rolls back).",
        ),
    ] = "check",
    edge_cases: Annotated[bool, typer.Option("--edge-cases", help="Add circular parents, missing parents, childless parents.")] = False,
    online: Annotated[
        bool,
        typer.Option("--online", help="The online variant (examples/family-online): expand, batched backfill, contract, while a writer keeps writing."),
    ] = False,
    db: DbOpt = "sqlite",
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The family cutover (seed: family-migration-runbook.md) on a fresh database."""
    _choice("--break-mode", break_mode, ("check", "apply", "app"))
    _choice("--db", db, DB_KINDS)
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
            db=db,  # type: ignore[arg-type]  # checked by _choice
            users=users,
            break_mode=break_mode if break_ else None,  # type: ignore[arg-type]
            edge_cases=edge_cases,
            online=online,
            workdir=workdir,
            observer=render.observer(json_out),
        )
    )
    render.finish(result, json_out, render.family_demo)


@demo_app.command("relationships")
def demo_relationships(
    couples: Annotated[int, typer.Option("--couples", help="Couples to generate (seeded, repeatable).")] = 50_000,
    break_: Annotated[bool, typer.Option("--break", help="Make the cutover fail so that it rolls back.")] = False,
    break_mode: Annotated[
        str, typer.Option("--break-mode", help="With --break: 'check' (a post-check fails) or 'apply' (the migration fails midway).")
    ] = "check",
    edge_cases: Annotated[bool, typer.Option("--edge-cases", help="Add duplicate invite codes (they block the run).")] = False,
    db: DbOpt = "sqlite",
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The relationships cutover (seed: relationship-migration-plan.md) on a fresh database."""
    _choice("--break-mode", break_mode, ("check", "apply"))
    _choice("--db", db, DB_KINDS)
    from safeshift import api

    banner = f"[bold]relationships cutover demo[/] on {db}: {couples} couples" + (" with edge cases" if edge_cases else "") + (f", broken ({break_mode})" if break_ else "")
    render.demo_banner(banner, json_out)
    result = _call(
        lambda: api.demo_relationships(
            db=db,  # type: ignore[arg-type]  # checked by _choice
            couples=couples,
            break_mode=break_mode if break_ else None,  # type: ignore[arg-type]
            edge_cases=edge_cases,
            workdir=workdir,
            observer=render.observer(json_out),
        )
    )
    render.finish(result, json_out, render.relationships_demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
