"""Observed locks: the migration applied to a copy, every statement it ran captured, with the
locks it took and the tables it rewrote, then linted from what ran.

The lint reads the migration's text; the copy shows what ran (a revision that cannot be
rendered offline too) and what it locked. Every statement executed on the copy's engine is
captured with its parameters (SQLAlchemy's cursor events); the database's observer
(``Dialect.lock_observer``) reads around each one what it took. MySQL/MariaDB hold nothing
after DDL (it commits at once), so what ran is replayed on a second copy of the state before
the migration, and each ALTER TABLE / CREATE INDEX / DROP INDEX is probed there for the
lock class the server accepts (:func:`replay`, also the rehearsal's lock classes).

Where: the validate step's schema-only copy (every run and dry run, ``[lint] observe``),
the rehearsal's copy, and ``safeshift lint --observe``. The sizes that scale the findings are
the live database's (preflight's facts).
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from safeshift import lint
from safeshift.dialects import get_dialect
from safeshift.dialects.observe import HeldLock, LockObserver, Seen
from safeshift.errors import ExitCode
from safeshift.lint.observed import (
    OBSERVED_LOCK,
    carried_suppressions,
    inline_parameters,
    with_carried,
)
from safeshift.lint.sqltext import scan
from safeshift.lint.statement import normalize_dialect
from safeshift.run.context import RunContext, error_text
from safeshift.run.outcome import Stop
from safeshift.secrets import first_line

# what the machinery around a statement runs: not the migration's statements
_CONTROL = re.compile(r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION|END)\b", re.IGNORECASE)
# reads: listed only when the observer saw them write (a function that does DDL)
_READ = re.compile(r"(SELECT|SHOW|EXPLAIN|DESCRIBE|DESC|PRAGMA|VALUES|TABLE|WITH)\b", re.IGNORECASE)
STATEMENT_TABLE = "(its table)"  # a MySQL/MariaDB lock class is the statement's table's
NOT_ASKED = "not asked: only ALTER TABLE and CREATE/DROP INDEX are"


@dataclass
class Ran:
    """One statement as it ran on the copy: what the driver got, and what the observer saw."""

    statement: str
    parameters: Any
    text: str  # parameters written in, for reading and linting
    seen: Seen
    read: bool = False


class Recorder:
    """Captures every statement executed on the copy behind ``engine`` while attached, each observed
    by ``observer``: on any engine that reaches it, since an env.py like ``alembic init``'s builds
    its own from the URL safeshift gives it.

    The observer's own queries run on DB-API cursors, which no event sees. Its ``before`` runs
    ahead of the rehearsal's statement timer, its ``after`` behind it: timings stay the statements'.
    """

    def __init__(self, engine: Engine, observer: LockObserver) -> None:
        self.ran: list[Ran] = []
        self._engine, self._target, self._observer = engine, _identity(engine.url), observer
        self._engines: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()  # does it reach the copy
        self._failed: dict[int, str] = {}
        # listeners on the class run ahead of an engine's own (the rehearsal's timer): before()
        # there, and after() on the copy's engine itself, behind the timer; on any other engine
        # (an env.py's own) through the class as well
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(Engine, "after_cursor_execute", self._after_elsewhere)

    def detach(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(self._engine, "after_cursor_execute", self._after)
        event.remove(Engine, "after_cursor_execute", self._after_elsewhere)
        self._observer.close()

    def _after_elsewhere(self, conn: Connection, *args: Any) -> None:
        if conn.engine is not self._engine:
            self._after(conn, *args)

    @property
    def kept(self) -> list[Ran]:
        """What the migration ran, without reads that changed nothing."""
        return [r for r in self.ran if not r.read]

    def _watched(self, conn: Connection, statement: str) -> bool:
        engine = conn.engine
        if engine not in self._engines:
            self._engines[engine] = _identity(engine.url) == self._target
        return self._engines[engine] and not _control(statement)

    def _before(self, conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not self._watched(conn, statement):
            return
        dbapi = conn.connection.dbapi_connection
        try:
            self._observer.before(dbapi)
        except Exception as exc:  # never fail the migration for an observation: say it was not observed
            self._failed[id(dbapi)] = first_line(exc)

    def _after(self, conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not self._watched(conn, statement):
            return
        dbapi = conn.connection.dbapi_connection
        failed = self._failed.pop(id(dbapi), None)
        try:
            seen = Seen(note=f"not observed: {failed}") if failed else self._observer.after(dbapi)
        except Exception as exc:
            seen = Seen(note=f"not observed: {first_line(exc)}")
        text = inline_parameters(statement, parameters, str(conn.dialect.paramstyle), normalize_dialect(conn.dialect.name))
        read = bool(_READ.match(_code(statement))) and seen.wrote is not True
        self.ran.append(Ran(statement, parameters, text, seen, read))


def _identity(url: URL) -> tuple[str, str | None, int | None, str | None]:
    """Which database a URL reaches, whatever the driver and the credentials."""
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        database = str(Path(database).expanduser().resolve())
    return url.get_backend_name(), url.host, url.port, database


def _code(statement: str) -> str:
    """The statement without comments and leading blanks (to see what it starts with)."""
    return scan(statement).code


def _control(statement: str) -> bool:
    return bool(_CONTROL.match(_code(statement)))


@contextlib.contextmanager
def recording(conn: Connection) -> Iterator[Recorder]:
    """Capture and observe what runs on the copy behind ``conn`` (on any engine) inside the block."""
    recorder = Recorder(conn.engine, get_dialect(conn.engine.url).lock_observer())
    try:
        yield recorder
    finally:
        recorder.detach()


# -- MySQL/MariaDB: what the server accepts, asked on a replay ---------------------------------


@dataclass
class Replayed:
    """One statement replayed: the lock class the server accepted (None: not probed), or the error."""

    lock_class: str | None = None
    error: str | None = None


def _askable(r: Ran) -> bool:
    """A statement the server can be asked about (DDL carries no parameters)."""
    return not r.parameters and lint.can_probe(r.statement)


def replay(conn: Connection, ran: list[Ran]) -> list[Replayed]:
    """Run ``ran`` again in order on ``conn`` (a copy of the state before them), asking the server
    for each ALTER TABLE / CREATE INDEX / DROP INDEX: INSTANT, then INPLACE with LOCK=NONE
    (refused at once when it would block). One that needs a copy is then run as written, as is
    every other statement, so the ones after it find the schema they expect."""
    out: list[Replayed] = []
    for r in ran:
        done = Replayed()
        try:
            if not r.parameters:  # DDL carries no parameters: the statement itself is probed
                with contextlib.suppress(ValueError):  # not a statement the server can be asked about
                    done.lock_class = lint.probe_lock_class(conn, r.statement)
            if done.lock_class in (None, "copy"):
                conn.exec_driver_sql(r.statement, r.parameters or ())
            if conn.in_transaction():
                conn.commit()
        except Exception as exc:  # a probe must never fail what asked for it
            if conn.in_transaction():
                conn.rollback()
            done.error = error_text(exc)
        out.append(done)
    return out


# -- what was observed, judged ---------------------------------------------------------------


@dataclass
class ObservedStatement:
    """One statement that ran on the copy: the lint's lock for it, and what it took."""

    index: int
    sql: str
    declared: str
    table: str | None
    locks: list[HeldLock]
    rewrote: list[str]
    note: str | None
    findings: list[lint.Finding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "sql": self.sql,
            "declared": self.declared,
            "table": self.table,
            "observed": [lock.to_dict() for lock in self.locks],
            "rewrote": self.rewrote,
            "note": self.note,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class Observation:
    """What the migration did on a copy, statement by statement, and the lint of what ran."""

    where: str  # "a schema-only copy", "the rehearsal's copy"
    fail_on: str = "error"
    statements: list[ObservedStatement] = field(default_factory=list)
    findings: list[lint.Finding] = field(default_factory=list)  # the lint of what ran (SS097 among them)
    infos: list[lint.StatementInfo] = field(default_factory=list)
    reads: int = 0  # reads that changed nothing, not listed
    skipped: str | None = None  # why nothing was observed
    replayed: list[tuple[str, Replayed]] = field(default_factory=list)  # MySQL/MariaDB: (statement, what the server accepted)

    @property
    def blocking(self) -> list[lint.Finding]:
        return lint.blocking_findings(self.findings, self.fail_on)

    def summary(self) -> dict[str, Any]:
        """For the journal and the phase's detail: counts, or why nothing was observed."""
        if self.skipped is not None:
            return {"skipped": self.skipped}
        return {"statements": len(self.statements), "findings": len(self.findings), "blocking": len(self.blocking)}

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"where": self.where, "skipped": self.skipped}
        return {
            "where": self.where,
            "statements": [s.to_dict() for s in self.statements],
            "findings": [f.to_dict() for f in self.findings],
            "blocking": len(self.blocking),
            "reads_not_listed": self.reads,
        }


def judge(
    ctx: RunContext, recorder: Recorder, where: str, replay_on: Callable[[], contextlib.AbstractContextManager[Connection]] | None
) -> Observation:
    """Lint what ran, with what each statement was seen to take (SS097 where it took more).

    ``replay_on`` opens a copy of the state before the migration, for a database whose server
    is asked instead (``Dialect.asks_lock_classes``).
    """
    kept = recorder.kept
    seen = {i: r.seen for i, r in enumerate(kept)}
    replayed: list[Replayed] = []
    if ctx.dialect.asks_lock_classes and replay_on is not None and any(_askable(r) for r in kept):
        with replay_on() as conn:  # a second copy: only when there is a DDL to ask the server about
            replayed = replay(conn, kept)
    elif ctx.dialect.asks_lock_classes and replay_on is not None:  # nothing the server could be asked
        replayed = [Replayed() for _ in kept]
    if replayed:
        for i, done in enumerate(replayed):
            locks = [HeldLock(STATEMENT_TABLE, done.lock_class)] if done.lock_class else []
            note = f"replay failed: {done.error}" if done.error else None if locks else NOT_ASKED
            seen[i] = Seen(locks=locks, note=note)
    settings = lint.LintSettings.from_section(ctx.plan.lint)
    facts = ctx.result.facts
    sizes = lint.table_sizes_from_facts(facts) if facts is not None else None
    carried = carried_suppressions(_rendered(ctx), ctx.dialect.name)
    findings, infos = lint.lint_and_annotate(
        [with_carried(r.text, carried, ctx.dialect.name) for r in kept], ctx.dialect.name, sizes,
        destructive_ok=ctx.plan.backup.verifies, settings=settings, observed=seen,
        server_version=lint.resolve_version(
            ctx.dialect.name, live=facts.version if facts is not None else None, setting=settings.server_version
        ),
    )
    observation = Observation(where=where, fail_on=settings.fail_on, findings=findings, infos=infos)
    observation.reads = len(recorder.ran) - len(kept)
    observation.replayed = [(r.text, done) for r, done in zip(kept, replayed, strict=False)]
    for i, r in enumerate(kept):
        info = next((s for s in infos if s.index == i), None)
        table = info.table if info is not None else None
        locks = [HeldLock(table or "?", lock.mode, table) if lock.relation == STATEMENT_TABLE else lock for lock in seen[i].locks]
        observation.statements.append(
            ObservedStatement(
                index=i, sql=r.text, declared=info.lock if info is not None else "?", table=table, locks=locks,
                rewrote=seen[i].rewrote, note=seen[i].note,
                findings=[f for f in findings if f.statement == i and f.code == OBSERVED_LOCK],
            )
        )
    return observation


def _rendered(ctx: RunContext) -> list[str]:
    """The pending migration as rendered offline (preflight's, when it rendered it), for the
    justifications written as comments; a revision that cannot be rendered has none to give."""
    pieces = ctx.rendered
    if pieces is None:
        result = ctx.result
        pieces = ctx.migrator.render_each(result.start_revision, result.target_revision or "head", ctx.dialect.name)
    return [sql for piece in pieces if piece.error is None for sql in piece.statements]


def conclude(
    ctx: RunContext, recorder: Recorder, where: str, replay_on: Callable[[], contextlib.AbstractContextManager[Connection]] | None
) -> Observation:
    """:func:`judge`, or an observation saying why it could not be made (a replay copy refused):
    the migration on the copy went through, so nothing else fails with it."""
    try:
        return judge(ctx, recorder, where, replay_on)
    except Exception as exc:
        return Observation(where, skipped=f"the observation could not be judged: {error_text(exc)}")


def stop_if_blocking(observed: Observation) -> None:
    """Findings of what ran at or above ``[lint] fail_on`` stop the run, as the preflight lint does."""
    blocking = observed.blocking
    if not blocking:
        return
    first = blocking[0]
    more = f" and {len(blocking) - 1} more" if len(blocking) > 1 else ""
    where = first.table or f"statement {first.statement}"
    raise Stop(
        "blocked",
        f"lint of what ran on {observed.where}: {first.code} {first.severity} on {where}: {first.message}{more} "
        "(see `safeshift lint --observe`; suppress with -- safeshift: allow CODE because REASON)",
        ExitCode.CHECKS_FAILED,
    )


@contextlib.contextmanager
def schema_copy(ctx: RunContext, label: str, folder: Path | None = None) -> Iterator[Connection]:
    """A schema-only copy of the database at its current revision (no rows), connected; dropped
    on the way out, also when the block fails."""
    url = ctx.dialect.schema_only_copy(label, ctx.run_id, folder or ctx.backup_dir, ctx.migrator.version_tables)
    try:
        engine = get_dialect(url).create_engine()
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()
    finally:
        ctx.dialect.drop_scratch_copy(url)


def unobservable(ctx: RunContext, *, asked: bool = False) -> str | None:
    """Why this plan's migration cannot be observed on a copy (None: it can). ``asked``: by
    ``safeshift lint --observe``, which observes whatever ``[lint] observe`` says."""
    if not asked and not ctx.plan.lint.observe:
        return "[lint] observe = false"
    if not ctx.migrator.renders_sql:
        return f"{ctx.migrator.name} migrations run as commands, outside safeshift's connection"
    if not ctx.migrator.version_tables:
        return f"engine {ctx.migrator.name} keeps its revision where safeshift cannot copy it"
    return None
