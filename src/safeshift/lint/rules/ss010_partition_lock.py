"""SS010: attaching or detaching a PostgreSQL partition under a lock that stops the parent."""

from __future__ import annotations

import re
from collections.abc import Iterable

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement
from safeshift.lint.version import pg_attach_without_access_exclusive, pg_detach_concurrently

_DETACH = re.compile(r"\bDETACH\s+PARTITION\s+([^\s;]+)", re.IGNORECASE)
_ATTACH = re.compile(r"\bATTACH\s+PARTITION\s+([^\s;]+)", re.IGNORECASE)


@register
class PartitionLock(Rule):
    """``ALTER TABLE ... DETACH PARTITION`` (or ATTACH before PostgreSQL 12) locking the whole parent.

    *Anti-pattern*: DETACH PARTITION without ``CONCURRENTLY`` takes ACCESS EXCLUSIVE on the
    partitioned table: it waits for every running query on any partition, and every query
    queued behind it waits too. Before PostgreSQL 12, ATTACH PARTITION did the same. And
    ``DETACH ... CONCURRENTLY`` does not exist before PostgreSQL 14: the server refuses it.

    *Best practice*: PostgreSQL 14+: ``ALTER TABLE parent DETACH PARTITION child CONCURRENTLY``
    outside a transaction block. Older: keep the detach in its own short transaction with a
    short lock_timeout (safeshift's apply retries), in a quiet window.
    """

    code = "SS010"
    name = "partition-lock"
    dialects = frozenset({"postgresql"})
    squawk_rules = frozenset({"require-concurrent-partition-detach"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table, version = stmt.table, ctx.version
        if stmt.kind != "ALTER TABLE" or ctx.is_fresh(table):
            return
        detach = _DETACH.search(stmt.masked)
        if detach is not None:
            child = stmt.sql[detach.start(1) : detach.end(1)]
            concurrent = stmt.has(r"\bDETACH\s+PARTITION\s+\S+\s+CONCURRENTLY\b")
            if concurrent and not pg_detach_concurrently(version):
                yield Hit(
                    f"{version.label} has no DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14 added it): "
                    "the server refuses it and the migration fails",
                    table,
                    severity="error",
                    suggestion=_short_lock(table, child),
                )
            elif not concurrent:
                advice = (
                    f"ALTER TABLE {table} DETACH PARTITION {child} CONCURRENTLY; outside a transaction block "
                    "(Alembic: with op.get_context().autocommit_block():)"
                    if pg_detach_concurrently(version)
                    else f"{version.label} has no DETACH ... CONCURRENTLY (14+): {_short_lock(table, child)}"
                )
                yield Hit(
                    f"DETACH PARTITION {child} takes ACCESS EXCLUSIVE on {table}: every query on the parent waits for it",
                    table,
                    suggestion=advice,
                )
            return
        attach = _ATTACH.search(stmt.masked)
        if attach is not None and not pg_attach_without_access_exclusive(version):
            child = stmt.sql[attach.start(1) : attach.end(1)]
            yield Hit(
                f"ATTACH PARTITION {child} takes ACCESS EXCLUSIVE on {table} on {version.label} (SHARE UPDATE "
                "EXCLUSIVE since PostgreSQL 12), and scans the partition to check its bound",
                table,
                suggestion=f"first ALTER TABLE {child} ADD CONSTRAINT {child}_bound CHECK (<the partition bound>) NOT VALID; "
                f"ALTER TABLE {child} VALIDATE CONSTRAINT {child}_bound; so the attach skips the scan; "
                f"then {_short_lock(table, child, 'ATTACH')}",
            )


def _short_lock(table: str | None, child: str, verb: str = "DETACH") -> str:
    return (
        f"run ALTER TABLE {table} {verb} PARTITION {child} ...; alone in its own transaction with a short lock_timeout "
        "(safeshift's [apply] lock_timeout and retries), in a quiet window"
    )
