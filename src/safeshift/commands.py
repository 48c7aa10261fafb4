"""Library functions behind the CLI commands other than ``run`` (see :mod:`safeshift.runner`).

Each takes a plan and returns a result object with ``to_dict()``; the CLI only renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeshift import lint
from safeshift.checks import CheckContext, CheckResult, build_checks, capture_baseline, run_checks
from safeshift.config.load import backup_dir, state_dir
from safeshift.config.models import Plan
from safeshift.dialects import BackupInfo, Dialect, get_dialect
from safeshift.errors import ConfigError, ConnectError, LockError, SafeshiftError
from safeshift.journal import now_iso
from safeshift.migrators import get_migrator
from safeshift.run.context import new_run_id
from safeshift.run.recovery import all_runs
from safeshift.secrets import register_url, safe_url


@dataclass
class CheckReport:
    phase: str
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "passed": self.passed, "checks": [r.to_dict() for r in self.results]}


def _open(plan: Plan) -> Dialect:
    url = plan.database_url()
    register_url(url)
    dialect = get_dialect(url)
    dialect.check_reachable()
    return dialect


def check(plan: Plan, phase: str = "post") -> CheckReport:
    """Run the plan's pre- or post-checks now (the runbook's daily validation).

    Snapshot-relative expectations compare against the current row counts.
    """
    if phase not in ("pre", "post"):
        raise ConfigError(f"--phase: expected pre or post, got {phase!r}")
    dialect = _open(plan)
    checks = build_checks(plan, phase)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            snapshot = dialect.row_counts(conn)
            conn.rollback()
            # Outside a run "before" is now: snapshot-relative and before/after checks compare with it.
            ctx = CheckContext(conn=conn, snapshot=None, base_dir=plan.base_dir)
            ctx.baseline = capture_baseline(checks, ctx)
            ctx.snapshot = snapshot
            return CheckReport(phase, run_checks(checks, ctx))
    except ConnectError:
        raise
    except Exception as exc:
        raise ConnectError(f"cannot connect to {safe_url(plan.database_url())}: {exc}") from None
    finally:
        engine.dispose()


def backup(plan: Plan, *, workdir: Path | None = None, verify: bool = True) -> BackupInfo:
    """Take (and verify, as the plan's ``[backup] verify`` says) a backup outside a run."""
    dialect = _open(plan)
    folder = backup_dir(plan, workdir)
    run_id = new_run_id()
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            snapshot = dialect.row_counts(conn)
        info = dialect.backup(engine, folder / f"{run_id}{dialect.backup_suffix}")
        if verify and plan.backup.verifies:
            info.verify_detail = dialect.verify_backup(info, snapshot, run_id, method=plan.backup.verify)
            info.verified = True
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


def restore(plan: Plan, backup_path: Path) -> RestoreResult:
    """Replace the database's content with a backup file."""
    if not backup_path.is_file():
        raise ConfigError(f"{backup_path}: backup file not found")
    dialect = _open(plan)
    engine = dialect.create_engine()
    try:
        dialect.restore(engine, backup_path.resolve())
        with engine.connect() as conn:
            counts = dialect.row_counts(conn)
        return RestoreResult(backup=str(backup_path), database=safe_url(dialect.url), row_counts=counts)
    finally:
        engine.dispose()


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


def recent_runs(home: Path, limit: int = 10) -> list[dict[str, Any]]:
    """The last runs under ``home``: outcome, and for an interrupted one what to run next."""
    runs = []
    for record in all_runs(home)[:limit]:
        data = record.to_dict()
        report = record.folder / "report.json"
        if report.is_file():
            saved = json.loads(report.read_text(encoding="utf-8"))
            data["message"] = saved.get("message")
            data["report"] = str(report)
        else:
            data["message"] = f"interrupted in {record.last_phase}; next: {record.next_step}"
            data["report"] = None
        runs.append(data)
    return runs


def status(plan: Plan, *, workdir: Path | None = None) -> Status:
    """Current revision, what is pending, and the last runs."""
    dialect = _open(plan)
    migrator = get_migrator(plan)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            current = migrator.current(conn)
            target = migrator.resolve_target(plan.migration.target)
            pending = [r.to_dict() for r in migrator.pending(conn, plan.migration.target)]
        held = lock_holder(dialect, engine)
    except (ConfigError, ConnectError):
        raise
    except Exception as exc:
        raise ConnectError(f"cannot connect to {safe_url(dialect.url)}: {exc}") from None
    finally:
        engine.dispose()
    runs = recent_runs(state_dir(plan, workdir))
    for run in runs:
        # a run without a report is either still going (it holds the database's lock) or dead
        if run["outcome"] == "interrupted" and held is not None and run["run_id"] in held:
            run["outcome"] = "running"
            run["message"] = held
            run["next"] = None
    return Status(database=safe_url(dialect.url), current=current, target=target, pending=pending, runs=runs)


def lock_holder(dialect: Dialect, engine: Any) -> str | None:
    """Who holds the database's run lock now (the LockError's message), or None when it is free."""
    try:
        with dialect.run_lock(engine, "status-probe", now_iso()):
            return None
    except LockError as exc:
        return exc.message


__all__ = ["CheckReport", "LintReport", "RestoreResult", "Status", "backup", "check", "lint_plan", "restore", "status"]


@dataclass
class LintReport:
    """Findings of the pending migration (or of SQL files) and the per-statement lock view."""

    source: str
    dialect: str
    findings: list[lint.Finding]
    statements: list[lint.StatementInfo]
    fail_on: str

    @property
    def blocking(self) -> list[lint.Finding]:
        return lint.blocking_findings(self.findings, self.fail_on)

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dialect": self.dialect,
            "fail_on": self.fail_on,
            "blocking": len(self.blocking),
            "findings": [f.to_dict() for f in self.findings],
            "statements": [s.to_dict() for s in self.statements],
        }

    def sarif(self) -> dict[str, Any]:
        return lint.to_sarif(self.findings, self.source)


def lint_plan(plan: Plan, files: list[Path] | None = None, dialect_name: str | None = None) -> LintReport:
    """Lint the plan's pending migration against the live table sizes, or SQL files as given."""
    settings = lint.LintSettings.from_section(plan.lint)
    if files:
        name = dialect_name or plan.database_url().get_backend_name()
        statements: list[str] = []
        for path in files:
            try:
                statements += lint.split_script(path.read_text(encoding="utf-8"), name)
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        sizes: dict[str, lint.TableSize] = {}
        source = ", ".join(str(p) for p in files)
    else:
        dialect = _open(plan)
        name = dialect.name
        migrator = get_migrator(plan)
        if not migrator.renders_sql:
            raise ConfigError(f"{plan.source.name}: migration.engine: {migrator.name} migrations are commands; there is no SQL to lint")
        engine = dialect.create_engine()
        try:
            with engine.connect() as conn:
                facts = dialect.server_facts(conn)
                current = migrator.current(conn)
        except SafeshiftError:
            raise
        except Exception as exc:
            raise ConnectError(f"cannot connect to {safe_url(dialect.url)}: {exc}") from None
        finally:
            engine.dispose()
        target = migrator.resolve_target(plan.migration.target)
        statements = migrator.render(current, target, name)
        sizes = lint.table_sizes_from_facts(facts)
        source = f"{migrator.name} {current or 'base'}→{target}"
    options: dict[str, Any] = {"destructive_ok": plan.backup.verifies, "settings": settings}
    infos = lint.annotate(statements, name, sizes, **options)
    findings = lint.lint_statements(statements, name, sizes, **options)
    return LintReport(source=source, dialect=name, findings=findings, statements=infos, fail_on=settings.fail_on)
