"""Which lock a statement takes, and what it keeps others from doing: the dry run's lock column.

PostgreSQL's lock modes are documented per statement and are exact here. MySQL/MariaDB
always take a metadata lock; how long writers wait depends on the algorithm the server
picks (instant / inplace / copy), which is a best guess from the statement's text:
:func:`safeshift.lint.probe.probe_lock_class` asks the server on a rehearsal copy.
SQLite has one lock for the whole database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from safeshift.lint.statement import Statement
from safeshift.lint.version import ServerVersion, instant_add_column, instant_drop_column

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"

# What each PostgreSQL mode blocks for ordinary traffic.
_PG_BLOCKS = {
    ACCESS_EXCLUSIVE: "reads and writes",
    "EXCLUSIVE": "writes (reads go on)",
    "SHARE ROW EXCLUSIVE": "writes",
    "SHARE": "writes",
    SHARE_UPDATE_EXCLUSIVE: "schema changes and VACUUM only",
    "ROW EXCLUSIVE": "nothing but conflicting row locks",
    "ROW SHARE": "nothing",
    "ACCESS SHARE": "nothing",
    "none": "nothing",
}


@dataclass(frozen=True)
class LockLevel:
    lock: str
    blocks: str
    algorithm: str | None = None


_NONE = LockLevel("none", "nothing")


def lock_level(stmt: Statement, version: ServerVersion | None = None) -> LockLevel:
    """The lock ``stmt`` takes in its dialect (on MySQL/MariaDB: on this server version, default
    the newest behaviour)."""
    if stmt.kind in ("COMMENT", "BEGIN", "COMMIT", "ROLLBACK", "SET", "SAVEPOINT", "DO", "EXPLAIN"):
        return _NONE
    if stmt.dialect == "postgresql":
        mode = _pg_mode(stmt)
        return LockLevel(mode, _PG_BLOCKS.get(mode, "writes"))
    if stmt.dialect == "mysql":
        return _mysql(stmt, version)
    return _sqlite(stmt)


def _pg_mode(stmt: Statement) -> str:
    kind = stmt.kind
    tree = stmt.tree
    concurrently = stmt.has(r"\bCONCURRENTLY\b")
    if kind == "CREATE INDEX":
        return SHARE_UPDATE_EXCLUSIVE if concurrently else "SHARE"
    if kind == "DROP INDEX":
        return SHARE_UPDATE_EXCLUSIVE if concurrently else ACCESS_EXCLUSIVE
    if kind == "REINDEX":
        return SHARE_UPDATE_EXCLUSIVE if concurrently else "SHARE"
    if kind == "CREATE TABLE":
        # a new table blocks nobody, but a REFERENCES clause locks the parent table
        return "SHARE ROW EXCLUSIVE" if stmt.has(r"\bREFERENCES\b") else "none"
    if kind in ("UPDATE", "DELETE", "INSERT"):
        return "ROW EXCLUSIVE"
    if kind == "SELECT":
        return "ACCESS SHARE"
    if kind in ("ANALYZE",):
        return SHARE_UPDATE_EXCLUSIVE
    if kind == "VACUUM":
        return ACCESS_EXCLUSIVE if stmt.has(r"\bFULL\b") else SHARE_UPDATE_EXCLUSIVE
    if kind == "COMMENT ON":
        return SHARE_UPDATE_EXCLUSIVE
    if kind == "LOCK TABLE":
        for mode in ("ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE ROW EXCLUSIVE", "ROW EXCLUSIVE", "ROW SHARE", "ACCESS SHARE", "EXCLUSIVE", "SHARE"):
            if stmt.has(r"\bIN\s+" + mode.replace(" ", r"\s+") + r"\s+MODE\b"):
                return mode
        return ACCESS_EXCLUSIVE
    if kind == "CREATE TRIGGER":
        return "SHARE ROW EXCLUSIVE"
    if kind == "REFRESH MATERIALIZED VIEW":
        return "EXCLUSIVE" if concurrently else ACCESS_EXCLUSIVE
    if kind == "ALTER TABLE":
        return _pg_alter_mode(stmt, tree)
    if kind.startswith(("DROP", "TRUNCATE", "CLUSTER", "RENAME")) or kind.startswith("ALTER"):
        return ACCESS_EXCLUSIVE
    if kind.startswith("CREATE"):
        return "none"
    return ACCESS_EXCLUSIVE if kind == "OTHER" else "none"


def _share_update_set(action: exp.AlterSet) -> bool:
    """``SET (fillfactor = ...)`` and ``SET WITHOUT CLUSTER`` take SHARE UPDATE EXCLUSIVE; SET
    LOGGED/UNLOGGED, ACCESS METHOD and TABLESPACE copy the table under ACCESS EXCLUSIVE."""
    option = str(action.args.get("option") or "").upper()
    return bool(action.args.get("expressions")) or option == "WITHOUT CLUSTER"


def _pg_alter_mode(stmt: Statement, tree: exp.Expression | None) -> str:
    """The strongest lock among an ALTER TABLE's subcommands (PostgreSQL takes the strongest)."""
    if stmt.has(r"\bVALIDATE\s+CONSTRAINT\b"):
        return SHARE_UPDATE_EXCLUSIVE
    actions = stmt.actions
    if not actions:
        if stmt.has(r"\bATTACH\s+PARTITION\b") or stmt.has(r"\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b"):
            return SHARE_UPDATE_EXCLUSIVE
        return ACCESS_EXCLUSIVE
    modes = []
    for action in actions:
        if isinstance(action, exp.AddConstraint) and any(True for _ in action.find_all(exp.ForeignKey)):
            modes.append("SHARE ROW EXCLUSIVE")
        elif isinstance(action, exp.AlterSet) and _share_update_set(action):
            modes.append(SHARE_UPDATE_EXCLUSIVE)  # storage parameters, SET WITHOUT CLUSTER
        else:
            modes.append(ACCESS_EXCLUSIVE)
    order = [SHARE_UPDATE_EXCLUSIVE, "SHARE ROW EXCLUSIVE", ACCESS_EXCLUSIVE]
    return max(modes, key=order.index)


def _mysql_algorithm(stmt: Statement, version: ServerVersion | None = None) -> str:
    """instant | inplace | copy: the server's likely pick on ``version`` (None: MySQL 8.0.29+ / MariaDB 10.4+)."""
    stated = stmt.options.get("ALGORITHM")
    if stated in ("INSTANT", "INPLACE", "COPY"):
        return stated.lower()
    if stated == "NOCOPY":
        return "inplace"
    if stmt.kind in ("CREATE INDEX", "DROP INDEX", "OPTIMIZE TABLE"):
        return "inplace"
    if stmt.kind == "RENAME TABLE":
        return "instant"
    if stmt.has(r"\bADD\b[^;]*\bFOREIGN\s+KEY\b") or stmt.has(r"\bCONVERT\s+TO\b") or stmt.has(r"\bDROP\s+PRIMARY\s+KEY\b"):
        return "copy"
    worst = "instant"
    for action in stmt.actions:
        guess = _mysql_action(action)
        if guess == "instant" and version is not None and not _instant_on(action, version):
            guess = "inplace"  # an older server rebuilds the table in place
        if guess == "copy":
            return "copy"
        if guess == "inplace":
            worst = "inplace"
    if not stmt.actions and stmt.kind == "ALTER TABLE":
        return "copy" if stmt.has(r"\b(MODIFY|CHANGE)\b") else "inplace"
    return worst


def _mysql_action(action: exp.Expression) -> str:
    if isinstance(action, exp.ColumnDef | exp.RenameColumn | exp.AlterRename):
        return "instant"
    if isinstance(action, exp.AlterColumn):
        return "instant" if action.args.get("dtype") is None else "copy"
    if isinstance(action, exp.ModifyColumn):
        return "copy"  # a type change copies; only the server knows when it does not
    if isinstance(action, exp.Drop):
        kind = str(action.args.get("kind") or "").upper()
        return "instant" if kind == "COLUMN" else "inplace"
    if isinstance(action, exp.AddConstraint):
        return "inplace"
    return "inplace"


def positioned(column: exp.Expression) -> bool:
    """``ADD COLUMN ... FIRST`` or ``AFTER other``: not the last column."""
    return column.args.get("position") is not None


def _instant_on(action: exp.Expression, version: ServerVersion) -> bool:
    """Whether an action the newest servers do instantly is instant on ``version`` too."""
    if isinstance(action, exp.ColumnDef):
        return instant_add_column(version, positioned=positioned(action))
    if isinstance(action, exp.Drop):
        return instant_drop_column(version)
    return True


def _mysql(stmt: Statement, version: ServerVersion | None = None) -> LockLevel:
    kind = stmt.kind
    if kind in ("UPDATE", "DELETE", "INSERT"):
        return LockLevel("shared metadata lock + InnoDB row locks", "writers of the same rows")
    if kind == "SELECT":
        return LockLevel("shared metadata lock", "nothing")
    if kind == "CREATE TABLE":
        return LockLevel("metadata lock on the new table", "nothing")
    if kind in ("DROP TABLE", "TRUNCATE", "RENAME TABLE", "LOCK TABLE") or kind.startswith("DROP"):
        return LockLevel("exclusive metadata lock", "reads and writes (briefly, after waiting for open transactions)")
    if kind in ("ALTER TABLE", "CREATE INDEX", "DROP INDEX", "OPTIMIZE TABLE"):
        algorithm = _mysql_algorithm(stmt, version)
        lock = stmt.options.get("LOCK")
        if algorithm == "copy" or lock in ("SHARED", "EXCLUSIVE"):
            blocks = "reads and writes" if lock == "EXCLUSIVE" else "writes for the whole copy"
            return LockLevel(f"metadata lock, {algorithm}", blocks, algorithm)
        if algorithm == "instant":
            return LockLevel("metadata lock, instant", "reads and writes for a moment (after open transactions)", algorithm)
        return LockLevel("metadata lock, inplace", "writes at start and end only (after open transactions)", algorithm)
    return LockLevel("metadata lock", "unknown")


def _sqlite(stmt: Statement) -> LockLevel:
    if stmt.kind == "SELECT":
        return LockLevel("shared (database)", "nothing")
    return LockLevel("database write lock", "every other writer (and readers at commit unless WAL)")
