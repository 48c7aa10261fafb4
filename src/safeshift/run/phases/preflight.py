"""Preflight: server facts, revisions, backfill steps, lint, disk, activity and pre-checks.

Everything here only reads; any finding that would make the change unsafe stops the run
before a backup is taken.
"""

from __future__ import annotations

import shutil

from sqlalchemy.engine import Connection

from safeshift import lint
from safeshift.app.probes import unreachable_hosts
from safeshift.app.sections import check_app_environment
from safeshift.checks import CheckResult
from safeshift.checks.references import missing_references
from safeshift.errors import ConfigError, ExitCode, PlanProblems
from safeshift.run.context import RunContext, failure_message
from safeshift.run.outcome import PhaseResult, Stop
from safeshift.run.phases.approve import plan_digest
from safeshift.run.state import Revisions

NO_CHECKS = (
    "the plan has no checks: nothing proves the data before or after the migration "
    "(add [[checks.pre]] and [[checks.post]]; `safeshift checks` lists the kinds)"
)


def preflight(ctx: RunContext, conn: Connection) -> None:
    plan, migrator, result = ctx.plan, ctx.migrator, ctx.result
    if not ctx.pre_checks and not ctx.post_checks and NO_CHECKS not in result.warnings:
        result.warnings.append(NO_CHECKS)
    with ctx.phase("preflight") as ph:
        facts = ctx.dialect.server_facts(conn)
        conn.rollback()
        result.facts = facts
        start = migrator.current(conn)
        target = migrator.resolve_target(plan.migration.target)
        pending = migrator.pending(conn, plan.migration.target)
        result.start_revision = start
        result.target_revision = target
        result.digest = plan_digest(plan, migrator, target)
        result.pending = [r.to_dict() for r in pending]
        ctx.write_state(Revisions(start, target, result.digest))
        ph.detail.update(
            version=facts.version,
            database_bytes=facts.database_bytes,
            current=start,
            target=target,
            pending=[r.id for r in pending],
            digest=result.digest,
        )
        ctx.backfill_upto = check_backfills(ctx, conn, start, target, [r.id for r in pending])
        if ctx.backfill_upto:
            ph.detail["backfill_steps"] = [
                {"name": step.label, "after": step.after or target, "upgrade_first_to": upto}
                for step, upto in zip(plan.migration.backfill, ctx.backfill_upto, strict=True)
            ]
        if not pending:
            raise Stop("noop", f"nothing to do: database is at {start or 'base'}", ExitCode.OK, phase_status="skipped")
        # tables the first revision would create, and no revision recorded: `safeshift baseline`
        ctx.migrator.check_untracked(conn, start, pending, ctx.dialect.name)
        ctx.dialect.check_tools()
        _check_scratch(ctx)
        ctx.migrator.check_target(conn)  # the migration must reach this database, no other
        # every file that would run (and undo it) is read and split now: a broken one stops here
        ctx.migrator.check_files(start, target, ctx.dialect.name, downgrade="downgrade" in plan.rollback.strategy)
        check_app_environment(plan)  # a missing probe secret must stop us now, not after apply
        if plan.preflight.probe_hosts and plan.smoke:  # the application is up before we take it down
            unanswered = unreachable_hosts(plan.smoke)
            if unanswered:
                hint = "; the application must be up before the run takes it down ([preflight] probe_hosts = false skips this)"
                raise PlanProblems(plan.source.name, [p + hint for p in unanswered])
        _lint(ctx, ph)
        _check_disk(ctx, ph)
        _check_activity(ctx, conn, ph)
        # a table or column a pre-check names and the database lacks is the plan's mistake (exit 2)
        missing = missing_references(ctx.pre_checks, conn)
        if missing:
            raise PlanProblems(plan.source.name, [str(m) for m in missing])
        failed = [r for r in ctx.run_checks(conn, ctx.pre_checks, None) if not r.passed]
        if failed:
            raise Stop("blocked", failure_message("pre-check", failed), ExitCode.CHECKS_FAILED)


def check_backfills(
    ctx: RunContext, conn: Connection, start: str | None, target: str, pending: list[str]
) -> list[str | None]:
    """Each step's ``after`` is a revision on the way to the target, none before the one above it.

    Checked before anything changes, against the database's pending revisions: a typo'd
    or out-of-order ``after`` would otherwise fail halfway through the migration. Returns,
    per step, the revision to upgrade to before it (None: nothing to apply first).
    """
    name = ctx.plan.source.name
    steps = ctx.plan.migration.backfill
    upto: list[str | None] = []
    reached = 0  # how many pending revisions are applied once the previous step runs
    for index, step in enumerate(steps):
        where = f"{name}: migration.backfill[{index}].after"
        position = len(pending)
        if step.after is not None:
            try:
                resolved = ctx.migrator.resolve_target(step.after)
            except ConfigError as exc:
                prefix = f"{name}: migration.target: "
                raise ConfigError(f"{where}: {exc.message.removeprefix(prefix)}") from None
            if resolved in pending:
                position = pending.index(resolved) + 1
            elif resolved != target:
                if not _applied(ctx, conn, resolved):
                    raise ConfigError(
                        f"{where}: revision {step.after!r} is not on the way from {start or 'base'} to the "
                        f"target {target} (pending: {', '.join(pending) or 'none'})"
                    )
                position = 0
        if position < reached:
            before = steps[index - 1].after or "the target"
            raise ConfigError(
                f"{where}: {step.after!r} comes before {before!r} of backfill[{index - 1}]; steps run in "
                "plan order, so each after must be the one above it or a later revision"
            )
        upto.append(pending[position - 1] if position > reached else None)
        reached = max(reached, position)
    return upto


def _applied(ctx: RunContext, conn: Connection, revision: str) -> bool:
    """Whether ``revision`` is already applied: nothing is pending up to it.

    Alembic refuses to walk up to an ancestor of the current revision; that too means it
    is behind the database, not ahead of it.
    """
    try:
        return not ctx.migrator.pending(conn, revision)
    except Exception:
        return True
    finally:
        if conn.in_transaction():
            conn.rollback()


def _check_disk(ctx: RunContext, ph: PhaseResult) -> None:
    facts = ctx.result.facts
    size = facts.database_bytes if facts else None
    folder = ctx.backup_dir
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    ph.detail["backup_free_bytes"] = free
    ratio = ctx.plan.backup.min_free_ratio
    need = int((size or 0) * ratio)
    if free < need:
        raise Stop(
            "blocked",
            f"not enough free disk for the backup at {folder}: {free} bytes free, "
            f"{need} needed ({ratio:g} × database size)",
        )


def _check_scratch(ctx: RunContext) -> None:
    """What will need a scratch copy of the database must be able to make one."""
    plan = ctx.plan
    needs = [
        what for what, on in (
            ('the rollback proof (prove_contents = "backup")', plan.rollback.prove_contents == "backup"),
            ('backup verification (verify = "restore")', plan.backup.verify == "restore"),
            ("the rehearsal", ctx.options.rehearse),
        ) if on
    ]
    if needs:
        ctx.dialect.check_scratch(ctx.run_id, " and ".join(needs))


def rendered(ctx: RunContext) -> list[str]:
    """The pending migration as SQL (Alembic offline mode, the SQL files); [] for commands."""
    result = ctx.result
    return ctx.migrator.render(result.start_revision, result.target_revision or "head", ctx.dialect.name)


def _lint(ctx: RunContext, ph: PhaseResult) -> None:
    """Lock hazards of the pending SQL, sized by the live tables; above the plan's threshold: blocked."""
    if not ctx.migrator.renders_sql or ctx.result.facts is None:
        return
    settings = lint.LintSettings.from_section(ctx.plan.lint)
    result = ctx.result
    facts = ctx.result.facts
    version = lint.resolve_version(ctx.dialect.name, live=facts.version, setting=settings.server_version)
    pieces = ctx.migrator.render_each(result.start_revision, result.target_revision or "head", ctx.dialect.name)
    ctx.rendered = pieces  # the observation on a copy carries their suppressions over to what ran
    statements = [sql for piece in pieces if piece.error is None for sql in piece.statements]
    unrendered = [f for piece in pieces if piece.error is not None for f in lint.not_rendered(piece.revision, piece.error, settings)]
    findings = unrendered + lint.lint_statements(
        statements,
        ctx.dialect.name,
        lint.table_sizes_from_facts(facts),
        destructive_ok=ctx.plan.backup.verifies,
        settings=settings,
        server_version=version,
    )
    ctx.result.lint = [f.to_dict() for f in findings]
    blocking = lint.blocking_findings(findings, settings.fail_on)
    ph.detail["lint"] = {"findings": len(findings), "blocking": len(blocking), "server_version": version.describe()}
    not_linted = lint.unlintable(findings)
    if not_linted:  # named with its reason, whether it blocks ([lint] unlintable) or not
        ph.detail["lint"]["not_linted"] = [f.message for f in not_linted]
    if blocking:
        first = blocking[0]
        more = f" and {len(blocking) - 1} more" if len(blocking) > 1 else ""
        where = "the migration" if first.statement is None else first.table or f"statement {first.statement}"
        if first.statement is None or first.not_linted:  # the finding says what to do
            hint = first.suggestion
        else:
            hint = "see `safeshift lint`; suppress with -- safeshift: allow CODE because REASON"
        raise Stop(
            "blocked", f"lint: {first.code} {first.severity} on {where}: {first.message}{more} ({hint})", ExitCode.CHECKS_FAILED
        )


def _check_activity(ctx: RunContext, conn: Connection, ph: PhaseResult) -> None:
    """Long open transactions and blockers make an ALTER queue up every writer behind it."""
    limits = ctx.plan.preflight
    sessions = ctx.dialect.activity(conn, limits.long_transaction_seconds)
    if conn.in_transaction():
        conn.rollback()
    ph.detail["activity"] = [s.to_dict() for s in sessions]
    passed = len(sessions) <= limits.max_long_transactions
    result = CheckResult(
        name=f"at most {limits.max_long_transactions} transactions open > {limits.long_transaction_seconds:g}s or blocking",
        kind="activity",
        phase="pre",
        passed=passed,
        value=len(sessions),
        expected=f"<= {limits.max_long_transactions}",
        samples=[
            f"{s.id} {s.user or ''} {s.state or ''} {s.seconds or 0:.0f}s{' blocking' if s.blocking else ''}".strip()
            for s in sessions[:10]
        ],
    )
    ctx.result.checks.append(result)
    if not passed:
        raise Stop("blocked", failure_message("preflight", [result]), ExitCode.CHECKS_FAILED)
