"""Ask a MySQL/MariaDB server which lock class a DDL statement really needs.

The lint can only guess (a ``MODIFY COLUMN`` may or may not copy, depending on the old
type). The server knows: re-issued with ``ALGORITHM=INSTANT`` it either does the change
instantly or refuses at once with error 1845/1846 *without touching the table*; then the
same with ``ALGORITHM=INPLACE, LOCK=NONE``. When both are refused the statement needs a
table copy or a write-blocking lock.

**This executes DDL.** A probe that is accepted *applies* the statement. Run it on a
rehearsal copy (``Dialect.scratch_copy``), statement by statement in migration order,
never on the production database.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlglot import exp

from safeshift.lint.statement import _mysql_options, parse_statement, table_name

LockClass = Literal["instant", "inplace", "copy"]

# ER_ALTER_OPERATION_NOT_SUPPORTED, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON
_REFUSED = {1845, 1846}


def _error_code(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _probes(statement: str) -> list[tuple[LockClass, str]]:
    stmt = parse_statement(0, statement, "mysql")
    clean, _ = _mysql_options(stmt.scanned.stripped, stmt.masked)
    base = clean.strip().rstrip(";").strip()
    if stmt.kind == "ALTER TABLE":
        return [("instant", f"{base}, ALGORITHM=INSTANT"), ("inplace", f"{base}, ALGORITHM=INPLACE, LOCK=NONE")]
    if stmt.kind == "CREATE INDEX":
        return [("instant", f"{base} ALGORITHM=INSTANT"), ("inplace", f"{base} ALGORITHM=INPLACE LOCK=NONE")]
    if stmt.kind == "DROP INDEX" and isinstance(stmt.tree, exp.Drop):
        on = stmt.tree.args.get("cluster")
        table = table_name(on.this) if isinstance(on, exp.OnProperty) else None
        tables = stmt.tree.args.get("tables") or []
        if table and tables:
            alter = f"ALTER TABLE `{table}` DROP INDEX `{tables[0].name}`"
            return [("instant", f"{alter}, ALGORITHM=INSTANT"), ("inplace", f"{alter}, ALGORITHM=INPLACE, LOCK=NONE")]
    raise ValueError(f"probe_lock_class: only ALTER TABLE, CREATE INDEX and DROP INDEX ... ON can be probed, not {stmt.kind}")


def can_probe(statement: str) -> bool:
    """Whether the server can be asked which lock class ``statement`` needs."""
    try:
        _probes(statement)
    except ValueError:
        return False
    return True


def probe_lock_class(conn: Connection, statement: str) -> LockClass:
    """``instant``, ``inplace`` (online: LOCK=NONE) or ``copy`` (needs a copy or a blocking lock).

    EXECUTES the statement when a probe is accepted: only for a rehearsal copy (see the
    module docstring). Errors other than "algorithm not supported" (a missing table, bad
    syntax) are raised: the statement would fail in the migration too.
    """
    for lock_class, probe in _probes(statement):
        try:
            conn.exec_driver_sql(probe)
        except DBAPIError as exc:
            if conn.in_transaction():
                conn.rollback()  # DDL commits implicitly before it runs: nothing of the caller's is lost here
            if _error_code(exc) in _REFUSED:
                continue
            raise
        if conn.in_transaction():
            conn.commit()
        return lock_class
    return "copy"
