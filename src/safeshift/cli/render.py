"""Rich views of the api's results: tables, the live run checklist, JSON, one-line errors.

Every string that comes from the user, the plan or the database goes through :func:`esc`
(or is printed with ``markup=False``) so that a ``[`` in a check name or a message is shown
as it is instead of being read as Rich markup. Secrets are masked (``redact``) on the way out.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from safeshift.errors import ExitCode

if TYPE_CHECKING:
    import logging

    from safeshift.adopt import InitResult, ToolRevisions
    from safeshift.adopt.baseline import BaselineResult
    from safeshift.api import (
        CheckKinds,
        CheckReport,
        LintReport,
        RestoreResult,
        Status,
    )
    from safeshift.cli.progress import ProgressView
    from safeshift.demo import DemoResult
    from safeshift.demo.relationships import RelationshipsDemoResult
    from safeshift.dialects import BackupInfo
    from safeshift.run import PhaseResult, RunResult
    from safeshift.run.history import History, RunReport
    from safeshift.run.observe import Observation

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


# -- the command being run: is stdout JSON, and which command is it (for the JSON envelope) ------
_mode: dict[str, Any] = {"json": False, "command": None}


def begin(argv: list[str]) -> None:
    """A new command line: until its options are read, ``--json`` anywhere means JSON (so an
    unknown option under ``--json`` still answers with a JSON object)."""
    words = argv[: argv.index("--")] if "--" in argv else argv
    _mode.update(json="--json" in words, command=None)


def command_of(ctx: Any) -> str | None:
    """``run``, ``demo family``: the command's words after ``safeshift`` (None for the root)."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(reversed(names)) or None


def json_option(ctx: typer.Context, value: bool) -> bool:
    """The ``--json`` option's callback (eager: read before the other options, so an error in
    them is already reported as JSON)."""
    _mode.update(json=bool(value), command=command_of(ctx))
    return value


def envelope(data: dict[str, Any], *, outcome: str, exit_code: int, error: dict[str, str] | None = None) -> dict[str, Any]:
    """Every ``--json`` answer: ``version``, ``command``, ``outcome``, ``exit_code`` (and ``error``
    when the command could not produce its result), then the command's own fields."""
    from safeshift import __version__

    head: dict[str, Any] = {"version": __version__, "command": _mode["command"], "outcome": outcome, "exit_code": exit_code}
    if error is not None:
        head["error"] = error
    return {**head, **{k: v for k, v in data.items() if k not in head}}


def report_error(message: str, code: int, error_type: str = "UsageError") -> None:
    """One line on stderr; under ``--json`` also the error envelope on stdout."""
    err.print(f"[bold red]error:[/] {esc(message)}", markup=True, soft_wrap=True)
    if _mode["json"]:
        emit_json(envelope({}, outcome="error", exit_code=code, error={"message": message, "type": error_type}))


def fail(message: str, code: int, error_type: str = "UsageError") -> NoReturn:
    """One line on stderr (and the JSON error under ``--json``) and the exit code: how every
    error leaves the CLI."""
    report_error(message, code, error_type)
    raise typer.Exit(code)


def usage_message(exc: Any) -> str:
    """A usage error of the command line parser (Click's, under Typer) as one line:
    ``--phase: expected pre or post, got 'during'``, else its message and where the help is."""
    text = " ".join(str(exc.format_message()).split()).replace("Value error, ", "")
    param = getattr(exc, "param", None)
    opts = getattr(param, "opts", None)
    choice = re.search(r"'(?P<got>[^']*)' is not one of (?P<choices>.*?)\.?$", text)
    if choice and opts:
        allowed = re.findall(r"'([^']*)'", choice["choices"])
        expected = (", ".join(allowed[:-1]) + f" or {allowed[-1]}") if len(allowed) > 1 else "".join(allowed)
        name = opts[0] if str(opts[0]).startswith("-") else str(getattr(param, "metavar", None) or opts[0]).upper()
        return f"{name}: expected {expected}, got {choice['got']!r}"
    where = " ".join(filter(None, ["safeshift", command_of(getattr(exc, "ctx", None))]))
    return f"{text} (see {where} -h)"


def usage_error(exc: Any) -> int:
    """Report a parser's usage error (one line; JSON under ``--json``) and return its exit code."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.parent is not None:
        _mode["command"] = command_of(ctx)
    report_error(usage_message(exc), int(exc.exit_code), "UsageError")
    return int(exc.exit_code)


def emit_json(data: dict[str, Any]) -> None:
    from safeshift.secrets import redact_data

    sys.stdout.write(json.dumps(redact_data(data), default=str) + "\n")


def finish(result: Any, json_out: bool, view: Any = None) -> NoReturn:
    """Print ``result`` (the JSON envelope, or ``view(result)``) and exit with its exit code.

    A result without an ``outcome`` of its own (check, lint, backup, status…) is ``ok`` at
    exit 0, else ``failed``.
    """
    code = int(getattr(result, "exit_code", 0))
    if json_out:
        data = result.to_dict()
        outcome = data.get("outcome") or getattr(result, "outcome", None) or ("ok" if code == 0 else "failed")
        emit_json(envelope(data, outcome=str(outcome), exit_code=code))
    elif view is not None:
        view(result)
    raise typer.Exit(code)


def log_line(record: logging.LogRecord) -> None:
    """``-v``: a third-party log record (Alembic's) on stderr, as text."""
    from safeshift.logs import describe

    line = describe(record)
    err.print(plain(f"{line['logger']} {line['level']}: {line['message']}"), markup=False, style="dim", soft_wrap=True)


class RichObserver:
    """A live checklist of phases and a progress bar for long work (stdout: errors alone go to stderr)."""

    _MARK = {"ok": "[green]✓[/]", "skipped": "[yellow]–[/]", "blocked": "[yellow]■[/]", "failed": "[red]✗[/]"}

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars: ProgressView | None = None

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
        if self._bars is None:
            from safeshift.cli.progress import ProgressView

            self._bars = ProgressView(self.console)
        self._bars.update(task, done, total)  # a live bar at a terminal, a line per step or 10 % in a log

    def _stop_progress(self) -> None:
        if self._bars is not None:
            self._bars.stop()


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
    if result.outcome == "planned":  # a dry run says where it goes before how
        say(f"target: {result.target_revision} (the database is at {result.start_revision or 'base'})", soft_wrap=True)
        pending = [f"{p['id']} {p['message']}".strip() for p in result.pending]
        say(f"pending ({len(pending)}): " + (", ".join(pending) or "none"), soft_wrap=True)
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
    for seen in (result.observed, result.rehearsal.observed if result.rehearsal is not None else None):
        if seen is not None:  # in full before the change (a dry run, a stop, a rehearsal); else counted
            observed(seen, brief=result.outcome not in ("planned", "blocked", "rehearsed"))
    for f in result.lint:  # an unknown is shown at once, blocking or not
        if f.get("not_linted") or f.get("code") == "SS094":  # SS094: a report written before not_linted
            out.print(f"[yellow]not linted:[/] {esc(_unlinted(f))}", soft_wrap=True)
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
    if result.report_html:
        out.print(f"html report: {esc(result.report_html)} (junit.xml beside it)", soft_wrap=True)


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


def _unlinted(f: dict[str, Any]) -> str:
    """What was not linted and how it counts: "error", "warning", or suppressed with its reason."""
    where = f"statement {f['statement']}: " if f.get("statement") is not None else ""
    message = str(f["message"]).removeprefix("not linted: ")
    counts = f"suppressed: {f.get('reason')}" if f.get("suppressed") else f"counts as {f.get('severity')}"
    return f"{where}{message} ({counts})"


def lint_report(report: LintReport) -> None:
    version = f"; advice for {report.server_version.describe()}" if report.server_version else ""
    table = Table(title=f"lint: {esc(report.source)} ({esc(report.dialect)}{esc(version)})")
    for col in ("#", "lock", "table", "finding", "message"):
        table.add_column(col)
    for f in report.findings:
        info = next((s for s in report.statements if s.index == f.statement), None)
        style = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
        code = f"[{style}]{esc(f.code)} {esc(f.severity)}[/]" + (" (suppressed)" if f.suppressed else "")
        message = esc(f.message) + (f"\n[cyan]fix:[/] {esc(f.suggestion)}" if f.suggestion else "")
        at = "" if f.statement is None else str(f.statement)
        table.add_row(at, esc(info.lock) if info else "", esc(f.table or ""), code, message)
    out.print(table)
    for f in report.findings:
        if f.not_linted:
            out.print(f"[yellow]not linted:[/] {esc(_unlinted(f.to_dict()))}", soft_wrap=True)
    if report.observed is not None:
        observed(report.observed)
    blocking = len(report.blocking)
    out.print(f"{len(report.findings)} findings, {blocking} at or above fail_on = {esc(report.fail_on)}")


def observed(obs: Observation, *, brief: bool = False) -> None:
    """Each statement that ran on the copy: the lint's lock for it, the locks it took, a rewrite."""
    if obs.skipped is not None:
        out.print(f"[yellow]not observed[/] on {esc(obs.where)}: {esc(obs.skipped)}", soft_wrap=True)
        return
    if brief:
        say(f"observed on {obs.where}: {len(obs.statements)} statements, {len(obs.blocking)} findings at or above fail_on")
        return
    table = Table(title=f"observed on {esc(obs.where)}")
    for col in ("#", "statement", "declared", "observed", "rewrote"):
        table.add_column(col)
    for st in obs.statements:
        locks = ", ".join(lock.mode if lock.relation.startswith("(") else f"{lock.mode} on {lock.relation}" for lock in st.locks)
        seen = "; ".join(part for part in (locks, st.note or "") if part) or "nothing held"
        sql = " ".join(st.sql.split())
        marks = "".join(f"\n[red]{esc(f.code)} {esc(f.severity)}[/]: {esc(f.message)}" for f in st.findings)
        table.add_row(str(st.index), esc(sql[:160] + ("…" if len(sql) > 160 else "")) + marks, esc(st.declared),
                      esc(seen), esc(", ".join(st.rewrote) or "no"))
    out.print(table)
    if obs.reads:
        say(f"({obs.reads} reads that changed nothing are not listed)")


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
        say(f"  {r['run_id']}  {r['outcome']:<12} {r.get('message') or ''}", soft_wrap=True)
        if r.get("next"):  # an interrupted, unproven or stopped run: what to do about it
            say(f"      next: {r['next']}", soft_wrap=True)


def init_result(result: InitResult) -> None:
    """The plan (when only shown), or where it went; then what to add to env.py and what to do next."""
    if not result.written:
        say(result.plan.rstrip("\n"), soft_wrap=True)
        out.print()
    say(f"found: {result.found}", soft_wrap=True)
    if result.database is not None:
        say(f"database: {result.database}: {len(result.tables)} tables, {result.checks} checks inferred", soft_wrap=True)
        say(f"revision: {result.current or 'base'}; pending: {', '.join(result.pending) or 'none'}", soft_wrap=True)
    if result.env_py:
        say(f"env.py: {result.env_py[0]}", soft_wrap=True)
        for text in result.env_py[1:]:
            say(text, soft_wrap=True)
    for note in result.notes:
        say(f"note: {note}", soft_wrap=True)
    if result.written:
        out.print(f"[green]wrote {esc(result.path)}[/]: review it, then `safeshift run --dry-run`", soft_wrap=True)
    else:
        out.print("[cyan]nothing written[/] (--print)")


def baseline_result(result: BaselineResult) -> None:
    ids = ", ".join(r["id"] for r in result.recorded) or "nothing new"
    say(
        f"recorded {result.revision} on {result.database} ({result.engine}): {ids} marked applied, none run; "
        f"revision {result.previous or 'base'} → {result.current or 'base'}",
        soft_wrap=True,
    )


def tool_revisions(result: ToolRevisions) -> None:
    """Plain lines, never wrapped: the command engine reads them."""
    for text in result.lines():
        sys.stdout.write(plain(text) + "\n")


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


def history(h: History) -> None:
    """The runs of a plan's database, newest first: one line each (logs and narrow terminals keep them whole)."""
    if not h.runs:
        say(f"no runs of {h.database or 'this plan'} yet")
        return
    say(f"runs of {h.database or 'this plan'}, newest first:")
    for r in h.runs:
        style = _OUTCOME_STYLE.get(str(r["outcome"]), "bold")
        took = "" if r["seconds"] is None else f"{r['seconds']:.1f} s"
        downtime = f"{r['downtime_seconds']:.1f} s" if r["downtime_seconds"] else "–"
        started = str(r["started"] or "").replace("T", " ")[:19]
        out.print(
            f"  {esc(r['run_id'])}  {esc(started)}  [{style}]{esc(r['outcome']):<12}[/] {esc(r['revision'])}  "
            f"took {took}, downtime {downtime}  [dim]{esc(r['message'] or '')}[/]",
            soft_wrap=True,
        )


def report_text(report: RunReport) -> None:
    """A report rendered again, as it is (HTML, Markdown or XML, its values masked by the renderers:
    no markup, no wrapping; control characters other than newlines and tabs shown escaped)."""
    sys.stdout.write(report.text.translate({k: v for k, v in _CONTROL.items() if k not in (0x09, 0x0A, 0x0D)}))
