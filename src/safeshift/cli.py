"""The command line: parse, call one library function, render. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from safeshift import commands
from safeshift.config.models import DEFAULT_PLAN
from safeshift.errors import ExitCode, SafeshiftError
from safeshift.loading import load_plan
from safeshift.run import (
    Approval,
    Observer,
    PhaseResult,
    RunResult,
    rehearse_plan,
    resume_run,
    rollback_run,
    run_plan,
)
from safeshift.secrets import redact, redact_data

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
)
demo_app = typer.Typer(help="Run a seed's cutover end to end on a fresh database.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
T = TypeVar("T")

PlanOpt = Annotated[Path, typer.Option("--plan", "-p", help="Plan file (or a folder holding safeshift.toml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the human view.")]
WorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", help="Folder for .safeshift/ (runs, backups); default: the plan's folder."),
]


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {redact(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _call(fn: Callable[[], T]) -> T:
    """Run a library call; any error becomes one line and an exit code, never a traceback."""
    try:
        return fn()
    except SafeshiftError as exc:
        _fail(exc.message, int(exc.exit_code))
    except KeyboardInterrupt:
        _fail("interrupted", int(ExitCode.USAGE))
    except Exception as exc:  # a bug of ours: still one line, still no traceback
        text = str(exc).strip().splitlines()
        _fail(f"unexpected {type(exc).__name__}: {text[0] if text else ''}", int(ExitCode.USAGE))


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(redact_data(data), default=str) + "\n")


class RichObserver(Observer):
    """A live checklist of phases and a progress bar for long work (stdout: errors alone go to stderr)."""

    _MARK = {"ok": "[green]✓[/]", "skipped": "[yellow]–[/]", "blocked": "[yellow]■[/]", "failed": "[red]✗[/]"}

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def phase_started(self, name: str) -> None:
        self._stop_progress()

    def phase_finished(self, phase: PhaseResult) -> None:
        self._stop_progress()
        mark = self._MARK.get(phase.status, "?")
        extra = ""
        if phase.status == "failed" and "error" in phase.detail:
            extra = f"  [dim]{redact(str(phase.detail['error']))}[/]"
        self.console.print(f" {mark} {phase.name:<22} {phase.seconds:7.2f}s{extra}", soft_wrap=True)

    def watch_tick(self, sample: Any) -> None:
        m = sample.metrics()
        rate = "n/a" if m["error_rate"] is None else f"{m['error_rate']:.1%}"
        p95 = "n/a" if m["p95_ms"] is None else f"{m['p95_ms']:.0f} ms"
        problems = f"  [yellow]{'; '.join(sample.problems)}[/]" if sample.problems else ""
        self.console.print(f"   watch tick {sample.tick}: error rate {rate}, p95 {p95}{problems}", soft_wrap=True)

    def progress(self, task: str, done: int, total: int | None) -> None:
        if not self.console.is_terminal:
            return  # a log file wants the checklist, not bar redraws
        if self._progress is None:
            self._progress = Progress(
                TextColumn("   {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(task, total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


_OUTCOME_STYLE = {
    "succeeded": "bold green",
    "noop": "green",
    "planned": "cyan",
    "rehearsed": "cyan",
    "rolled_back": "bold yellow",
    "blocked": "bold yellow",
    "failed": "bold red",
}


def _render_run(result: RunResult) -> None:
    if result.outcome == "blocked" and result.exit_code == ExitCode.USAGE:
        # stopped by an error before anything changed: one line, like any usage error
        where = f" (report: {result.report_md})" if result.report_md else ""
        _fail(result.message + where, int(ExitCode.USAGE))
    failed = [c for c in result.checks if not c.passed]
    if failed:
        table = Table(title="failed checks", show_lines=False)
        for col in ("phase", "check", "value", "expected", "offending"):
            table.add_column(col)
        for c in failed:
            table.add_row(c.phase, c.name, str(c.value), c.expected or "", ", ".join(map(str, c.samples)) or c.message)
        out.print(table)
    for st in result.statements:
        size = st.table_size or {}
        rows = f", ~{size['rows']:,} rows" if size.get("rows") is not None else ""
        lock = f"  [dim]lock: {st.lock} on {st.table or '?'}{rows}[/]" if st.lock else ""
        out.print(f"[bold]{st.phase}[/]: {escape(st.what)}{lock}")
        if st.sql:
            out.print(f"    {st.sql}", markup=False, soft_wrap=True)
        for f in st.findings or []:
            out.print(f"    ⚠ {f['code']} {f['severity']}: {f['message']}", markup=False, soft_wrap=True)
    proof = result.rollback.proof if result.rollback else None
    if proof is not None:
        verdict = "database equals the snapshot" if proof.equal else "DATABASE DIFFERS FROM THE SNAPSHOT"
        out.print(f"rollback proof: {verdict}")
        for diff in proof.differences:
            out.print(f"  - {redact(diff)}", markup=False)
    if result.rehearsal:
        r = result.rehearsal
        out.print(f"rehearsal: {'passed' if r.passed else 'FAILED'}, predicted apply time {r.predicted_apply_seconds}s, {r.statement_count} statements")
    if result.digest and result.outcome in ("planned", "blocked"):
        out.print(f"plan digest: [bold]{result.digest}[/] (approve with --approve {result.digest})")
    if result.approval:
        a = result.approval
        out.print(f"approved: digest {a.digest} by {escape(a.by)} at {a.at}")
    style = _OUTCOME_STYLE.get(result.outcome, "bold")
    out.print(f"[{style}]{result.outcome}[/]: {redact(result.message)}", soft_wrap=True)
    if result.report:
        out.print(f"report: {result.report_md}", soft_wrap=True)


@app.command()
def run(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show every statement that would run and the plan digest; change nothing.")] = False,
    rehearse: Annotated[
        bool | None,
        typer.Option("--rehearse/--no-rehearse", help="Apply + verify on a copy restored from the fresh backup first (default: the plan's [rehearsal] enabled)."),
    ] = None,
    approve: Annotated[str | None, typer.Option("--approve", metavar="DIGEST", help="The digest printed by --dry-run, when the plan requires approval.")] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Start anew over an interrupted run (its process is gone: we hold the lock), abandoning it."),
    ] = False,
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Execute the plan: preflight, snapshot, backup, [rehearse], [approve], apply, verify, report; roll back on failure."""
    loaded = _call(lambda: load_plan(plan))
    observer = None if json_out else RichObserver(out)
    approval = Approval(digest=approve, confirm=None if approve or json_out or not sys.stdin.isatty() else _confirm)
    result = _call(
        lambda: run_plan(
            loaded, workdir=workdir, dry_run=dry_run, observer=observer, rehearse=rehearse, approval=approval, force=force
        )
    )
    if json_out:
        _emit_json(result.to_dict())
    else:
        _render_run(result)
    raise typer.Exit(int(result.exit_code))


def _confirm(digest: str, database: str) -> str | None:
    err.print(f"plan digest [bold]{digest}[/]: this run changes database [bold]{database}[/].")
    answer: str = typer.prompt("Type the database name to approve", default="", show_default=False)
    return answer.strip() or None


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The id of an interrupted run (see `safeshift status`).")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Finish an interrupted run whose migration completed: verify, and roll back if that fails."""
    _recover(resume_run, run_id, plan, json_out, workdir)


@app.command()
def rollback(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The id of an interrupted run (see `safeshift status`).")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    json_out: JsonOpt = False,
    workdir: WorkdirOpt = None,
) -> None:
    """Roll back an interrupted run with the plan's strategy and prove the database equals its snapshot."""
    _recover(rollback_run, run_id, plan, json_out, workdir)


def _recover(action: Callable[..., RunResult], run_id: str, plan: Path, json_out: bool, workdir: Path | None) -> None:
    loaded = _call(lambda: load_plan(plan))
    result = _call(lambda: action(loaded, run_id, workdir=workdir, observer=None if json_out else RichObserver(out)))
    _finish(result, json_out)


def _finish(result: RunResult, json_out: bool) -> None:
    if json_out:
        _emit_json(result.to_dict())
    else:
        _render_run(result)
    raise typer.Exit(int(result.exit_code))


@app.command("rehearse")
def rehearse_cmd(plan: PlanOpt = Path(DEFAULT_PLAN), json_out: JsonOpt = False, workdir: WorkdirOpt = None) -> None:
    """Back up, restore the backup into a scratch copy, apply + verify there, time every statement; the target is not changed."""
    loaded = _call(lambda: load_plan(plan))
    result = _call(lambda: rehearse_plan(loaded, workdir=workdir, observer=None if json_out else RichObserver(out)))
    if json_out:
        _emit_json(result.to_dict())
    else:
        _render_run(result)
    raise typer.Exit(int(result.exit_code))


@app.command()
def check(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    phase: Annotated[str, typer.Option("--phase", help="Which check list: pre or post.")] = "post",
    json_out: JsonOpt = False,
) -> None:
    """Run the plan's checks now, e.g. as a daily validation. Exit 1 when one fails."""
    loaded = _call(lambda: load_plan(plan))
    report = _call(lambda: commands.check(loaded, phase))
    if json_out:
        _emit_json(report.to_dict())
    else:
        table = Table(title=f"{phase}-checks")
        for col in ("", "check", "value", "expected", "offending"):
            table.add_column(col)
        for r in report.results:
            mark = "[green]✓[/]" if r.passed else "[red]✗[/]"
            table.add_row(mark, r.name, str(r.value), r.expected or "", ", ".join(map(str, r.samples)) or ("" if r.passed else r.message))
        out.print(table)
        out.print("[green]all checks passed[/]" if report.passed else "[red]checks failed[/]")
    raise typer.Exit(report.exit_code)


@app.command("lint")
def lint_cmd(
    files: Annotated[list[Path] | None, typer.Argument(metavar="[SQL_FILE]...", help="SQL files to lint instead of the plan's pending migration.")] = None,
    plan: PlanOpt = Path(DEFAULT_PLAN),
    dialect: Annotated[str | None, typer.Option("--dialect", help="With files: sqlite, postgresql or mysql (default: the plan's database).")] = None,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Also write the findings as SARIF 2.1.0 to this file (for CI).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Lock hazards of the pending migration, sized by the live tables. Exit 1 at the plan's [lint] fail_on."""
    loaded = _call(lambda: load_plan(plan))
    report = _call(lambda: commands.lint_plan(loaded, files, dialect))
    if sarif is not None:
        sarif.write_text(json.dumps(report.sarif(), indent=2) + "\n", encoding="utf-8")
    if json_out:
        _emit_json(report.to_dict())
    else:
        table = Table(title=f"lint: {report.source} ({report.dialect})")
        for col in ("#", "lock", "table", "finding", "message"):
            table.add_column(col)
        for f in report.findings:
            info = next((s for s in report.statements if s.index == f.statement), None)
            style = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
            code = f"[{style}]{f.code} {f.severity}[/]" + (" (suppressed)" if f.suppressed else "")
            table.add_row(str(f.statement), info.lock if info else "", f.table or "", code, f.message)
        out.print(table)
        blocking = len(report.blocking)
        out.print(f"{len(report.findings)} findings, {blocking} at or above fail_on = {report.fail_on}")
    raise typer.Exit(report.exit_code)


@app.command()
def backup(
    plan: PlanOpt = Path(DEFAULT_PLAN),
    workdir: WorkdirOpt = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip restoring/reading the copy back.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take a backup of the plan's database now, verified unless --no-verify."""
    loaded = _call(lambda: load_plan(plan))
    info = _call(lambda: commands.backup(loaded, workdir=workdir, verify=not no_verify))
    if json_out:
        _emit_json(info.to_dict())
    else:
        out.print(f"backup written: {info.path} ({info.bytes} bytes, {info.seconds:.2f}s, verified: {info.verified})")


@app.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(metavar="BACKUP", help="A backup file written by safeshift.")],
    plan: PlanOpt = Path(DEFAULT_PLAN),
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; replace the database's content.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Replace the database's content with BACKUP."""
    loaded = _call(lambda: load_plan(plan))
    if not yes and not json_out:
        if not sys.stdin.isatty():
            _fail("restore replaces the whole database; pass --yes to confirm", int(ExitCode.USAGE))
        typer.confirm("Replace the whole database with this backup?", abort=True)
    result = _call(lambda: commands.restore(loaded, backup_file))
    if json_out:
        _emit_json(result.to_dict())
    else:
        out.print(f"restored {result.backup} into {result.database}: {sum(result.row_counts.values())} rows in {len(result.row_counts)} tables")


@app.command()
def status(plan: PlanOpt = Path(DEFAULT_PLAN), workdir: WorkdirOpt = None, json_out: JsonOpt = False) -> None:
    """Current revision, pending revisions and the last runs."""
    loaded = _call(lambda: load_plan(plan))
    st = _call(lambda: commands.status(loaded, workdir=workdir))
    if json_out:
        _emit_json(st.to_dict())
        return
    out.print(f"database: {st.database}")
    out.print(f"revision: {st.current or 'base'} (target {st.target})")
    out.print("pending: " + (", ".join(f"{p['id']} {p['message']}" for p in st.pending) or "none"), markup=False)
    for r in st.runs:
        out.print(f"  {r['run_id']}  {r['outcome']:<12} {r['message']}", markup=False, soft_wrap=True)


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
    db: Annotated[str, typer.Option("--db", help="sqlite (embedded), postgresql or mysql (local servers).")] = "sqlite",
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The family cutover (seed: family-migration-runbook.md) on a fresh database."""
    from safeshift.demo import demo_family as run_demo

    if break_mode not in ("check", "apply", "app"):
        _fail(f"--break-mode: expected check, apply or app, got {break_mode!r}", int(ExitCode.USAGE))
    if db not in ("sqlite", "postgresql", "mysql"):
        _fail(f"--db: expected sqlite, postgresql or mysql, got {db!r}", int(ExitCode.USAGE))
    observer = None if json_out else RichObserver(out)
    if online:
        if break_ or edge_cases:
            _fail("--online runs the cutover as it is: --break and --edge-cases go with the offline demo", int(ExitCode.USAGE))
        from safeshift.demo.family_online import demo_family_online

        if not json_out:
            out.print(f"[bold]online family cutover demo[/] on {db}: {users} users, a writer keeps writing")
        online_result = _call(lambda: demo_family_online(db=db, users=users, workdir=workdir, observer=observer))  # type: ignore[arg-type]
        if json_out:
            _emit_json(online_result.to_dict())
            raise typer.Exit(online_result.exit_code)
        if online_result.writer is not None:
            out.print(f"writer: {online_result.writer.to_dict()}", markup=False, soft_wrap=True)
        _finish(online_result.run, json_out)
    if not json_out:
        out.print(f"[bold]family cutover demo[/] on {db}: {users} users" + (" with edge cases" if edge_cases else "") + (f", broken ({break_mode})" if break_ else ""))
    result = _call(
        lambda: run_demo(
            db=db,  # type: ignore[arg-type]
            users=users,
            break_mode=break_mode if break_ else None,  # type: ignore[arg-type]
            edge_cases=edge_cases,
            workdir=workdir,
            observer=observer,
        )
    )
    if json_out:
        _emit_json(result.to_dict())
    else:
        _render_run(result.run)
    raise typer.Exit(result.exit_code)


@demo_app.command("relationships")
def demo_relationships(
    couples: Annotated[int, typer.Option("--couples", help="Couples to generate (seeded, repeatable).")] = 50_000,
    break_: Annotated[bool, typer.Option("--break", help="Make the cutover fail so that it rolls back.")] = False,
    break_mode: Annotated[
        str, typer.Option("--break-mode", help="With --break: 'check' (a post-check fails) or 'apply' (the migration fails midway).")
    ] = "check",
    edge_cases: Annotated[bool, typer.Option("--edge-cases", help="Add duplicate invite codes (they block the run).")] = False,
    db: Annotated[str, typer.Option("--db", help="sqlite (embedded), postgresql or mysql (local servers).")] = "sqlite",
    workdir: WorkdirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The relationships cutover (seed: relationship-migration-plan.md) on a fresh database."""
    from safeshift.demo.relationships import demo_relationships as run_demo

    if break_mode not in ("check", "apply"):
        _fail(f"--break-mode: expected check or apply, got {break_mode!r}", int(ExitCode.USAGE))
    if db not in ("sqlite", "postgresql", "mysql"):
        _fail(f"--db: expected sqlite, postgresql or mysql, got {db!r}", int(ExitCode.USAGE))
    if not json_out:
        out.print(f"[bold]relationships cutover demo[/] on {db}: {couples} couples" + (" with edge cases" if edge_cases else "") + (f", broken ({break_mode})" if break_ else ""))
    result = _call(
        lambda: run_demo(
            db=db,  # type: ignore[arg-type]
            couples=couples,
            break_mode=break_mode if break_ else None,  # type: ignore[arg-type]
            edge_cases=edge_cases,
            workdir=workdir,
            observer=None if json_out else RichObserver(out),
        )
    )
    if json_out:
        _emit_json(result.to_dict())
        raise typer.Exit(result.exit_code)
    _finish(result.run, json_out)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
