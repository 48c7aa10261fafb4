"""Rich views of the api's results: tables, the live run checklist, JSON, one-line errors.

Every string that comes from the user, the plan or the database goes through :func:`esc`
(or is printed with ``markup=False``) so that a ``[`` in a check name or a message is shown
as it is instead of being read as Rich markup. Secrets are masked (``redact``) on the way out.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safeshift.errors import ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from safeshift.api import CheckKinds, CheckReport, LintReport, RestoreResult, Status
    from safeshift.demo import DemoResult
    from safeshift.demo.relationships import RelationshipsDemoResult
    from safeshift.dialects import BackupInfo
    from safeshift.run import PhaseResult, RunResult

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def redact(text: str) -> str:
    from safeshift.secrets import redact as _redact

    return _redact(text)


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)}


def esc(value: object) -> str:
    """``value`` as text, secrets masked, safe to print with Rich markup on.

    User text never drives the terminal: control characters (an ANSI escape in a check
    name) are shown as ``\\x1b``, and markup is escaped.
    """
    return escape(redact(str(value)).translate(_CONTROL))


def plain(value: object) -> str:
    """``value`` as text for printing with markup off: secrets masked, control characters shown."""
    return redact(str(value)).translate(_CONTROL)


def say(text: str, *, soft_wrap: bool = False) -> None:
    """Print text that holds user input as it is: no markup, no terminal control."""
    out.print(plain(text), markup=False, soft_wrap=soft_wrap)


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr and the exit code: how every error leaves the CLI."""
    err.print(f"[bold red]error:[/] {esc(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def emit_json(data: dict[str, Any]) -> None:
    from safeshift.secrets import redact_data

    sys.stdout.write(json.dumps(redact_data(data), default=str) + "\n")


def finish(result: Any, json_out: bool, view: Any = None) -> NoReturn:
    """Print ``result`` (JSON, or ``view(result)``) and exit with its exit code."""
    if json_out:
        emit_json(result.to_dict())
    elif view is not None:
        view(result)
    raise typer.Exit(int(result.exit_code))


class RichObserver:
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
            extra = f"  [dim]{esc(phase.detail['error'])}[/]"
        self.console.print(f" {mark} {esc(phase.name):<22} {phase.seconds:7.2f}s{extra}", soft_wrap=True)

    def watch_tick(self, sample: Any) -> None:
        m = sample.metrics()
        rate = "n/a" if m["error_rate"] is None else f"{m['error_rate']:.1%}"
        p95 = "n/a" if m["p95_ms"] is None else f"{m['p95_ms']:.0f} ms"
        problems = f"  [yellow]{esc('; '.join(sample.problems))}[/]" if sample.problems else ""
        self.console.print(f"   watch tick {sample.tick}: error rate {rate}, p95 {p95}{problems}", soft_wrap=True)

    def progress(self, task: str, done: int, total: int | None) -> None:
        if not self.console.is_terminal:
            return  # a log file wants the checklist, not bar redraws
        if self._progress is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("   {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(escape(task), total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def observer(json_out: bool) -> RichObserver | None:
    """The live view for a human; none for ``--json`` (stdout holds one JSON object)."""
    return None if json_out else RichObserver(out)


_OUTCOME_STYLE = {
    "succeeded": "bold green",
    "noop": "green",
    "planned": "cyan",
    "rehearsed": "cyan",
    "rolled_back": "bold yellow",
    "writes_saved": "bold red",
    "stopped": "bold red",
    "blocked": "bold yellow",
    "failed": "bold red",
}


def run_result(result: RunResult) -> None:
    """A run's verdict: failed checks, the dry run's statements, rollback proof, rehearsal, approval."""
    if result.outcome == "blocked" and result.exit_code == ExitCode.USAGE:
        # stopped by an error before anything changed: one line, like any usage error
        where = f" (report: {result.report_md})" if result.report_md else ""
        fail(result.message + where, int(ExitCode.USAGE))
    failed = [c for c in result.checks if not c.passed]
    if failed:
        table = Table(title="failed checks", show_lines=False)
        for col in ("phase", "check", "value", "expected", "offending"):
            table.add_column(col)
        for c in failed:
            offending = ", ".join(map(str, c.samples)) or c.message
            table.add_row(esc(c.phase), esc(c.name), esc(c.value), esc(c.expected or ""), esc(offending))
        out.print(table)
    for st in result.statements:
        size = st.table_size or {}
        count, source = size.get("estimated_rows", size.get("rows")), size.get("source")
        rows = ""
        if count is not None:
            rows = f", {count:,} rows (exact)" if source == "exact" else f", ~{count:,} rows ({esc(source or 'estimate')})"
        lock = f"  [dim]lock: {esc(st.lock)} on {esc(st.table or '?')}{rows}[/]" if st.lock else ""
        out.print(f"[bold]{esc(st.phase)}[/]: {esc(st.what)}{lock}")
        if st.sql:
            say(f"    {st.sql}", soft_wrap=True)
        for f in st.findings or []:
            say(f"    ⚠ {f['code']} {f['severity']}: {f['message']}", soft_wrap=True)
    if result.rollback is not None and result.rollback.backup is not None:
        say(f"backup before the rollback: {result.rollback.backup.path}", soft_wrap=True)
    proof = result.rollback.proof if result.rollback is not None else None
    writes = result.rollback.writes if result.rollback is not None else None
    if proof is not None:
        if proof.equal:
            verdict = "database equals the snapshot"
        elif proof.only_rows_differ and writes is not None and writes.fate == "kept":
            verdict = "revision, schema and pre-checks as before; only the application's writes differ"
        else:
            verdict = "DATABASE DIFFERS FROM THE SNAPSHOT"
        out.print(f"rollback proof: {verdict}")
        for diff in proof.differences:
            say(f"  - {diff}")
    if writes is not None:
        fate = {"kept": "kept", "saved": f"DISCARDED, saved to {writes.saved_to}", "stopped": "still there (stopped)"}
        say(f"rows written since the backup ({fate.get(writes.fate, writes.fate)}):", soft_wrap=True)
        for changed in writes.tables:
            say(f"  - {changed.summary()}", soft_wrap=True)
        for created, count in writes.created.items():
            say(f"  - {created}: {count} rows in a table the migration created (in the backup before the rollback)", soft_wrap=True)
    if result.rehearsal is not None:
        r = result.rehearsal
        out.print(
            f"rehearsal: {'passed' if r.passed else 'FAILED'}, predicted apply time "
            f"{r.predicted_apply_seconds}s, {r.statement_count} statements"
        )
    unlinted = [f for f in result.lint if f.get("code") == "SS094"]
    for f in unlinted:  # an unknown is shown at once, blocking or not
        out.print(f"[yellow]not linted:[/] {esc(f['message'])}", soft_wrap=True)
    if result.digest and result.outcome in ("planned", "blocked"):
        out.print(f"plan digest: [bold]{esc(result.digest)}[/] (approve with --approve {esc(result.digest)})")
    if result.approval:
        a = result.approval
        out.print(f"approved: digest {esc(a.digest)} by {esc(a.by)} at {esc(a.at)}")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {esc(warning)}", soft_wrap=True)
    style = _OUTCOME_STYLE.get(result.outcome, "bold")
    out.print(f"[{style}]{esc(result.outcome)}[/]: {esc(result.message)}", soft_wrap=True)
    if result.report:
        out.print(f"report: {esc(result.report_md)}", soft_wrap=True)


def confirm_approval(digest: str, database: str) -> str | None:
    """Ask a person at a terminal to type the database's name (the run's approval prompt)."""
    err.print(f"plan digest [bold]{esc(digest)}[/]: this run changes database [bold]{esc(database)}[/].")
    answer: str = typer.prompt("Type the database name to approve", default="", show_default=False)
    return answer.strip() or None


def confirm_restore() -> bool:
    """Ask before a restore replaces the database; without a terminal, refuse (``--yes`` skips this)."""
    if not sys.stdin.isatty():
        fail("restore replaces the whole database; pass --yes to confirm", int(ExitCode.USAGE))
    typer.confirm("Replace the whole database with this backup?", abort=True)
    return True


def check_report(report: CheckReport) -> None:
    if not report.results:  # never "all checks passed" when nothing was checked
        for warning in report.warnings:
            out.print(f"[yellow]warning:[/] {esc(warning)}", soft_wrap=True)
        return
    table = Table(title=f"{esc(report.phase)}-checks")
    for col in ("", "check", "value", "expected", "offending"):
        table.add_column(col)
    for r in report.results:
        mark = "[green]✓[/]" if r.passed else "[red]✗[/]"
        offending = ", ".join(map(str, r.samples)) or ("" if r.passed else r.message)
        table.add_row(mark, esc(r.name), esc(r.value), esc(r.expected or ""), esc(offending))
    out.print(table)
    out.print("[green]all checks passed[/]" if report.passed else "[red]checks failed[/]")


def check_kinds(kinds: CheckKinds) -> None:
    """Each kind, what it proves, and a table of its keys."""
    for doc in kinds.kinds:
        out.print(f"[bold]{esc(doc.kind)}[/]: {esc(doc.summary)}", soft_wrap=True)
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 4))
        for key in doc.keys:
            default = "[bold]required[/]" if key.required else esc(key.default_text)
            table.add_row(esc(key.name), esc(key.type), default, esc(key.description))
        out.print(table)
    common = ", ".join(f"{k.name} ({k.description})" for k in kinds.common)
    say(f"Every kind also takes {common}.", soft_wrap=True)


def lint_report(report: LintReport) -> None:
    table = Table(title=f"lint: {esc(report.source)} ({esc(report.dialect)})")
    for col in ("#", "lock", "table", "finding", "message"):
        table.add_column(col)
    for f in report.findings:
        info = next((s for s in report.statements if s.index == f.statement), None)
        style = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
        code = f"[{style}]{esc(f.code)} {esc(f.severity)}[/]" + (" (suppressed)" if f.suppressed else "")
        table.add_row(str(f.statement), esc(info.lock) if info else "", esc(f.table or ""), code, esc(f.message))
    out.print(table)
    blocking = len(report.blocking)
    out.print(f"{len(report.findings)} findings, {blocking} at or above fail_on = {esc(report.fail_on)}")


def backup_info(info: BackupInfo) -> None:
    say(f"backup written: {info.path} ({info.bytes} bytes, {info.seconds:.2f}s, verified: {info.verified})")


def restore_result(result: RestoreResult) -> None:
    say(
        f"restored {result.backup} into {result.database}: "
        f"{sum(result.row_counts.values())} rows in {len(result.row_counts)} tables"
    )


def status(st: Status) -> None:
    say(f"database: {st.database}")
    say(f"revision: {st.current or 'base'} (target {st.target})")
    say("pending: " + (", ".join(f"{p['id']} {p['message']}" for p in st.pending) or "none"))
    for r in st.runs:
        say(f"  {r['run_id']}  {r['outcome']:<12} {r['message']}", soft_wrap=True)


def demo_banner(text: str, json_out: bool) -> None:
    """The demo's first line (``text`` is ours, built from validated options)."""
    if not json_out:
        out.print(text)


def family_demo(result: DemoResult) -> None:
    writer = getattr(result, "writer", None)  # the online variant's concurrent writer
    if writer is not None:
        say(f"writer: {writer.to_dict()}", soft_wrap=True)
    run_result(result.run)


def relationships_demo(result: RelationshipsDemoResult) -> None:
    run_result(result.run)
