"""The SQL a real run executed while applying, with durations: what the report shows as "ran".

A dry run lists what *would* run; a reviewer of a finished cutover wants what *did*. The
apply connection is observed (SQLAlchemy cursor events), and statements are folded by
their text, so a backfill's ten thousand batches are one line with a count and a total
time instead of ten thousand lines. Parameters are never kept (they may hold data or
secrets); the text is masked like everything else the report holds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from safeshift.secrets import redact

MAX_STATEMENTS = 200  # distinct statement texts kept; more are counted, not listed
MAX_SQL_CHARS = 4000
_KEY = "safeshift.statement_log"


class StatementLog:
    """Statements seen on one connection, folded by text, in first-seen order."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.more = 0  # executions of texts beyond MAX_STATEMENTS
        self.paused = 0
        self._started: list[float] = []

    def before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self._add(statement)

    def failed(self, context: Any) -> None:
        """The statement that raised: listed with its error (it is what a reviewer looks for first)."""
        statement = getattr(context, "statement", None)
        if statement is not None:
            entry = self._add(statement)
            if entry is not None:
                error = getattr(context, "original_exception", None)
                lines = str(error).strip().splitlines() if error is not None else []
                entry["error"] = f"{type(error).__name__}: {lines[0] if lines else ''}"

    def _add(self, statement: str) -> dict[str, Any] | None:
        started = self._started.pop() if self._started else time.perf_counter()
        if self.paused:
            return None
        seconds = time.perf_counter() - started
        text = " ".join(str(statement).split())
        entry = self.entries.get(text)
        if entry is None:
            if len(self.entries) >= MAX_STATEMENTS:
                self.more += 1
                return None
            entry = self.entries[text] = {"sql": text, "count": 0, "seconds": 0.0, "max_seconds": 0.0}
        entry["count"] += 1
        entry["seconds"] += seconds
        entry["max_seconds"] = max(entry["max_seconds"], seconds)
        return entry

    def to_list(self) -> list[dict[str, Any]]:
        shown = []
        for entry in self.entries.values():
            sql = redact(entry["sql"])
            if len(sql) > MAX_SQL_CHARS:
                sql = sql[:MAX_SQL_CHARS] + " …"
            item = {
                "sql": sql, "count": entry["count"], "seconds": round(entry["seconds"], 4),
                "max_seconds": round(entry["max_seconds"], 4),
            }
            if "error" in entry:
                item["error"] = redact(entry["error"])
            shown.append(item)
        return shown


@contextlib.contextmanager
def recording(conn: Connection, into: dict[str, Any]) -> Iterator[StatementLog]:
    """Observe ``conn`` while the block runs; the folded statements land in ``into["statements"]``
    (a phase's detail: journaled and reported) also when the block fails."""
    log = StatementLog()

    def failed(context: Any) -> None:  # an engine-wide hook (SQLAlchemy 2): only this connection's errors
        if getattr(context, "connection", None) is conn:
            log.failed(context)

    hooks: list[tuple[Any, str, Any]] = [
        (conn, "before_cursor_execute", log.before), (conn, "after_cursor_execute", log.after),
        (conn.engine, "handle_error", failed),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    conn.info[_KEY] = log
    try:
        yield log
    finally:
        with contextlib.suppress(Exception):  # an interrupted connection may have no info left
            conn.info.pop(_KEY, None)
        for target, name, hook in hooks:
            with contextlib.suppress(Exception):
                event.remove(target, name, hook)
        into["statements"] = log.to_list()
        if log.more:
            into["statements_not_listed"] = log.more


@contextlib.contextmanager
def unrecorded(conn: Connection) -> Iterator[None]:
    """safeshift's own look at the database (schema read back for a retry) is not the migration's SQL."""
    try:
        log = conn.info.get(_KEY)
    except Exception:  # noqa: BLE001  (an invalidated connection)
        log = None
    if log is not None:
        log.paused += 1
    try:
        yield
    finally:
        if log is not None:
            log.paused -= 1


def annotate_locks(data: dict[str, Any]) -> None:
    """Add each executed statement's lock (as the lint reads the statement) to a report's data.

    Done when the report is written, outside the maintenance window; a statement the lint
    cannot read keeps no lock. Never raises: a report is written whatever happens here.
    """
    facts = data.get("facts") or {}
    dialect = facts.get("dialect")
    if not dialect:
        return
    for phase in data.get("phases", []):
        statements = phase.get("detail", {}).get("statements")
        if not statements or phase.get("name") != "apply" or all("kind" in s for s in statements):
            continue
        try:
            from safeshift import lint

            sizes = {str(t["name"]).lower(): lint.TableSize(rows=t.get("row_estimate"), bytes=t.get("bytes"))
                     for t in facts.get("tables", [])}
            version = lint.resolve_version(dialect, live=facts.get("version"))  # MySQL's algorithm depends on it
        except Exception:  # noqa: BLE001  (a lint bug must not cost the report)
            return
        for statement in statements:
            try:  # one at a time: the lint may read two statements as one item
                infos = lint.annotate([statement["sql"]], dialect, sizes, use_squawk=False, server_version=version)
            except Exception:  # noqa: BLE001
                continue
            if not infos:
                continue
            statement["kind"] = infos[0].kind
            if infos[0].kind != "OTHER":  # a statement the lint does not know has no lock worth claiming
                statement.update(lock=infos[0].lock, blocks=infos[0].blocks, table=infos[0].table)
