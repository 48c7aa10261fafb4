"""The backfill walker: one committed transaction per primary-key range, sized by time.

A single ``UPDATE users SET ...`` over a big table holds its row locks until it commits
and makes a replica replay it in one piece; writers stall for the whole statement. Here
the same update runs as ``... WHERE id > :lo AND id <= :hi`` batches, each committed on its
own, so no lock is held longer than one batch (about ``target_batch_seconds``). The batch
size follows the measured time (multiplicatively, bounded), the throttle pauses while the
server is loaded, and a checkpoint after every batch lets a crashed run continue at the
next batch instead of starting over.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from safeshift import faults
from safeshift.backfill.checkpoints import (
    CallbackCheckpoints,
    Checkpoint,
    CheckpointStore,
    Key,
    stamp,
)
from safeshift.backfill.ops import Load, Ops, ops_for
from safeshift.errors import SafeshiftError

BatchFn = Callable[[Connection, Any, Any], int]
"""Custom batch work: ``(conn, lo, hi) -> rows``; the range is ``lo < key <= hi`` (``lo`` None: from the start)."""


class BackfillError(SafeshiftError):
    """A backfill cannot start or had to stop (its checkpoint still says how far it got)."""


@dataclass
class BackfillProgress:
    """What a progress bar needs after each batch."""

    name: str
    rows_done: int
    rows_total: int | None  # an estimate until the walk ends
    rows_per_s: float
    eta_s: float | None
    batches: int
    batch_size: int
    last_key: Any
    fraction: float | None
    throttled_s: float = 0.0
    paused: str | None = None  # why the throttle is pausing right now, if it is

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressFn = Callable[[BackfillProgress], None]


@dataclass
class Throttle:
    """Pause between batches while the server is loaded (like pt-online-schema-change's --max-load).

    ``max_running`` counts other sessions running a statement (PostgreSQL active backends,
    MySQL ``Threads_running``); with ``auto_raise`` it is raised to 120 % of what the server
    showed when the backfill started, so a busy server is not mistaken for an overloaded one.
    """

    max_replica_lag_s: float | None = 10.0
    max_running: int | None = 25
    auto_raise: bool = True
    check_every_s: float = 1.0
    pause_s: float = 0.5
    max_wait_s: float = 600.0
    probe: Callable[[Connection], Load] | None = None  # default: the database's own numbers

    def over(self, load: Load, max_running: int | None) -> str | None:
        """Why the load is too high, or None."""
        lag, limit = load.replica_lag_s, self.max_replica_lag_s
        if lag is not None and limit is not None and lag > limit:
            return f"replica lag {lag:.1f}s > {limit:g}s"
        if load.running is not None and max_running is not None and load.running > max_running:
            return f"{load.running} running sessions > {max_running}"
        return None


@dataclass
class BackfillResult:
    name: str
    table: str
    rows: int = 0
    batches: int = 0
    seconds: float = 0.0
    rows_per_s: float = 0.0
    max_batch_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    resumed_from: Any = None  # the checkpoint's last key when the walk continued an earlier one
    last_key: Any = None
    batch_size_min: int = 0
    batch_size_max: int = 0
    batch_size_final: int = 0
    throttled_seconds: float = 0.0
    throttle_pauses: int = 0
    retries: int = 0
    sql: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("seconds", "rows_per_s", "max_batch_seconds", "throttled_seconds"):
            data[name] = round(data[name], 4)
        return data


@dataclass
class BackfillContext:
    """Defaults a caller (the runner, a demo) sets for every backfill run inside it.

    A revision only says *what* to backfill; where its checkpoints go, who draws its
    progress and who collects its result is decided by whoever runs the migration.
    """

    checkpoints: CheckpointStore | None = None
    progress: ProgressFn | None = None
    throttle: Throttle | None = None
    results: list[BackfillResult] = field(default_factory=list)
    parent: BackfillContext | None = None
    isolated: bool = False  # results stay here (a scratch copy's backfills are not the target's)

    def collect(self, result: BackfillResult) -> None:
        """Keep a result here and in every enclosing context (a demo around the runner sees it too)."""
        ctx: BackfillContext | None = self
        while ctx is not None:
            ctx.results.append(result)
            ctx = None if ctx.isolated else ctx.parent


_CONTEXT: ContextVar[BackfillContext | None] = ContextVar("safeshift_backfill_context", default=None)


@contextlib.contextmanager
def backfill_context(
    *,
    checkpoints: CheckpointStore | None = None,
    progress: ProgressFn | None = None,
    throttle: Throttle | None = None,
    isolated: bool = False,
) -> Iterator[BackfillContext]:
    """Set checkpoint store, progress callback and throttle for backfills run inside the block.

    Contexts nest: what the inner one leaves unset comes from the outer one, and results are
    collected by both, unless ``isolated`` (backfills on a scratch copy: their results are
    the copy's alone).
    """
    parent = _CONTEXT.get()
    ctx = BackfillContext(
        checkpoints=checkpoints or (parent.checkpoints if parent else None),
        progress=progress or (parent.progress if parent else None),
        throttle=throttle or (parent.throttle if parent else None),
        parent=parent,
        isolated=isolated,
    )
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


def current_context() -> BackfillContext | None:
    return _CONTEXT.get()


# -- transactions ---------------------------------------------------------------------------
class _Session:
    """Runs each batch in its own committed transaction on the caller's connection.

    Two cases work: a connection outside any transaction (each batch is ``conn.begin()``)
    and a connection in AUTOCOMMIT isolation, as inside Alembic's ``autocommit_block()``,
    where each batch is an explicit ``BEGIN`` … ``COMMIT``. A connection inside someone
    else's transaction is refused: committing per batch would commit their work too, and
    not committing would hold every row lock to the end, the very thing a backfill avoids.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.raw = _autocommit(conn)
        self._outer: sa.engine.Transaction | None = None
        if self.raw:
            if not conn.in_transaction():
                self._outer = conn.begin()  # SQLAlchemy's view only; real transactions are ours
            self._end_sqlite_transaction()
        elif conn.in_transaction():
            raise BackfillError(
                "backfill commits every batch, but the connection is inside a transaction: commit it first, "
                "or in an Alembic revision call backfill inside `with op.get_context().autocommit_block():`"
            )

    def _end_sqlite_transaction(self) -> None:
        # safeshift's SQLite engine sends BEGIN whenever SQLAlchemy begins, even in AUTOCOMMIT
        if self.sqlite and getattr(self.conn.connection.dbapi_connection, "in_transaction", False):
            self.conn.exec_driver_sql("COMMIT")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        if not self.raw:
            with self.conn.begin():
                yield
            return
        self._end_sqlite_transaction()
        # SQLite: take the write lock up front (waiting on busy_timeout); a deferred BEGIN that
        # reads first fails at once with "database is locked" when a writer got in between
        self.conn.exec_driver_sql("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.exec_driver_sql("ROLLBACK")
            raise
        self.conn.exec_driver_sql("COMMIT")

    def read(self, statement: sa.Executable, params: Mapping[str, Any] | None = None) -> Any:
        """One scalar, outside any batch transaction."""
        try:
            return self.conn.execute(statement, dict(params or {})).scalar()
        finally:
            self.end_read()

    def end_read(self) -> None:
        if not self.raw and self.conn.in_transaction():
            self.conn.rollback()

    def close(self) -> None:
        if self._outer is not None and self._outer.is_active:
            self._outer.commit()


def _autocommit(conn: Connection) -> bool:
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return True
    if conn.dialect.name == "sqlite":  # its driver flag says nothing about SQLAlchemy's transactions
        return False
    try:
        dbapi = conn.connection.dbapi_connection
        return dbapi is not None and bool(conn.dialect.detect_autocommit_setting(dbapi))
    except (NotImplementedError, AttributeError):
        return False


# -- the walk -------------------------------------------------------------------------------
def _table_clause(table: str | sa.TableClause, key: str, columns: Sequence[str]) -> sa.TableClause:
    if isinstance(table, sa.TableClause):
        if key not in table.c:
            raise BackfillError(f"backfill: table {table.name} has no column {key!r} in its definition")
        return table
    schema, _, name = table.rpartition(".")
    return sa.table(name, *(sa.column(c) for c in dict.fromkeys([key, *columns])), schema=schema or None)


def batch_updates(
    tbl: sa.TableClause,
    key: str,
    set_: Mapping[str, Any],
    conditions: Sequence[ColumnElement[bool] | sa.TextClause],
) -> tuple[sa.Update, sa.Update]:
    """A batch's UPDATE for ``:ss_lo < key <= :ss_hi``, and the first batch's (``key <= :ss_hi``).

    The walk runs them and the dry run shows the first one: built here once, what a plan
    review shows is what a run sends.
    """
    keycol = tbl.c[key]
    hi: sa.BindParameter[Any] = sa.bindparam("ss_hi")
    ranged = sa.update(tbl).where(keycol > sa.bindparam("ss_lo"), keycol <= hi, *conditions).values(dict(set_))
    upto = sa.update(tbl).where(keycol <= hi, *conditions).values(dict(set_))
    return ranged, upto


def _json_key(value: Any) -> Key | None:
    """Checkpoints are JSON: keep ints and strings as they are, anything else as its text."""
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class _Options:
    name: str
    table_name: str
    tbl: sa.TableClause
    key: str
    set_: Mapping[str, Any] | None
    conditions: list[ColumnElement[bool] | sa.TextClause]
    apply: BatchFn | None
    target: float
    size: int
    min_size: int
    max_size: int
    growth: float
    progress: ProgressFn | None
    store: CheckpointStore | None
    resume: bool
    limits: Throttle | None
    explain: bool
    retries: int
    lock_timeout_s: float | None
    catch_up: bool
    pause_s: float
    sleep: Callable[[float], None]


def backfill(
    conn_or_engine: Connection | Engine,
    table: str | sa.TableClause,
    *,
    set_: Mapping[str, Any] | None = None,
    where: ColumnElement[bool] | str | None = None,
    apply: BatchFn | None = None,
    key: str = "id",
    name: str | None = None,
    target_batch_seconds: float = 0.1,
    batch_size: int = 500,
    min_batch_size: int = 1,
    max_batch_size: int = 50_000,
    max_growth: float = 2.0,
    progress: ProgressFn | None = None,
    checkpoint: CheckpointStore | Callable[[Checkpoint], None] | None = None,
    resume: bool = True,
    throttle: Throttle | bool | None = None,
    explain: bool = True,
    retries: int = 5,
    lock_timeout_s: float | None = None,
    catch_up: bool = True,
    pause_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillResult:
    """Apply ``set_`` (or run ``apply``) to ``table`` in committed primary-key ranges.

    ``set_`` maps columns to values or SQLAlchemy Core expressions (correlated subqueries
    included); ``where`` (Core or SQL text) narrows the rows within each range. The batch
    statement is ``UPDATE t SET ... WHERE key > :lo AND key <= :hi [AND where]`` with the
    range bound as values. ``apply`` replaces the UPDATE with custom work per range
    (several statements are fine: they share the batch's transaction).

    Batch sizes (key-space units for integer keys, else rows) start at ``batch_size`` and
    move by at most ``max_growth``× per batch towards ``target_batch_seconds``.
    ``checkpoint`` (a store, or a callback receiving each :class:`Checkpoint`) is written
    after every committed batch; with ``resume`` a saved checkpoint of the same ``name``
    continues after its ``last_key``. Defaults for ``progress``, ``checkpoint`` and
    ``throttle`` come from an enclosing :func:`backfill_context` (``throttle=False``: no
    throttle). Keys beyond the maximum seen at the start are picked up at the end
    (``catch_up``), so rows inserted meanwhile are not missed. ``pause_s`` sleeps after every
    batch: on SQLite a waiting writer only polls for the lock, and batches back to back can
    starve it.

    On PostgreSQL the first batch's plan is EXPLAINed; a Seq Scan on another table comes
    back as a warning in the result.
    """
    if (set_ is None) == (apply is None):
        raise BackfillError("backfill: give exactly one of set_ (an UPDATE) or apply (custom batch work)")
    if target_batch_seconds <= 0 or not 1 <= min_batch_size <= batch_size <= max_batch_size or max_growth <= 1:
        raise BackfillError(
            "backfill: need target_batch_seconds > 0, 1 <= min_batch_size <= batch_size <= max_batch_size "
            "and max_growth > 1"
        )
    ctx = current_context()
    if isinstance(table, str):
        table_name = table
    else:
        table_name = f"{table.schema}.{table.name}" if table.schema else table.name
    if name is None:
        what = ",".join(set_) if set_ is not None else getattr(apply, "__name__", "apply")
        name = f"{table_name}:{what}"
    conditions: list[ColumnElement[bool] | sa.TextClause] = []
    if where is not None:
        conditions.append(sa.text(where) if isinstance(where, str) else where)
    opts = _Options(
        name=name, table_name=table_name, tbl=_table_clause(table, key, list(set_ or ())), key=key,
        set_=set_, conditions=conditions, apply=apply, target=target_batch_seconds, size=batch_size,
        min_size=min_batch_size, max_size=max_batch_size, growth=max_growth,
        progress=progress or (ctx.progress if ctx else None),
        store=_store(checkpoint if checkpoint is not None else (ctx.checkpoints if ctx else None)),
        resume=resume, limits=_throttle(throttle, ctx), explain=explain, retries=retries,
        lock_timeout_s=lock_timeout_s, catch_up=catch_up, pause_s=pause_s, sleep=sleep,
    )
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            result = _Walk(conn, opts).run()
    else:
        result = _Walk(conn_or_engine, opts).run()
    if ctx is not None:
        ctx.collect(result)
    return result


def _store(value: CheckpointStore | Callable[[Checkpoint], None] | None) -> CheckpointStore | None:
    if value is None or not callable(value):
        return value
    return CallbackCheckpoints(value)


def _throttle(value: Throttle | bool | None, ctx: BackfillContext | None) -> Throttle | None:
    if value is False:
        return None
    if isinstance(value, Throttle):
        return value
    return (ctx.throttle if ctx and ctx.throttle else None) or Throttle()


class _Walk:
    """One backfill while it runs: the key range walked so far and what it cost."""

    def __init__(self, conn: Connection, opts: _Options) -> None:
        self.conn = conn
        self.o = opts
        self.ops: Ops = ops_for(conn.dialect.name)
        self.keycol = opts.tbl.c[opts.key]
        self.result = BackfillResult(
            name=opts.name, table=opts.table_name, batch_size_min=opts.size, batch_size_max=opts.size
        )
        self.size = opts.size
        self.started = time.perf_counter()
        self.integer = False
        self.lo: Any = None
        self.first_key: Any = None
        self.hi_max: Any = None
        self.rows_before = 0
        self.batches_before = 0
        self.start_fraction = 0.0
        self.walked = 0
        self.estimate: int | None = None
        self.slow_at_min = 0
        self.prelude = self.ops.batch_prelude(conn)
        self.max_running = opts.limits.max_running if opts.limits else None
        self.ranged: sa.Update | None = None
        self.upto: sa.Update | None = None
        if opts.set_ is not None:
            self.ranged, self.upto = batch_updates(opts.tbl, opts.key, opts.set_, opts.conditions)
            self.result.sql = str(self.ranged.compile(dialect=conn.dialect))

    # -- reads -------------------------------------------------------------------------------
    def _min_after(self, session: _Session, lo: Any) -> Any:
        query = sa.select(sa.func.min(self.keycol)).select_from(self.o.tbl)
        return session.read(query.where(self.keycol > lo) if lo is not None else query)

    def _max(self, session: _Session) -> Any:
        return session.read(sa.select(sa.func.max(self.keycol)).select_from(self.o.tbl))

    def _probe_hi(self, session: _Session, lo: Any) -> Any:
        """Upper key of the next ``size`` rows, for keys that are not integers."""
        query = sa.select(self.keycol).select_from(self.o.tbl).order_by(self.keycol).limit(1).offset(self.size - 1)
        hi = session.read(query.where(self.keycol > lo) if lo is not None else query)
        if hi is None:
            tail = sa.select(sa.func.max(self.keycol)).select_from(self.o.tbl)
            hi = session.read(tail.where(self.keycol > lo) if lo is not None else tail)
        return hi

    def _statement(self, lo: Any, hi: Any) -> tuple[sa.Update, dict[str, Any]]:
        assert self.ranged is not None and self.upto is not None
        if lo is None:
            return self.upto, {"ss_hi": hi}
        return self.ranged, {"ss_lo": lo, "ss_hi": hi}

    def _batch_work(self, lo: Any, hi: Any) -> int:
        if self.o.apply is not None:
            return int(self.o.apply(self.conn, lo, hi))
        statement, params = self._statement(lo, hi)
        return int(self.conn.execute(statement, params).rowcount)

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> BackfillResult:
        session = _Session(self.conn)
        undo = self.ops.walk_setup(self.conn)
        try:
            return self._run(session)
        finally:
            try:
                undo()
            finally:
                session.close()

    def _start(self, session: _Session) -> bool:
        """Find where to start (a checkpoint or the smallest key); False for an empty table."""
        o = self.o
        if o.lock_timeout_s is not None:
            from safeshift.dialects import get_dialect

            get_dialect(self.conn.engine.url).prepare_apply_session(self.conn, o.lock_timeout_s)
            if not session.raw and self.conn.in_transaction():
                self.conn.commit()  # PostgreSQL's SET is undone by a rollback
        saved = o.store.load(o.name) if (o.store is not None and o.resume) else None
        first = self._min_after(session, None)
        if first is None and saved is None:
            return False
        self.integer = _is_int(first) or (saved is not None and _is_int(saved.last_key))
        if saved is not None:
            self.lo, self.first_key = saved.last_key, saved.first_key
            self.rows_before, self.batches_before = saved.rows_done, saved.batches
            self.result.resumed_from = saved.last_key
        else:
            self.lo = first - 1 if self.integer else None
            self.first_key = self.lo
        if self.integer:
            self.hi_max = self._max(session)
        else:
            self.estimate = self.ops.estimate_rows(self.conn, o.table_name)
            session.end_read()
        self.start_fraction = self._fraction() or 0.0
        if o.limits is not None and o.limits.auto_raise and self.max_running is not None:
            running = self._load(session).running
            if running is not None:
                self.max_running = max(self.max_running, math.ceil(running * 1.2))
        return True

    def _next_hi(self, session: _Session) -> Any:
        """The next batch's upper key, or None when the walk is over."""
        if not self.integer:
            return self._probe_hi(session, self.lo)
        while self.hi_max is None or self.lo >= self.hi_max:
            newest = self._max(session) if self.o.catch_up else None
            if newest is None or newest <= self.lo or (self.hi_max is not None and newest <= self.hi_max):
                return None
            self.hi_max = newest
        return min(self.lo + self.size, self.hi_max)

    def _run(self, session: _Session) -> BackfillResult:
        o, result = self.o, self.result
        if not self._start(session):
            return self._finish()
        explained = not o.explain or self.ops.explain is None or o.set_ is None
        last_probe = time.perf_counter()
        while (hi := self._next_hi(session)) is not None:
            if o.limits is not None and time.perf_counter() - last_probe >= o.limits.check_every_s:
                self._wait_for_load(session)
                last_probe = time.perf_counter()
            if not explained:
                explained = True
                assert self.ops.explain is not None
                statement, params = self._statement(self.lo, hi)
                try:
                    result.warnings += self.ops.explain(self.conn, statement, params, o.table_name)
                finally:
                    session.end_read()
            rows, elapsed, hi = self._batch(session, hi)
            result.batches += 1
            result.rows += rows
            self.walked += self.size
            result.max_batch_seconds = max(result.max_batch_seconds, elapsed)
            self.lo = hi
            result.last_key = _json_key(hi)
            self._save(done=False)
            faults.hit(f"backfill:{o.name}:batch:{self.batches_before + result.batches}")
            factor = o.growth if elapsed <= 0 else min(o.growth, max(1 / o.growth, o.target / elapsed))
            self.size = max(o.min_size, min(o.max_size, int(self.size * factor) or 1))
            result.batch_size_min = min(result.batch_size_min, self.size)
            result.batch_size_max = max(result.batch_size_max, self.size)
            self._check_fixed_cost(elapsed)
            if self.integer and rows == 0 and self.hi_max is not None and self.lo < self.hi_max:
                nxt = self._min_after(session, self.lo)  # jump over a gap in the keys in one step
                self.lo = self.hi_max if nxt is None else max(self.lo, nxt - 1)
            if o.progress is not None:
                o.progress(self._progress())
            if o.pause_s > 0:
                o.sleep(o.pause_s)
        self._save(done=True)
        self._finish()
        if o.progress is not None:
            total = self.rows_before + result.rows
            o.progress(BackfillProgress(
                name=o.name, rows_done=total, rows_total=total, rows_per_s=result.rows_per_s, eta_s=0.0,
                batches=self.batches_before + result.batches, batch_size=self.size,
                last_key=result.last_key, fraction=1.0, throttled_s=result.throttled_seconds,
            ))
        return result

    def _check_fixed_cost(self, elapsed: float) -> None:
        """Warn once when batches stay slow at the smallest size: their cost is per batch, not per row."""
        if self.size > self.o.min_size or elapsed <= 2 * self.o.target:
            self.slow_at_min = 0
            return
        self.slow_at_min += 1
        if self.slow_at_min == 3:
            self.result.warnings.append(
                f"batches take {elapsed:.2f}s even at the smallest size ({self.o.min_size}): the cost is per "
                "batch, not per row; look at the batch's plan (PostgreSQL switches prepared statements to a "
                "generic plan after 5 executions, which may scan a whole table)"
            )

    def _batch(self, session: _Session, hi: Any) -> tuple[int, float, Any]:
        """Run one range in its own transaction; a lock timeout or deadlock retries it smaller."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with session.batch():
                    for statement in self.prelude:
                        self.conn.exec_driver_sql(statement)
                    rows = self._batch_work(self.lo, hi)
                return rows, time.perf_counter() - started, hi
            except Exception as exc:
                if not self.ops.retryable(exc) or attempt >= self.o.retries:
                    raise
                attempt += 1
                self.result.retries += 1
                self.size = max(self.o.min_size, self.size // 2)
                if self.integer:
                    hi = min(self.lo + self.size, self.hi_max)
                self.o.sleep(min(2.0, 0.05 * 2**attempt))

    def _save(self, *, done: bool) -> None:
        if self.o.store is None:
            return
        self.o.store.save(stamp(Checkpoint(
            name=self.o.name, last_key=_json_key(self.lo), rows_done=self.rows_before + self.result.rows,
            batches=self.batches_before + self.result.batches, first_key=_json_key(self.first_key), done=done,
        )))

    def _finish(self) -> BackfillResult:
        result = self.result
        result.seconds = time.perf_counter() - self.started
        result.rows_per_s = result.rows / result.seconds if result.seconds > 0 else 0.0
        result.batch_size_final = self.size
        return result

    # -- progress and throttle ---------------------------------------------------------------
    def _fraction(self) -> float | None:
        lo, first, top = self.lo, self.first_key, self.hi_max
        if _is_int(lo) and _is_int(first) and _is_int(top) and top > first:
            return max(0.0, min(1.0, float(lo - first) / float(top - first)))
        if self.estimate:
            return min(1.0, (self.rows_before + self.walked) / self.estimate)
        return None

    def _progress(self) -> BackfillProgress:
        result = self.result
        elapsed = time.perf_counter() - self.started
        rate = result.rows / elapsed if elapsed > 0 else 0.0
        done = self.rows_before + result.rows
        fraction = self._fraction()
        total = round(done / fraction) if fraction and fraction >= 0.01 else self.estimate
        eta = None
        if fraction is not None and fraction > self.start_fraction:
            eta = elapsed * (1 - fraction) / (fraction - self.start_fraction)
        return BackfillProgress(
            name=self.o.name, rows_done=done, rows_total=max(total, done) if total is not None else None,
            rows_per_s=rate, eta_s=eta, batches=self.batches_before + result.batches, batch_size=self.size,
            last_key=_json_key(self.lo), fraction=fraction, throttled_s=result.throttled_seconds,
        )

    def _load(self, session: _Session) -> Load:
        """The server's load; a probe that fails (rights, old server) counts as unknown, warned once."""
        limits = self.o.limits
        assert limits is not None
        try:
            return (limits.probe or self.ops.load)(self.conn)
        except Exception as exc:
            text = f"throttle cannot read the server's load ({type(exc).__name__}): not throttling on it"
            if text not in self.result.warnings:
                self.result.warnings.append(text)
            return Load()
        finally:
            session.end_read()

    def _wait_for_load(self, session: _Session) -> None:
        limits, result = self.o.limits, self.result
        assert limits is not None
        waited = 0.0
        while (reason := limits.over(self._load(session), self.max_running)) is not None:
            if waited >= limits.max_wait_s:
                raise BackfillError(
                    f"backfill {self.o.name} paused {waited:.0f}s and the load did not drop ({reason}); "
                    f"its checkpoint is at key {self.lo!r}: run it again to continue"
                )
            if waited == 0.0:
                result.throttle_pauses += 1
            if self.o.progress is not None:
                progress = self._progress()
                progress.paused = reason
                self.o.progress(progress)
            self.o.sleep(limits.pause_s)
            waited += limits.pause_s
            result.throttled_seconds += limits.pause_s
