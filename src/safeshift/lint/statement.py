"""One statement, understood as far as possible: sqlglot tree, or a text classification.

sqlglot is the primary source; where it gives up (a ``Command`` or a parse error) a few
anchored regexes on the masked text still tell the statement's kind and table, so a rule
can judge ``VACUUM FULL`` or ``RENAME TABLE`` and the dry run can show a lock for it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from safeshift.lint.sqltext import Scanned, scan
from safeshift.secrets import first_line

# our dialect name -> sqlglot's
_SQLGLOT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "mariadb": "mysql"}


def normalize_dialect(name: str) -> str:
    """``postgresql`` | ``mysql`` | ``sqlite`` (``mariadb`` and ``postgres`` are aliases)."""
    key = name.lower().split("+")[0]
    key = _ALIASES.get(key, key)
    if key not in _SQLGLOT:
        raise ValueError(f"lint: unsupported dialect {name!r} (supported: mysql, postgresql, sqlite)")
    return key


def bare_name(ident: str | None) -> str | None:
    """``"public"."Users"`` → ``users``: sizes are keyed by bare lower-case table name."""
    if not ident:
        return None
    last = re.split(r"\.(?=(?:[^\"`]*[\"`][^\"`]*[\"`])*[^\"`]*$)", ident.strip())[-1]
    return last.strip().strip('"`[]').lower() or None


def table_name(node: exp.Expression | None) -> str | None:
    """The bare table name of a Table/Schema node."""
    while isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, exp.Table) and node.name:
        return node.name.lower()
    return None


# MySQL/MariaDB online-DDL clauses sqlglot cannot always parse: read them, then cut them out.
_MYSQL_OPTION = re.compile(
    r",\s*\b(ALGORITHM|LOCK)\s*=?\s*(\w+)|\b(ALGORITHM|LOCK)\s*=?\s*(\w+)\s*,?", re.IGNORECASE
)
_MYSQL_NOISE = re.compile(r"\bNOWAIT\b|\bWAIT\s+\d+(?:\.\d+)?", re.IGNORECASE)
_MYSQL_DDL = re.compile(
    r"^\s*(ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE|CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+)?"
    r"(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+(?:ONLINE\s+)?INDEX)\b",
    re.IGNORECASE,
)
_ONLINE = re.compile(r"^(\s*(?:ALTER|CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?)(ONLINE\s+)", re.IGNORECASE)

# Text classification for what sqlglot leaves as a Command (or cannot parse at all).
_IDENT = r"((?:[\w$]+|\"[^\"]+\"|`[^`]+`)(?:\.(?:[\w$]+|\"[^\"]+\"|`[^`]+`))?)"
_TEXT_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("RENAME TABLE", re.compile(r"^\s*RENAME\s+TABLES?\s+" + _IDENT, re.I)),
    ("VACUUM", re.compile(r"^\s*VACUUM\b(?:\s*\([^)]*\))?(?:\s+(?:FULL|FREEZE|VERBOSE|ANALYZE))*\s*" + _IDENT + r"?", re.I)),
    ("CLUSTER", re.compile(r"^\s*CLUSTER\b(?:\s+VERBOSE)?\s*" + _IDENT + r"?", re.I)),
    ("OPTIMIZE TABLE", re.compile(r"^\s*OPTIMIZE\s+(?:NO_WRITE_TO_BINLOG\s+|LOCAL\s+)?TABLES?\s+" + _IDENT, re.I)),
    ("REINDEX", re.compile(r"^\s*REINDEX\b(?:\s*\([^)]*\))?\s+(?:(?:TABLE|INDEX|SCHEMA|DATABASE|SYSTEM)\s+)?(?:CONCURRENTLY\s+)?" + _IDENT, re.I)),
    ("LOCK TABLE", re.compile(r"^\s*LOCK\s+TABLES?\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    ("ALTER TABLE", re.compile(r"^\s*ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?" + _IDENT, re.I)),
    ("CREATE INDEX", re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\b[^;]*?\bON\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    ("DROP TABLE", re.compile(r"^\s*DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?" + _IDENT, re.I)),
    ("TRUNCATE", re.compile(r"^\s*TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?" + _IDENT, re.I)),
    ("UPDATE", re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    ("DELETE", re.compile(r"^\s*DELETE\s+FROM\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    # what sqlglot leaves as a Command in real migrations (MLflow's triggers, extensions, enums)
    ("CREATE TRIGGER", re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?TRIGGER\b[^;]*?\bON\s+" + _IDENT, re.I)),
    ("CREATE FUNCTION", re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:FUNCTION|PROCEDURE)\b", re.I)),
    ("EXTENSION", re.compile(r"^\s*(?:CREATE|ALTER|DROP)\s+EXTENSION\b", re.I)),
    ("ALTER TYPE", re.compile(r"^\s*ALTER\s+TYPE\b", re.I)),
    ("ALTER SEQUENCE", re.compile(r"^\s*ALTER\s+SEQUENCE\b", re.I)),
    ("REFRESH MATERIALIZED VIEW", re.compile(r"^\s*REFRESH\s+MATERIALIZED\s+VIEW\b(?:\s+CONCURRENTLY)?\s+" + _IDENT, re.I)),
    ("SAVEPOINT", re.compile(r"^\s*(?:SAVEPOINT|RELEASE)\b", re.I)),
    # a plan only (the backfill asks one for its batch estimate); EXPLAIN ANALYZE runs the statement
    ("EXPLAIN", re.compile(r"^\s*EXPLAIN\b(?!\s*(?:\([^)]*\bANALY[SZ]E\b|ANALY[SZ]E\b))", re.I)),
]
_VERB = re.compile(r"^\s*([A-Za-z]+)")
# What a statement may start with. sqlglot reads any words as an expression ("FROBNICATE users" is
# "FROBNICATE AS users"): a tree is only understood when the statement starts like one.
_VERBS = frozenset(
    "ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE DECLARE DELETE DESC "
    "DESCRIBE DETACH DISCARD DO DROP END EXECUTE EXPLAIN FLUSH GRANT INSERT KILL LISTEN LOAD LOCK MERGE NOTIFY "
    "OPTIMIZE PRAGMA PREPARE REFRESH REINDEX RELEASE RENAME REPLACE RESET REVOKE ROLLBACK SAVEPOINT SELECT SET SHOW "
    "START TABLE TRUNCATE UNLOCK UPDATE UPSERT USE VACUUM VALUES WITH".split()
)


@dataclass
class Statement:
    """A statement with everything a rule may look at."""

    index: int  # the item of the caller's list this statement came from
    sql: str
    dialect: str  # postgresql | mysql | sqlite
    scanned: Scanned
    tree: exp.Expression | None = None
    parse_error: str | None = None
    kind: str = "OTHER"
    table: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # MySQL ALGORITHM / LOCK, upper case
    line: int = 0  # 0-based first line in the statements joined by newlines
    pos: int = 0  # position in the parsed list (an item holding two statements gives two)
    nested: bool = False  # run by a DO block of the statement before it (judged, not run on its own)

    @property
    def masked(self) -> str:
        """The statement with comments and string contents blanked (same offsets)."""
        return self.scanned.masked

    @property
    def comment_only(self) -> bool:
        return not self.scanned.code.strip(" ;")

    @property
    def understood(self) -> bool:
        """Whether we know what this statement does (a tree, or a recognised text form)."""
        if self.comment_only or self.kind != "OTHER":
            return True
        verb = _VERB.match(self.scanned.code)
        parsed = self.tree is not None and not isinstance(self.tree, exp.Command)
        return parsed and verb is not None and verb.group(1).upper() in _VERBS

    @property
    def actions(self) -> list[exp.Expression]:
        """An ALTER TABLE's actions (empty for anything else)."""
        if isinstance(self.tree, exp.Alter):
            return list(self.tree.args.get("actions") or [])
        return []

    def has(self, pattern: str) -> bool:
        """Case-insensitive regex search in the masked text (never in comments or strings)."""
        return re.search(pattern, self.masked, re.IGNORECASE) is not None

    @property
    def first_line(self) -> str:
        code = self.scanned.code.strip()
        return code if len(code) <= 120 else code[:117] + "..."


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for every fallback to Command; the lint reports those itself."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _mysql_options(sql: str, masked: str) -> tuple[str, dict[str, str]]:
    """Read ALGORITHM/LOCK (and ONLINE) from a MySQL DDL statement and cut them out for sqlglot."""
    if not _MYSQL_DDL.match(masked):
        return sql, {}
    options: dict[str, str] = {}
    online = _ONLINE.match(masked)
    spans: list[tuple[int, int]] = []
    if online:
        options["LOCK"] = "NONE"
        spans.append(online.span(2))
    for m in _MYSQL_OPTION.finditer(masked):
        key = (m.group(1) or m.group(3)).upper()
        options[key] = (m.group(2) or m.group(4)).upper()
        spans.append(m.span())
    spans.extend(m.span() for m in _MYSQL_NOISE.finditer(masked))
    for start, end in sorted(spans, reverse=True):
        sql = sql[:start] + " " + sql[end:]
    return sql, options


def parse_statement(index: int, sql: str, dialect: str) -> Statement:
    """Parse and classify one statement; never raises (a failure is recorded on the result)."""
    mysql = dialect == "mysql"
    scanned = scan(sql, hash_comments=mysql, backslash_escapes=mysql)
    stmt = Statement(index=index, sql=sql, dialect=dialect, scanned=scanned)
    if stmt.comment_only:
        stmt.kind = "COMMENT"
        return stmt
    text = sql
    if mysql:
        text, stmt.options = _mysql_options(sql, scanned.masked)
    try:
        with _quiet_sqlglot():
            trees = [t for t in sqlglot.parse(text, read=_SQLGLOT[dialect]) if t is not None]
        stmt.tree = trees[0] if trees else None  # type: ignore[assignment]  # sqlglot types parse() loosely
    except Exception as exc:  # sqlglot raises several error types; a lint must never crash on input
        stmt.parse_error = first_line(exc, with_type=False)
    stmt.kind, stmt.table = classify(stmt)
    return stmt


def classify(stmt: Statement) -> tuple[str, str | None]:
    """(kind, table) from the tree, else from the masked text."""
    tree = stmt.tree
    if tree is not None and not isinstance(tree, exp.Command):
        found = _classify_tree(tree)
        if found is not None:
            return found
    for kind, pattern in _TEXT_KINDS:
        m = pattern.match(stmt.masked)
        if m:
            return kind, bare_name(m.group(1)) if m.groups() else None
    return "OTHER", None


def _classify_tree(tree: exp.Expression) -> tuple[str, str | None] | None:
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        if kind == "INDEX":
            index = tree.this
            return "CREATE INDEX", table_name(index.args.get("table") if isinstance(index, exp.Index) else None)
        return f"CREATE {kind}".strip(), table_name(tree.this)
    if isinstance(tree, exp.Alter):
        kind = str(tree.args.get("kind") or "TABLE").upper()
        return f"ALTER {kind}", table_name(tree.this)
    if isinstance(tree, exp.Drop):
        kind = str(tree.args.get("kind") or "").upper()
        tables = tree.args.get("tables") or []
        if kind == "INDEX":
            on = tree.args.get("cluster")
            return "DROP INDEX", table_name(on.this) if isinstance(on, exp.OnProperty) else None
        return f"DROP {kind}".strip(), table_name(tables[0]) if tables else None
    if isinstance(tree, exp.TruncateTable):
        tables = tree.expressions
        return "TRUNCATE", table_name(tables[0]) if tables else None
    simple: list[tuple[type[exp.Expression], str]] = [
        (exp.Update, "UPDATE"),
        (exp.Delete, "DELETE"),
        (exp.Insert, "INSERT"),
    ]
    for cls, kind in simple:
        if isinstance(tree, cls):
            return kind, table_name(tree.this)
    if isinstance(tree, exp.Query):
        return "SELECT", None
    others: list[tuple[type[exp.Expression], str]] = [
        (exp.Set, "SET"),
        (exp.Transaction, "BEGIN"),
        (exp.Commit, "COMMIT"),
        (exp.Rollback, "ROLLBACK"),
        (exp.Comment, "COMMENT ON"),
        (exp.Analyze, "ANALYZE"),
    ]
    for cls, kind in others:
        if isinstance(tree, cls):
            return kind, None
    return None
