"""SS004: a foreign key added with an immediate validating scan."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

from safeshift.lint.context import LintContext
from safeshift.lint.rules.base import Hit, Rule, register
from safeshift.lint.statement import Statement, table_name


def _added_foreign_keys(stmt: Statement) -> list[str | None]:
    """Referenced tables of the FOREIGN KEY constraints an ALTER TABLE adds."""
    found: list[str | None] = []
    for action in stmt.actions:
        if isinstance(action, exp.AddConstraint):
            for fk in action.find_all(exp.ForeignKey):
                reference = fk.args.get("reference")
                found.append(table_name(reference.this) if isinstance(reference, exp.Reference) else None)
    if not found and (stmt.tree is None or isinstance(stmt.tree, exp.Command)) and stmt.kind == "ALTER TABLE":
        if stmt.has(r"\bADD\b[^;]*\bFOREIGN\s+KEY\b"):
            found.append(None)
    return found


@register
class ForeignKeyValidation(Rule):
    """A foreign key (or PostgreSQL CHECK) added in one step, so the whole table is checked under a lock.

    *Anti-pattern*: PostgreSQL ``ADD CONSTRAINT ... FOREIGN KEY`` without ``NOT VALID``
    scans the table under a SHARE ROW EXCLUSIVE lock on both tables (writes blocked); a
    ``CHECK`` without ``NOT VALID`` scans it under ACCESS EXCLUSIVE (no reads, no writes).
    MySQL/MariaDB can add a foreign key in place only with ``foreign_key_checks=0``;
    otherwise the table is copied.

    *Best practice*: PostgreSQL: ``ADD CONSTRAINT ... NOT VALID``, then ``VALIDATE
    CONSTRAINT`` in a separate transaction (it only takes SHARE UPDATE EXCLUSIVE).
    MySQL/MariaDB: ``SET foreign_key_checks = 0`` for the session, add the key with
    ``ALGORITHM=INPLACE, LOCK=NONE``, and prove there are no orphans with a post-check
    (check kind ``fk_valid``).
    """

    code = "SS004"
    name = "foreign-key-validation-locks"
    dialects = frozenset({"postgresql", "mysql"})
    squawk_rules = frozenset({"adding-foreign-key-constraint", "constraint-missing-not-valid"})

    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        table = stmt.table
        if stmt.kind != "ALTER TABLE" or ctx.is_fresh(table):
            return
        references = _added_foreign_keys(stmt)
        not_valid = bool(stmt.tree.args.get("not_valid")) if isinstance(stmt.tree, exp.Alter) else stmt.has(r"\bNOT\s+VALID\b")
        if stmt.dialect == "postgresql" and not not_valid:
            check = _CHECK.search(stmt.masked)
            if check is not None and not references:
                yield Hit(
                    f"CHECK constraint on {table} without NOT VALID scans every row under ACCESS EXCLUSIVE: no reads, no writes",
                    table,
                    suggestion=_not_valid_then_validate(stmt, check.group(1)),
                )
        if not references:
            return
        parent = next((r for r in references if r), None)
        if stmt.dialect == "postgresql":
            if not not_valid:
                named = _FK_NAME.search(stmt.masked)
                yield Hit(
                    f"foreign key on {table}{f' → {parent}' if parent else ''} without NOT VALID scans {table} "
                    "while writes to both tables wait",
                    table,
                    suggestion=_not_valid_then_validate(stmt, named.group(1) if named else None),
                )
        elif ctx.foreign_key_checks:
            yield Hit(
                f"foreign key on {table}{f' → {parent}' if parent else ''} with foreign_key_checks=1: "
                f"MySQL/MariaDB copy {table} to add it",
                table,
                suggestion="SET foreign_key_checks = 0 for the session, add the key with ALGORITHM=INPLACE, LOCK=NONE, "
                "then prove no orphans with a post-check (kind fk_valid)",
            )


_CHECK = re.compile(r"\bADD\s+(?:CONSTRAINT\s+(\S+)\s+)?CHECK\b", re.IGNORECASE)
_FK_NAME = re.compile(r"\bADD\s+CONSTRAINT\s+(\S+)\s+FOREIGN\s+KEY\b", re.IGNORECASE)


def _not_valid_then_validate(stmt: Statement, name: str | None) -> str:
    """The statement as written plus NOT VALID (new rows are checked at once), then the scan
    apart: VALIDATE CONSTRAINT takes only SHARE UPDATE EXCLUSIVE, so reads and writes go on."""
    text = " ".join(stmt.scanned.stripped.split()).rstrip("; ")
    t = stmt.table or "<table>"
    validate = f"ALTER TABLE {t} VALIDATE CONSTRAINT {name or '<constraint name>'};"
    hint = "" if name else " (name the constraint: ADD CONSTRAINT <name> ...)"
    return f"{text} NOT VALID; then, in its own transaction: {validate}{hint}"
