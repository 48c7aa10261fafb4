"""Prove: is the database back where it started? Revision, schema, row counts, row hashes, pre-checks.

Unknown (unreachable, a hash that cannot be computed) counts as not equal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from safeshift.background import Background
from safeshift.checks import Check, CheckResult, capture_baseline
from safeshift.dialects.base import SchemaShape
from safeshift.run.context import RunContext, error_text
from safeshift.run.outcome import PhaseResult, Proof
from safeshift.run.phases.snapshot import PROOF_PREFIX, table_hash_checks


def prove(ctx: RunContext, *, quick: bool = False) -> Proof:
    """``quick``: stop at the first structural difference (revision, schema, row counts)
    without hashing rows: enough to know a restore is needed."""
    try:
        return _prove(ctx, quick)
    except Exception as exc:
        return Proof(equal=False, differences=[f"cannot prove: {error_text(exc)}"])


@dataclass
class _Seen:
    """What the proof learnt before counting rows: revision, schema, the tables to compare."""

    revision: Any
    schema: SchemaShape
    comparable: list[Check[Any]]  # tables whose columns are back as they were
    missing: list[Check[Any]]  # of those, the ones without row hashes from before
    differences: list[str]
    changed: dict[str, str]  # table -> how its rows differ (counts or hashes): maybe writes


def _prove(ctx: RunContext, quick: bool = False) -> Proof:
    result = ctx.result
    with ctx.phase("prove") as ph, ctx.connect() as conn:
        differences: list[str] = []
        changed: dict[str, str] = {}  # table -> how its rows differ (counts or hashes): maybe writes
        revision = ctx.migrator.current(conn)
        if revision != result.start_revision:
            differences.append(f"revision is {revision}, expected {result.start_revision}")
        schema = ctx.dialect.schema_shape(conn)
        for name in [t for t in schema if t not in ctx.schema and t in ctx.migrator.version_tables]:
            if not ctx.dialect.row_counts(conn, [name]).get(name):  # left empty by a downgrade to base
                del schema[name]
        for name in sorted(set(schema) | set(ctx.schema)):
            if name not in schema:
                differences.append(f"table {name} is missing")
            elif name not in ctx.schema:
                differences.append(f"table {name} should not exist")
            elif schema[name] != ctx.schema[name]:
                differences.append(_shape_difference(name, ctx.schema[name], schema[name]))
        comparable = _comparable(ctx, schema, revision)
        missing = [c for c in comparable if c.name not in ctx.baseline]
        by_backup = bool(missing) and ctx.plan.rollback.prove_contents == "backup" and result.backup is not None
        # not quick: the rows are compared with the backup (dump tools, files) while the server counts and checks
        job = Background(lambda: _compared_with_backup(ctx, missing, ph.detail), "safeshift-proof-rows") if by_backup and not quick else None
        seen = _Seen(revision, schema, comparable, missing, differences, changed)
        try:
            return _rows_and_verdict(ctx, conn, ph, seen, quick, job)
        finally:
            if job is not None:
                job.wait()


def _rows_and_verdict(
    ctx: RunContext, conn: Connection, ph: PhaseResult, seen: _Seen, quick: bool, job: Background[list[CheckResult]] | None
) -> Proof:
    """Row counts, pre-checks and row comparisons, then the verdict."""
    result = ctx.result
    before = result.snapshot
    revision, schema, missing = seen.revision, seen.schema, seen.missing
    differences, changed = seen.differences, seen.changed
    counts = ctx.dialect.row_counts(conn, [t for t in before if t in schema])
    for name, want in before.items():
        got = counts.get(name)
        if got is not None and got != want and name not in ctx.migrator.version_tables:
            changed[name] = f"table {name} has {got} rows, expected {want}"
    conn.rollback()
    if quick and (differences or changed):
        proof = Proof(equal=False, differences=differences + list(changed.values()), revision=revision,
                      tables_compared=len(before), row_counts=counts, changed_tables=sorted(changed))
        ph.detail.update(equal=False, differences=proof.differences, quick=True)
        ph.status = "failed"
        return proof
    checks = ctx.run_checks(conn, ctx.pre_checks, before)
    direct: list[CheckResult] = []
    if missing and ctx.plan.rollback.prove_contents == "backup":
        if result.backup is not None:
            direct = job.result() if job is not None else _compared_with_backup(ctx, missing, ph.detail)
            for r in direct:
                r.details["rows"] = counts.get(r.name[len(PROOF_PREFIX):])
            proven = {r.name for r in direct}
            rest = [c for c in missing if c.name not in proven]
            if rest:
                ctx.baseline.update(_baseline_from_backup(ctx, rest))
            ph.detail["row_hashes_from"] = "backup"
        else:  # the run stopped before its backup, so before anything was applied
            ph.detail["row_hashes_from"] = "none: no backup was taken, nothing was applied"
    hashed = [c for c in seen.comparable if c.name in ctx.baseline]
    checks += ctx.run_checks(conn, hashed, before)
    ctx.result.checks.extend(direct)
    checks += direct
    for check_result in checks:
        check_result.phase = "proof"
    for failed in (r for r in checks if not r.passed):
        if failed.name.startswith(PROOF_PREFIX):
            table = failed.name[len(PROOF_PREFIX):]
            if failed.error:  # unknown is not equal, but it is not "changed rows" either
                differences.append(f"table {table}: its rows could not be compared: {failed.message}")
                continue
            keys = ", ".join(map(str, failed.samples)) or failed.message
            if table in ctx.migrator.version_tables:  # the migrator's bookkeeping, never the application's
                differences.append(f"table {table} holds other revisions (first: {keys})")
                continue
            changed.setdefault(table, f"table {table} has changed rows (first keys: {keys})")
        else:
            differences.append(f"pre-check {failed.name!r} fails: {failed.value} {failed.expected or ''}".strip())
    proof = Proof(
        equal=not differences and not changed,
        differences=differences + list(changed.values()),
        changed_tables=sorted(changed),
        revision=revision,
        tables_compared=len(before),
        tables_hashed=len(hashed) + len(direct),
        row_counts=counts,
    )
    ph.detail.update(equal=proof.equal, differences=proof.differences)
    if not proof.equal:
        ph.status = "failed"
    return proof


def _shape_difference(table: str, before: list[str], now: list[str]) -> str:
    """The lines of a table's shape that changed: what is there now, what was there before."""
    gone = [line for line in before if line not in now]
    new = [line for line in now if line not in before]
    if not gone and not new:
        return f"table {table} has its columns in another order: {now}, expected {before}"
    parts = [f"now {'; '.join(new[:3])}" if new else "", f"before {'; '.join(gone[:3])}" if gone else ""]
    return f"table {table} differs: " + ", ".join(p for p in parts if p)


def _comparable(ctx: RunContext, schema: SchemaShape, revision: Any) -> list[Check[Any]]:
    """Content hashes for tables whose columns are back as they were (others already differ).
    At another revision the version table's rows are that revision, already a difference:
    hashing them would only restore the whole backup into a copy to say it again."""
    if not ctx.proof_checks and ctx.schema and ctx.result.snapshot:
        with ctx.connect() as conn:
            ctx.proof_checks = table_hash_checks(ctx, conn)
    skip = set(ctx.migrator.version_tables) if revision != ctx.result.start_revision else set()
    return [
        c for c in ctx.proof_checks
        if (table := c.name[len(PROOF_PREFIX):]) in schema and schema[table] == ctx.schema.get(table)
        and table not in skip
    ]


def _compared_with_backup(ctx: RunContext, checks: list[Check[Any]], detail: dict[str, Any]) -> list[CheckResult]:
    """Passing results for the tables whose every row is shown equal to the backup's without
    loading it (run/phases/backup_rows.py); the others, and all of them if that comparison
    cannot run, go through :func:`_baseline_from_backup` and their hashes."""
    from safeshift.run.phases.backup_rows import same_as_backup

    started = time.perf_counter()
    tables = {c.name[len(PROOF_PREFIX):]: c for c in checks}
    try:
        same = same_as_backup(ctx, list(tables))
    except Exception as exc:  # unknown is not equal: the slow path decides
        detail["compared_with_backup"] = f"could not compare directly: {error_text(exc)}"
        return []
    seconds = time.perf_counter() - started
    detail["compared_with_backup"] = {"same_rows": sorted(same), "seconds": round(seconds, 3)}
    return [
        tables[t].result(
            True, value=0, expected="== 0 differing rows", seconds=seconds / max(len(same), 1),
            message="every row equal to the backup's (compared directly)",
            details={"compared": "directly with the backup"},
        )
        for t in sorted(same)
    ]


def _baseline_from_backup(ctx: RunContext, checks: list[Check[Any]]) -> dict[str, Any]:
    """Row hashes of the state before, read from the run's verified backup in a scratch copy.

    The backup was taken right after the snapshot and verified against its counts, so it
    is the "before" the proof needs; hashing it only when a rollback must be proven keeps
    that cost off every run that succeeds. Failing here makes the proof fail (exit 4).
    """
    with ctx.before_copy() as engine, engine.connect() as conn:
        return capture_baseline(checks, ctx.check_context(conn, None), ctx.steps(checks, "hashing the backup's tables"))



