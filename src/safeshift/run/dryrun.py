"""The dry run's plan: every statement and command a real run would issue, in phase order.

The pending migration's SQL is linted and sized by the live tables; the plan's backfills
appear in their place as the batch UPDATE they would repeat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Dialect as SqlDialect

from safeshift import lint
from safeshift.backfill.step import batch_sql
from safeshift.config.models import BackfillStep
from safeshift.run.context import RunContext, error_text
from safeshift.run.outcome import PlannedStatement
from safeshift.run.phases.preflight import rendered
from safeshift.run.phases.validate import skipped_because

Segments = list[tuple[list[str], BackfillStep | None]]


def plan_statements(ctx: RunContext) -> list[PlannedStatement]:
    assert ctx.engine is not None
    sql_dialect = ctx.engine.dialect
    plan: list[PlannedStatement] = []
    for check in ctx.pre_checks:
        plan.extend(PlannedStatement("preflight", check.name, s) for s in check.statements(sql_dialect))
    plan.append(PlannedStatement("validate", _validation(ctx)))
    plan.append(PlannedStatement("snapshot", "row count of every table"))
    dest = ctx.backup_dir / f"<run-id>{ctx.dialect.backup_suffix}"
    plan.append(PlannedStatement("backup", f"{ctx.dialect.name} backup to {dest}"))
    try:
        segments = _segments(ctx)
    except Exception as exc:  # the dry run must still show everything else, revision by revision
        plan.extend(_each_revision(ctx, sql_dialect, exc))
    else:
        plan.extend(_apply_statements(ctx, segments, sql_dialect))
    for check in ctx.post_checks:
        plan.extend(PlannedStatement("verify", check.name, s) for s in check.statements(sql_dialect))
    start = ctx.result.start_revision or "base"
    plan.append(PlannedStatement("rollback", f"on failure: {ctx.plan.rollback.strategy} to {start}"))
    return plan


def _each_revision(ctx: RunContext, sql_dialect: SqlDialect, whole: Exception) -> list[PlannedStatement]:
    """The span could not be rendered at once: each revision's statements, and a line naming
    every revision that cannot be rendered offline (it still runs; its SQL is not shown)."""
    what = ctx.migrator.name
    try:
        pieces = ctx.migrator.render_each(ctx.result.start_revision, ctx.result.target_revision or "head", ctx.dialect.name)
    except Exception:  # not even one by one
        return [PlannedStatement("apply", f"{what} (SQL not renderable offline: {error_text(whole)})")]
    out: list[PlannedStatement] = []
    for piece in pieces:
        if piece.error is not None:
            name = f"revision {piece.revision}" if piece.revision else "the migration"
            out.append(PlannedStatement("apply", f"{what} {name} (SQL not renderable offline: {piece.error})"))
        else:
            out.extend(_apply_statements(ctx, [(piece.statements, None)], sql_dialect))
    return out


def _validation(ctx: RunContext) -> str:
    """What the validate step did (it runs in a dry run too), or why it did not; and whether the
    migration's locks were observed there."""
    observed = ctx.result.observed
    seen = ""
    if observed is not None:
        seen = f"; locks not observed: {observed.skipped}" if observed.skipped else (
            f"; the locks of the {len(observed.statements)} statements that ran observed there (see observed)"
        )
    skipped = skipped_because(ctx)
    if skipped is not None:
        return f"post-checks on a schema-only copy: skipped ({skipped}){seen}"
    target = ctx.result.target_revision or ctx.plan.migration.target
    count = len(ctx.post_checks)
    return (
        f"schema-only copy (no rows) migrated to {target}: every post-check ran there without an error "
        f"({count} check{'s' if count != 1 else ''}){seen}"
    )


def _segments(ctx: RunContext) -> Segments:
    """The pending migration's SQL cut where the plan's backfills run: (SQL before, step).

    The last pair holds what follows the last backfill (step None).
    """
    steps = ctx.plan.migration.backfill
    if not steps:
        return [(rendered(ctx), None)]
    target = ctx.result.target_revision or "head"
    position = ctx.result.start_revision
    segments: Segments = []
    for step, upto in zip(steps, ctx.backfill_upto, strict=True):
        sql: list[str] = []
        if upto is not None:
            sql = ctx.migrator.render(position, upto, ctx.dialect.name)
            position = upto
        segments.append((sql, step))
    if position != target:
        segments.append((ctx.migrator.render(position, target, ctx.dialect.name), None))
    return segments


def _apply_statements(ctx: RunContext, segments: Segments, sql_dialect: SqlDialect) -> list[PlannedStatement]:
    """Apply's entries: the revisions' statements (linted) with each backfill's batch UPDATE in its place."""
    texts = [sql for part, _ in segments for sql in part]
    at: list[tuple[int, BackfillStep]] = []  # (how many statements come before it, step)
    count = 0
    for part, step in segments:
        count += len(part)
        if step is not None:
            at.append((count, step))
    what = ctx.migrator.name
    entries: list[tuple[int, PlannedStatement]]
    sizes = lint.table_sizes_from_facts(ctx.result.facts) if ctx.result.facts is not None else None
    if ctx.migrator.renders_sql and sizes is not None and ctx.result.facts is not None:
        settings = lint.LintSettings.from_section(ctx.plan.lint)
        infos = lint.annotate(
            texts,
            ctx.dialect.name,
            sizes,
            destructive_ok=ctx.plan.backup.verifies,
            settings=settings,
            server_version=lint.resolve_version(ctx.dialect.name, live=ctx.result.facts.version, setting=settings.server_version),
        )
        entries = []
        for info in infos:
            data = info.to_dict()
            entries.append((info.index, PlannedStatement(
                "apply", what, info.sql,
                lock=data.get("lock"), table=data.get("table"), table_size=data.get("table_size"),
                findings=data.get("findings", []),
            )))
    else:
        entries = [(i, PlannedStatement("apply", what, sql)) for i, sql in enumerate(texts)]
    out: list[PlannedStatement] = []
    for index, entry in entries:
        while at and at[0][0] <= index:
            out.append(_backfill_entry(at.pop(0)[1], sql_dialect, sizes))
        out.append(entry)
    out.extend(_backfill_entry(step, sql_dialect, sizes) for _, step in at)
    return out


def _backfill_entry(step: BackfillStep, sql_dialect: SqlDialect, sizes: dict[str, lint.TableSize] | None) -> PlannedStatement:
    size = (sizes or {}).get(step.table.lower())
    return PlannedStatement(
        "apply",
        f"backfill {step.label} after {step.after or 'the target'}: this UPDATE per {step.key} range "
        f"(from {step.batch_size} keys, sized to ~{step.target_batch_seconds:g}s), each batch committed",
        batch_sql(step, _named(sql_dialect)),
        lock="row locks of one batch",
        table=step.table,
        table_size=size.to_dict() if size is not None else None,
        findings=[],
    )


def _named(dialect: SqlDialect) -> SqlDialect:
    """The same dialect with ``:name`` parameters, so a dry run shows ``:ss_lo`` rather than ``?``/``%s``."""
    cls: Any = type(dialect)  # every SQLAlchemy dialect takes paramstyle; the base type does not say so
    try:
        named: SqlDialect = cls(paramstyle="named")
    except Exception:  # a dialect that will not be built bare: its own placeholders then
        return dialect
    return named
