"""The library entry points: everything the CLI does, as functions returning result objects.

Each function takes a plan (a loaded :class:`~safeshift.config.models.Plan`, or the path of a plan
file or of a folder holding ``safeshift.toml``) and returns a dataclass with ``to_dict()``
and ``exit_code``; a user error raises :class:`~safeshift.errors.SafeshiftError`. The CLI
(:mod:`safeshift.cli`) parses options, calls one of these and renders the result.

This module imports the heavy subsystems (SQLAlchemy, sqlglot, the lint, httpx, the runner)
inside the functions that use them, so ``import safeshift.api`` stays cheap and
``safeshift --help`` starts fast.

    from safeshift import api

    result = api.run_plan("safeshift.toml")
    print(result.outcome, result.exit_code, result.report)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from safeshift.errors import ConfigError, ConnectError, LockError

if TYPE_CHECKING:

    from safeshift import lint
    from safeshift.adopt import InitResult, ToolRevisions
    from safeshift.adopt.baseline import BaselineResult
    from safeshift.checks import CheckResult
    from safeshift.config.models import Plan
    from safeshift.demo import BreakMode, DbKind, DemoResult
    from safeshift.demo.relationships import RelationshipsDemoResult
    from safeshift.dialects import BackupInfo, Dialect
    from safeshift.lint.report import LintReport
    from safeshift.run import Approval, Observer, RunResult
    from safeshift.run.history import History, RunReport
    from safeshift.run.observe import Observation
    from safeshift.run.phases.approve import Confirm

    PlanLike: TypeAlias = Plan | str | os.PathLike[str]


def load(plan: PlanLike, *, target: str | None = None) -> Plan:
    """A loaded plan as it is, or the plan file (or folder holding ``safeshift.toml``) at ``plan``, loaded.

    ``target`` (``--target``) replaces the plan's ``[migration] target``.
    """
    from safeshift.config.load import with_target
    from safeshift.config.models import Plan
    from safeshift.loading import load_plan

    return with_target(plan if isinstance(plan, Plan) else load_plan(Path(plan)), target)


# -- the run family (the state machine lives in safeshift.run) -------------------------------


def run_plan(
    plan: PlanLike,
    *,
    workdir: Path | None = None,
    dry_run: bool = False,
    observer: Observer | None = None,
    rehearse: bool | None = None,
    approval: Approval | None = None,
    approve: str | None = None,
    confirm: Confirm | None = None,
    force: bool = False,
    target: str | None = None,
) -> RunResult:
    """Execute the plan: preflight, snapshot, backup, [rehearse], [approve], apply, verify, report.

    Approval, when the plan requires it: ``approval``, or one built from ``approve`` (the digest
    printed by a dry run) and ``confirm`` (asked the digest and the database name, returns what
    the person typed). ``target`` replaces the plan's ``[migration] target`` (and is part of
    the approval digest).
    """
    from safeshift.run import Approval
    from safeshift.run import run_plan as _run_plan

    loaded = load(plan, target=target)
    if approval is None:
        approval = Approval(digest=approve, confirm=confirm)
    return _run_plan(
        loaded, workdir=workdir, dry_run=dry_run, observer=observer, rehearse=rehearse, approval=approval, force=force
    )


def rehearse_plan(
    plan: PlanLike, *, workdir: Path | None = None, observer: Observer | None = None, target: str | None = None
) -> RunResult:
    """Back up, restore into a scratch copy, apply + verify there, time every statement; the database is
    not changed. ``target`` replaces the plan's ``[migration] target``."""
    from safeshift.run import rehearse_plan as _rehearse_plan

    return _rehearse_plan(load(plan, target=target), workdir=workdir, observer=observer)


def resume_run(
    plan: PlanLike, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None
) -> RunResult:
    """Finish an interrupted run whose migration completed: verify, then succeed or roll back."""
    from safeshift.run import resume_run as _resume_run

    return _resume_run(load(plan), run_id, workdir=workdir, observer=observer)


def rollback_run(
    plan: PlanLike, run_id: str, *, workdir: Path | None = None, observer: Observer | None = None, force: bool = False
) -> RunResult:
    """Roll back a run and prove it: an interrupted one from its journal, or a succeeded one
    (a planned rollback to its start revision; ``force`` even when the database moved on since)."""
    from safeshift.run import rollback_run as _rollback_run

    return _rollback_run(load(plan), run_id, workdir=workdir, observer=observer, force=force)


# -- check ---------------------------------------------------------------------------------------


@dataclass
class CheckReport:
    """The checks' results; with no checks to run, a warning (and exit 0: nothing failed)."""

    phase: str
    results: list[CheckResult]
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "passed": self.passed,
            "checks": [r.to_dict() for r in self.results],
            "warnings": list(self.warnings),
        }


def _open(plan: Plan) -> Dialect:
    from safeshift.dialects import get_dialect
    from safeshift.secrets import register_url

    url = plan.database_url()
    register_url(url)
    dialect = get_dialect(url)
    dialect.check_reachable()
    return dialect


def check(plan: PlanLike, phase: str = "post") -> CheckReport:
    """Run the plan's pre- or post-checks now (the runbook's daily validation).

    Snapshot-relative expectations compare against the current row counts.
    """
    from safeshift.checks import CheckContext, build_checks, capture_baseline, run_checks
    from safeshift.checks.references import missing_references
    from safeshift.errors import PlanProblems

    loaded = load(plan)
    if phase not in ("pre", "post"):
        raise ConfigError(f"--phase: expected pre or post, got {phase!r}")
    dialect = _open(loaded)
    checks = build_checks(loaded, phase)
    if not checks:
        where = f"[[checks.{phase}]]"
        return CheckReport(phase, [], [f"no {phase}-checks defined in {loaded.source.name} ({where}): nothing was checked"])
    with dialect.connected() as conn:
        missing = missing_references(checks, conn)  # the plan's mistake (exit 2), not a failed check
        if missing:
            raise PlanProblems(loaded.source.name, [str(m) for m in missing])
        snapshot = dialect.row_counts(conn)
        conn.rollback()
        # Outside a run "before" is now: snapshot-relative and before/after checks compare with it.
        ctx = CheckContext(conn=conn, snapshot=None, base_dir=loaded.base_dir)
        ctx.baseline = capture_baseline(checks, ctx)
        ctx.snapshot = snapshot
        return CheckReport(phase, run_checks(checks, ctx))


@dataclass
class CheckKinds:
    """Every check kind with its keys (type, default, description), read from the kinds' models."""

    kinds: list[Any]  # safeshift.checks.catalog.KindDoc
    common: list[Any]  # the keys every kind takes (KeyDoc)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": [k.to_dict() for k in self.kinds], "common_keys": [k.to_dict() for k in self.common]}


def check_kinds() -> CheckKinds:
    """The check kinds a plan may use (``kind = ...``) and each one's keys, generated from the models."""
    import safeshift.checks  # noqa: F401  (registers the built-in kinds)
    from safeshift.checks.catalog import catalog, common_keys

    return CheckKinds(kinds=catalog(), common=list(common_keys()))


# -- backup, restore ----------------------------------------------------------------------------


def backup(plan: PlanLike, *, workdir: Path | None = None, verify: bool = True) -> BackupInfo:
    """Take (and verify, as the plan's ``[backup] verify`` says) a backup outside a run."""
    from safeshift.config.load import backup_dir, resolve_workdir
    from safeshift.run.context import new_run_id
    from safeshift.run.manifest import write_manifest
    from safeshift.run.retention import prune_backups
    from safeshift.secrets import safe_url

    loaded = load(plan)
    dialect = _open(loaded)
    folder = backup_dir(loaded, workdir)
    run_id = new_run_id()
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            snapshot = dialect.row_counts(conn)
        info = dialect.backup(engine, folder / f"{run_id}{dialect.backup_suffix}")
        if verify and loaded.backup.verifies:
            info.verify_detail = dialect.verify_backup(info, snapshot, run_id, method=loaded.backup.verify)
            info.verified = True
        write_manifest(Path(info.path), safe_url(dialect.url), run_id, snapshot)
        workdir_now = resolve_workdir(loaded, workdir)
        prune_backups(folder, safe_url(dialect.url), loaded.backup.keep, workdir=workdir_now, current=Path(info.path))
        return info
    finally:
        engine.dispose()


@dataclass
class RestoreResult:
    backup: str
    database: str
    row_counts: dict[str, int]

    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"backup": self.backup, "database": self.database, "row_counts": self.row_counts}


def restore(
    plan: PlanLike,
    backup_path: Path,
    *,
    confirm: Callable[[], bool] | None = None,
    force: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> RestoreResult:
    """Replace the database's content with a backup file: this database's own, complete and
    unchanged (its manifest says so), unless ``force`` (a file from elsewhere, taken by hand).

    ``confirm``, when given, is asked once the plan is loaded; a false answer changes nothing.
    """
    from safeshift.run.manifest import check_backup_for
    from safeshift.secrets import safe_url

    loaded = load(plan)
    if confirm is not None and not confirm():
        raise ConfigError("restore declined: the database was not changed")
    if not backup_path.is_file():
        raise ConfigError(f"{backup_path}: backup file not found")
    if backup_path.name.endswith((".part", ".tmp", "-journal", "-wal")):  # torn: not even --force restores it
        raise ConfigError(f"{backup_path}: a partial file left by an interrupted backup, not a backup; nothing was changed")
    dialect = _open(loaded)
    if not force:
        check_backup_for(backup_path, safe_url(dialect.url))  # this database's own, complete, unchanged
    engine = dialect.create_engine()
    try:
        dialect.restore(engine, backup_path.resolve(), progress)
        with engine.connect() as conn:
            counts = dialect.row_counts(conn)
        return RestoreResult(backup=str(backup_path), database=safe_url(dialect.url), row_counts=counts)
    finally:
        engine.dispose()


# -- status --------------------------------------------------------------------------------------


@dataclass
class Status:
    database: str
    current: str | None
    target: str
    pending: list[dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "current": self.current,
            "target": self.target,
            "pending": self.pending,
            "runs": self.runs,
        }


def recent_runs(workdir: Path, limit: int = 10) -> list[dict[str, Any]]:
    """The last runs under ``workdir``: outcome, and for an interrupted one what to run next."""
    from safeshift.run.recovery import all_runs

    runs = []
    for record in all_runs(workdir)[:limit]:
        data = record.to_dict()
        data["alive"] = record.alive
        report = record.folder / "report.json"
        if report.is_file():
            saved = json.loads(report.read_text(encoding="utf-8"))
            data["message"] = saved.get("message")
            data["report"] = str(report)
        elif record.finished:  # it ended, but died before writing its report
            data["message"] = f"{record.message or ''} (no report was written: safeshift report {record.run_id} renders it)"
            data["report"] = None
        else:
            data["message"] = f"interrupted in {record.last_phase or 'its start'}; next: {record.next_step}"
            data["report"] = None
        runs.append(data)
    return runs


def status(plan: PlanLike, *, workdir: Path | None = None) -> Status:
    """Current revision, what is pending, and the last runs."""
    from safeshift.config.load import resolve_workdir
    from safeshift.migrators import get_migrator
    from safeshift.secrets import safe_url

    loaded = load(plan)
    dialect = _open(loaded)
    migrator = get_migrator(loaded)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            current = migrator.current(conn)
            target = migrator.resolve_target(loaded.migration.target)
            pending = [r.to_dict() for r in migrator.pending(conn, loaded.migration.target)]
        held = lock_holder(dialect, engine)
    except (ConfigError, ConnectError):
        raise
    except Exception as exc:
        raise ConnectError(f"cannot connect to {safe_url(dialect.url)}: {exc}") from None
    finally:
        engine.dispose()
    runs = recent_runs(resolve_workdir(loaded, workdir))
    for run in runs:
        # a run without a report is either still going (it holds the database's lock) or dead
        if run["outcome"] != "interrupted":
            continue
        if held is not None and run["run_id"] in held:
            run["outcome"] = "running"
            run["message"] = held
            run["next"] = None
        elif run.get("alive"):  # its process lives without the lock: running, never to be recovered now
            run["outcome"] = "running"
            run["message"] = "its process is alive but no longer holds the run lock (lost: it will stop)"
            run["next"] = None
    return Status(database=safe_url(dialect.url), current=current, target=target, pending=pending, runs=runs)


def lock_holder(dialect: Dialect, engine: Any) -> str | None:
    """Who holds the database's run lock now (the LockError's message), or None when it is free."""
    from safeshift.journal import now_iso

    try:
        with dialect.run_lock(engine, "status-probe", now_iso()):
            return None
    except LockError as exc:
        return exc.message


# -- init, revisions (adopting safeshift on an existing project) ----------------------------------


def init(folder: str | os.PathLike[str] = ".", *, url_env: str = "DATABASE_URL", write: bool = True) -> InitResult:
    """Write ``safeshift.toml`` in ``folder`` for the project there: its migrator (Alembic, SQL
    files, or an external tool found by its version table), and, when ``$url_env`` is set,
    checks inferred from the live schema. Never overwrites a file; ``write=False`` only shows it."""
    from safeshift.adopt import init_project

    return init_project(Path(folder), url_env=url_env, write=write)


def tool_revisions(
    tool: str, folder: str | os.PathLike[str] = ".", *, pending: bool = False, url_env: str = "DATABASE_URL"
) -> ToolRevisions:
    """An external tool's current revision (or its pending migrations in ``folder``), read from its
    version table: the ``current``/``pending`` commands of the plans ``init`` writes for it."""
    from safeshift.adopt import read_revisions

    return read_revisions(tool, Path(folder), pending=pending, url_env=url_env)


# -- baseline (the work and its result type live in safeshift.adopt.baseline) ------------------


def baseline(plan: PlanLike, revision: str, *, force: bool = False) -> BaselineResult:
    """Record ``revision`` and everything before it as applied without running it (a schema built
    another way); refused when the database is at ``revision`` or beyond, unless ``force``."""
    from safeshift.adopt.baseline import record_baseline

    loaded = load(plan)
    if not revision.strip():
        raise ConfigError("baseline: expected a revision such as 0001 or head")
    return record_baseline(loaded, _open(loaded), revision, force=force)


# -- history, report (their result types live in safeshift.run.history) -------------------------


def history(plan: PlanLike, *, workdir: Path | None = None, limit: int | None = None) -> History:
    """The runs under the workdir against the plan's database (read from their folders: no connection).

    When the database URL cannot be resolved (its ``${ENV}`` is unset), the runs of this plan file.
    """
    from safeshift.config.load import resolve_workdir
    from safeshift.run.history import History, run_history
    from safeshift.secrets import register_url, safe_url

    loaded = load(plan)
    database: str | None
    try:
        url = loaded.database_url()
        register_url(url)
        database = safe_url(url)
    except ConfigError:
        database = None
    runs = run_history(resolve_workdir(loaded, workdir), database=database, plan=str(loaded.source), limit=limit)
    return History(database=database, runs=runs)


def report(plan: PlanLike, run_id: str, *, workdir: Path | None = None, fmt: str = "md") -> RunReport:
    """Render run ``run_id``'s report again: ``html``, ``md``, ``json`` or ``junit``."""
    from safeshift.config.load import resolve_workdir
    from safeshift.run.history import RunReport, render

    if fmt not in ("html", "md", "json", "junit"):
        raise ConfigError(f"report format: expected html, md, json or junit, got {fmt!r}")
    loaded = load(plan)
    data, text = render(resolve_workdir(loaded, workdir), run_id, fmt)  # type: ignore[arg-type]
    return RunReport(run_id=run_id, format=fmt, text=text, data=data)


# -- lint ----------------------------------------------------------------------------------------


def lint_plan(
    plan: PlanLike | None,
    files: list[Path] | None = None,
    dialect_name: str | None = None,
    *,
    sarif: Path | None = None,
    target: str | None = None,
    server_version: str | None = None,
    observe: bool = False,
) -> LintReport:
    """Lint the plan's pending migration against the live table sizes, or SQL files as given;
    ``observe``: what ran on a schema-only copy, each statement with the locks it took there.

    ``plan`` None: ``./safeshift.toml``; SQL files need no plan when ``dialect_name`` is given
    and there is no such file (the default ``[lint]`` settings, no backup assumed).
    ``sarif``: also write the findings as SARIF 2.1.0 to this file (for CI). ``target``
    replaces the plan's ``[migration] target`` (not with files: they are linted as given).
    ``server_version``: the server the advice is for (else the live one, ``[lint] server_version``, assumed).
    """
    from safeshift import lint
    from safeshift.config.models import DEFAULT_PLAN
    from safeshift.lint.report import LintReport
    from safeshift.migrators import get_migrator

    def _written(report: LintReport, to: Path | None) -> LintReport:
        if to is not None:  # SARIF 2.1.0 for CI
            to.write_text(json.dumps(report.sarif(), indent=2) + "\n", encoding="utf-8")
        return report

    if files and (target is not None or observe):
        raise ConfigError(f"{'--observe' if observe else '--target'}: lints the plan's pending migration; SQL files are linted as given")
    planless = plan is None and bool(files) and not Path(DEFAULT_PLAN).exists()
    if planless and dialect_name is None:
        raise ConfigError(
            f"lint: SQL files need --dialect (sqlite, postgresql, mysql or mariadb) or a plan (--plan PATH; no ./{DEFAULT_PLAN})"
        )
    if plan is None and not planless:
        plan = DEFAULT_PLAN
    loaded = load(plan, target=target) if plan is not None else None
    settings = lint.LintSettings.from_section(loaded.lint) if loaded is not None else lint.LintSettings()
    live: str | None = None
    observed: Observation | None = None
    if files:
        if dialect_name is not None:
            product, name = dialect_name, lint.lint_dialect(dialect_name, given=True)
        else:
            assert loaded is not None  # no dialect: the plan was loaded
            product = loaded.database_url().get_backend_name()
            name = lint.lint_dialect(product, given=False)
        statements, unrendered = lint.read_sql_files(files, name, settings)
        sizes: dict[str, lint.TableSize] | None = None  # no database: sizes unknown ([lint] assume_rows)
        source = ", ".join(str(p) for p in files)
    else:
        assert loaded is not None  # no files: the plan was loaded
        if observe:  # what ran on a schema-only copy, linted there (run/observe_plan.py)
            from safeshift.run.observe_plan import observe_pending

            if server_version is not None:
                raise ConfigError("--server-version: with --observe the advice is for the server the migration ran on")
            observed, source, live = observe_pending(loaded)
            product = name = lint.lint_dialect(loaded.database_url().get_backend_name(), given=False)
        else:
            dialect = _open(loaded)
            name = product = dialect.name
            migrator = get_migrator(loaded)
            if not migrator.renders_sql:
                raise ConfigError(
                    f"{loaded.source.name}: migration.engine: {migrator.name} migrations are commands; there is no SQL to lint"
                )
            with dialect.connected() as conn:
                facts = dialect.server_facts(conn)
                current = migrator.current(conn)
            live = facts.version
            target = migrator.resolve_target(loaded.migration.target)
            pieces = migrator.render_each(current, target, name)
            statements = [sql for piece in pieces if piece.error is None for sql in piece.statements]
            unrendered = [f for p in pieces if p.error is not None for f in lint.not_rendered(p.revision, p.error, settings)]
            sizes = lint.table_sizes_from_facts(facts)
            source = f"{migrator.name} {current or 'base'}→{target}"
    try:
        version = lint.resolve_version(product, given=server_version, live=live, setting=settings.server_version)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if observed is not None:  # what ran on the copy, linted there (run/observe.py)
        return _written(LintReport(source, name, observed.findings, observed.infos, settings.fail_on, version, observed), sarif)
    options: dict[str, Any] = {"destructive_ok": loaded is not None and loaded.backup.verifies, "settings": settings}
    linted, infos = lint.lint_and_annotate(statements, name, sizes, server_version=version, **options)
    return _written(LintReport(source, name, unrendered + linted, infos, settings.fail_on, version), sarif)


# -- the demos (an optional extra: fastapi, uvicorn) ---------------------------------------------


def require_demo_extra(what: str = "the family demo") -> None:
    """Raise a one-line ``ConfigError`` saying how to install the ``demo`` extra (the family web
    app's fastapi, uvicorn, python-multipart) when it is missing."""
    from safeshift.demo import require_demo_extra as _require_demo_extra

    _require_demo_extra(what)


def demo_family(
    *,
    db: DbKind = "sqlite",
    users: int = 100_000,
    break_mode: BreakMode | None = None,
    edge_cases: bool = False,
    online: bool = False,
    workdir: Path | None = None,
    observer: Observer | None = None,
) -> DemoResult:
    """The family cutover on a fresh database; ``online``: the expand/backfill/contract variant
    (an :class:`~safeshift.demo.family_online.OnlineDemoResult`, with the concurrent writer's stats)."""
    if online:
        if break_mode is not None or edge_cases:
            raise ConfigError("--online runs the cutover as it is: --break and --edge-cases go with the offline demo")
        from safeshift.demo.family_online import demo_family_online

        return demo_family_online(db=db, users=users, workdir=workdir, observer=observer)
    from safeshift.demo import demo_family as _demo_family

    return _demo_family(db=db, users=users, break_mode=break_mode, edge_cases=edge_cases, workdir=workdir, observer=observer)


def demo_relationships(
    *,
    db: DbKind = "sqlite",
    couples: int = 50_000,
    break_mode: BreakMode | None = None,
    edge_cases: bool = False,
    workdir: Path | None = None,
    observer: Observer | None = None,
) -> RelationshipsDemoResult:
    """The relationships cutover on a fresh database."""
    from safeshift.demo.relationships import demo_relationships as _demo_relationships

    return _demo_relationships(
        db=db, couples=couples, break_mode=break_mode, edge_cases=edge_cases, workdir=workdir, observer=observer
    )


__all__ = [
    "BaselineResult",
    "CheckKinds",
    "CheckReport",
    "History",
    "LintReport",
    "RestoreResult",
    "RunReport",
    "Status",
    "backup",
    "baseline",
    "check",
    "check_kinds",
    "demo_family",
    "demo_relationships",
    "init",
    "history",
    "lint_plan",
    "load",
    "lock_holder",
    "recent_runs",
    "rehearse_plan",
    "report",
    "restore",
    "resume_run",
    "rollback_run",
    "require_demo_extra",
    "run_plan",
    "status",
    "tool_revisions",
]


def __getattr__(name: str) -> Any:
    """``History``, ``RunReport``, ``LintReport`` and ``BaselineResult`` on first use (their modules load more)."""
    if name in ("History", "RunReport"):
        from safeshift.run import history

        return getattr(history, name)
    if name == "LintReport":
        from safeshift.lint.report import LintReport

        return LintReport
    if name == "BaselineResult":
        from safeshift.adopt.baseline import BaselineResult

        return BaselineResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
