"""What the statements before this one did: new tables, table copies, session settings.

A rule judging ``CREATE INDEX ON families`` must know that ``families`` was created two
statements earlier (so it is empty and nobody waits on it), and a rule judging SQLite's
``DROP TABLE users`` must know that the rows were just copied into a table that is about
to be renamed back to ``users`` (Alembic's batch mode): a rebuild, not a data loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from safeshift.lint.model import LintSettings, TableSize
from safeshift.lint.statement import Statement, table_name
from safeshift.lint.version import ServerVersion

_FK_CHECKS = re.compile(r"foreign_key_checks\s*(?::?=|\bTO\b)\s*'?(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Rebuild:
    """A table rebuilt by copy: CREATE tmp; INSERT INTO tmp SELECT ... FROM t; DROP t; RENAME tmp TO t.

    The numbers are positions in the parsed statement list (``Statement.pos``).
    """

    table: str
    temp: str
    create: int | None
    copy: int
    drop: int
    rename: int


@dataclass
class LintContext:
    """State while walking the statements in order; rules read it, the linter advances it."""

    dialect: str
    settings: LintSettings
    sizes: dict[str, TableSize] | None
    version: ServerVersion  # the server the advice is for (live, given or assumed)
    destructive_ok: bool = False
    rebuilds: list[Rebuild] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)  # created here and still empty
    simulated: dict[str, TableSize | None] = field(default_factory=dict)
    foreign_key_checks: bool = True  # MySQL session setting, changed by SET statements
    assume_rows: int | None = None  # no database: an unknown table counts as this many rows

    def rows(self, table: str | None) -> int | None:
        """The table's row count (or estimate) at this point; unknown → ``assume_rows``."""
        size = self.size(table)
        if size is None:
            return self.assume_rows
        return size.estimated_rows

    def size(self, table: str | None) -> TableSize | None:
        """The table's size at this point of the migration (None: unknown)."""
        if table is None:
            return None
        if table in self.simulated:
            return self.simulated[table]
        if self.sizes is not None:
            return self.sizes.get(table)
        return None

    def is_fresh(self, table: str | None) -> bool:
        """Created earlier in these statements and not filled from an existing table: nobody waits on it."""
        return table is not None and table in self.fresh

    def rebuild_at(self, pos: int) -> Rebuild | None:
        """The rebuild the statement at ``pos`` is part of, if any."""
        for rebuild in self.rebuilds:
            if pos in (rebuild.create, rebuild.copy, rebuild.drop, rebuild.rename):
                return rebuild
        return None

    def advance(self, stmt: Statement) -> None:
        """Apply the statement's effect on the simulated catalog (after the rules ran on it)."""
        tree = stmt.tree
        table = stmt.table
        if stmt.kind == "CREATE TABLE" and table:
            if isinstance(tree, exp.Create) and tree.args.get("expression") is not None:
                self.simulated[table] = None  # CREATE TABLE ... AS SELECT: size unknown
                self.fresh.discard(table)
            else:
                self.simulated[table] = TableSize(rows=0, bytes=0, source="exact")
                self.fresh.add(table)
        elif stmt.kind == "INSERT" and table and isinstance(tree, exp.Insert):
            source = _single_source(tree)
            if source is not None:
                self.simulated[table] = self.size(source)
                self.fresh.discard(table)
            elif table in self.fresh:
                # a few literal rows into a table this migration created: still small, and the
                # running application does not use it yet, so a lock on it blocks nobody
                values = tree.expression
                rows = len(values.expressions) if isinstance(values, exp.Values) else None
                self.simulated[table] = TableSize(rows=rows, bytes=None)
        elif stmt.kind == "DROP TABLE" and table:
            self.simulated.pop(table, None)
            self.fresh.discard(table)
        elif stmt.kind == "ALTER TABLE" and table:
            new = renamed_to(stmt)
            if new:
                self.simulated[new] = self.size(table)
                if table in self.fresh:
                    self.fresh.add(new)
                self.fresh.discard(table)
                self.simulated.pop(table, None)
        elif stmt.kind == "SET" and stmt.dialect == "mysql":
            m = _FK_CHECKS.search(stmt.sql)
            if m:
                self.foreign_key_checks = m.group(1).upper() not in ("0", "OFF", "FALSE")

def renamed_to(stmt: Statement) -> str | None:
    """The new name of an ``ALTER TABLE ... RENAME TO`` (None for anything else)."""
    for action in stmt.actions:
        if isinstance(action, exp.AlterRename):
            return table_name(action.this)
    return None


def _single_source(tree: exp.Insert) -> str | None:
    """``INSERT INTO t SELECT ... FROM s`` (one table, no join): s; else None."""
    query = tree.expression
    if not isinstance(query, exp.Select):
        return None
    sources = list(query.find_all(exp.Table))
    names = {table_name(t) for t in sources}
    if len(names) == 1 and not query.args.get("joins"):
        return names.pop()
    return None


def find_rebuilds(statements: list[Statement]) -> list[Rebuild]:
    """Copy-and-swap rebuilds (SQLite batch mode, pt-osc-like scripts) among the statements."""
    found: list[Rebuild] = []
    for copy in statements:
        if copy.kind != "INSERT" or not isinstance(copy.tree, exp.Insert) or not copy.table:
            continue
        source = _single_source(copy.tree)
        temp = copy.table
        if source is None or source == temp:
            continue
        drop = next(
            (s for s in statements[copy.pos + 1 :] if s.kind == "DROP TABLE" and s.table == source), None
        )
        if drop is None:
            continue
        rename = next(
            (s for s in statements[drop.pos + 1 :] if s.kind == "ALTER TABLE" and s.table == temp and renamed_to(s) == source),
            None,
        )
        if rename is None:
            continue
        create = next(
            (s.pos for s in statements[: copy.pos] if s.kind == "CREATE TABLE" and s.table == temp), None
        )
        found.append(Rebuild(table=source, temp=temp, create=create, copy=copy.pos, drop=drop.pos, rename=rename.pos))
    return found
