"""What a backfill asks of each database, in one small table keyed by dialect name.

Server load (replica lag, busy sessions) for the throttle, a cheap row estimate for
progress, which errors are worth retrying with a smaller batch, and the PostgreSQL plan
check. Kept here rather than on :class:`~safeshift.dialects.base.Dialect` so adding the
backfill changed no interface the runner relies on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.expression import ClauseElement

from safeshift.errors import causes


@dataclass(frozen=True)
class Load:
    """What the server reports about its load; None means it could not tell."""

    replica_lag_s: float | None = None
    running: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"replica_lag_s": self.replica_lag_s, "running": self.running}


# -- PostgreSQL ---------------------------------------------------------------------------
_PG_RETRY = {"55P03", "40P01", "40001"}  # lock_not_available, deadlock, serialization failure


def _pg_load(conn: Connection) -> Load:
    lag, running = conn.execute(
        sa.text(
            "SELECT (SELECT MAX(EXTRACT(EPOCH FROM replay_lag)) FROM pg_stat_replication),"
            " (SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active'"
            "  AND backend_type = 'client backend' AND pid <> pg_backend_pid())"
        )
    ).one()
    return Load(float(lag) if lag is not None else None, int(running))


def _pg_estimate(conn: Connection, table: str) -> int | None:
    value = conn.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return int(value) if value is not None and value > 0 else None


def _pg_retryable(exc: BaseException) -> bool:
    return any(str(getattr(e, "sqlstate", "") or "") in _PG_RETRY for e in causes(exc))


_SMALL_TABLE_BYTES = 64 * 1024


def _seq_scans(node: dict[str, Any], per_row: bool = False) -> Iterator[tuple[str, bool]]:
    """(relation, scanned once per row of the batch) for every Seq Scan in a plan tree."""
    per_row = per_row or node.get("Parent Relationship") == "SubPlan"
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name"):
        yield str(node["Relation Name"]), per_row
    for child in node.get("Plans", []) or []:
        yield from _seq_scans(child, per_row)


def _pg_explain(conn: Connection, statement: ClauseElement, params: dict[str, Any], table: str) -> list[str]:
    """Warn when a batch reads a whole other table: the backfill would cost batches × table size."""
    compiled = statement.compile(dialect=conn.dialect)
    bound = compiled.construct_params(params)  # the batch's values stay bound parameters
    raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, bound).scalar_one()
    plan = json.loads(raw) if isinstance(raw, str) else raw
    warnings: list[str] = []
    seen: set[tuple[str, bool]] = set()
    for relation, per_row in _seq_scans(plan[0]["Plan"]):
        if relation == table.split(".")[-1] or (relation, per_row) in seen:
            continue
        size = conn.execute(sa.text("SELECT pg_relation_size(to_regclass(:t))"), {"t": relation}).scalar()
        if size is not None and int(size) <= _SMALL_TABLE_BYTES:
            continue  # a few pages: scanning them is what the planner should do
        seen.add((relation, per_row))
        how = "for every row of each batch (correlated subquery)" if per_row else "in every batch"
        warnings.append(
            f"the first batch's plan reads table {relation} with a Seq Scan {how}: "
            f"the backfill will cost batches × size of {relation}; index the column it is looked up by"
        )
    return warnings


# -- MySQL / MariaDB ----------------------------------------------------------------------
_MYSQL_RETRY = {1205, 1213}  # lock wait timeout, deadlock


def _mysql_load(conn: Connection) -> Load:
    row = conn.execute(sa.text("SHOW GLOBAL STATUS LIKE 'Threads_running'")).first()
    running = max(0, int(row[1]) - 1) if row is not None else None  # minus this session
    lag: float | None = None
    for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
        try:
            status = conn.execute(sa.text(statement)).mappings().first()
        except SQLAlchemyError:  # older server or no REPLICATION CLIENT privilege
            continue
        if status is not None:
            value = status.get("Seconds_Behind_Master", status.get("Seconds_Behind_Source"))
            lag = float(value) if value is not None else None
        break
    return Load(lag, running)


def _mysql_estimate(conn: Connection, table: str) -> int | None:
    value = conn.execute(
        sa.text(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
        ),
        {"t": table.split(".")[-1]},
    ).scalar()
    return int(value) if value else None


def _mysql_retryable(exc: BaseException) -> bool:
    for e in causes(exc):
        args = getattr(e, "args", ())
        if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRY:
            return True
    return False


# -- SQLite -------------------------------------------------------------------------------
def _sqlite_load(conn: Connection) -> Load:
    return Load()  # one file, no replicas, no server threads to count


def _sqlite_estimate(conn: Connection, table: str) -> int | None:
    return None  # progress extrapolates from the key range walked instead


def _sqlite_retryable(exc: BaseException) -> bool:
    return any("database is locked" in str(e) or "database table is locked" in str(e) for e in causes(exc))


def _nothing_to_undo() -> None:
    pass


def _sqlite_walk(conn: Connection) -> Callable[[], None]:
    """Keep the rollback journal file between batches (``journal_mode = PERSIST``).

    In the default DELETE mode every commit deletes the journal and the next batch creates
    it again: a file created, synced and unlinked per batch, which made a batched backfill
    cost about 1.6x the single UPDATE. PERSIST only zeroes the journal's header at commit,
    with the same atomicity; the mode belongs to this connection (unlike WAL), and DELETE
    comes back (removing the file) when the walk ends.
    """
    raw: Any = conn.connection.driver_connection
    if raw is None or raw.in_transaction:
        return _nothing_to_undo
    mode = str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    if mode != "delete":  # WAL has no per-commit journal file; other modes are someone's choice
        return _nothing_to_undo
    raw.execute("PRAGMA journal_mode = PERSIST")

    def undo() -> None:
        if not raw.in_transaction:
            raw.execute("PRAGMA journal_mode = DELETE")

    return undo


def _no_walk_setup(conn: Connection) -> Callable[[], None]:
    return _nothing_to_undo


@dataclass(frozen=True)
class Ops:
    load: Callable[[Connection], Load]
    estimate_rows: Callable[[Connection, str], int | None]
    retryable: Callable[[BaseException], bool]
    explain: Callable[[Connection, ClauseElement, dict[str, Any], str], list[str]] | None = None
    batch_prelude: Callable[[Connection], tuple[str, ...]] = lambda conn: ()  # first in every batch
    walk_setup: Callable[[Connection], Callable[[], None]] = _no_walk_setup  # before the walk; returns its undo


# psycopg prepares a statement on its 5th execution and PostgreSQL may then plan it once for
# any range ("generic plan"), e.g. hashing a whole joined table per batch. Planning each batch
# for its own bounds costs about a millisecond and keeps the plan the EXPLAIN check saw.
def _pg_prelude(conn: Connection) -> tuple[str, ...]:
    if (conn.dialect.server_version_info or (0,)) < (12,):
        return ()
    return ("SET LOCAL plan_cache_mode = force_custom_plan",)


_OPS: dict[str, Ops] = {
    "postgresql": Ops(_pg_load, _pg_estimate, _pg_retryable, _pg_explain, _pg_prelude),
    "mysql": Ops(_mysql_load, _mysql_estimate, _mysql_retryable),
    "mariadb": Ops(_mysql_load, _mysql_estimate, _mysql_retryable),
    "sqlite": Ops(_sqlite_load, _sqlite_estimate, _sqlite_retryable, walk_setup=_sqlite_walk),
}
_UNKNOWN = Ops(_sqlite_load, _sqlite_estimate, lambda exc: False)


def ops_for(dialect_name: str) -> Ops:
    """The operations for a SQLAlchemy dialect name; an unknown database gets no throttle probe."""
    return _OPS.get(dialect_name, _UNKNOWN)


def server_load(conn: Connection) -> Load:
    """The current load as the throttle sees it (public for the CLI and benchmarks)."""
    return ops_for(conn.dialect.name).load(conn)
