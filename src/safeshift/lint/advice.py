"""Safe alternatives written out: expand/backfill/contract with a ``[[migration.backfill]]``
snippet, the online schema-change tool's command line, SQLite's table rebuild.

Advice is text shown to a person (never executed); each function writes it for one dialect,
so a rule only picks which one applies. The backfill snippet is valid plan TOML
(``tests/test_lint_advice.py`` parses it as a plan section).
"""

from __future__ import annotations

import json
import re

from safeshift.lint.statement import Statement
from safeshift.lint.version import ServerVersion, instant_add_column, sqlite_drop_column

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def backfill_snippet(table: str | None, assignments: dict[str, str], where: str | None = None, key: str = "id") -> str:
    """A ``[[migration.backfill]]`` plan section that fills ``assignments`` (column → SQL) in
    batches walking ``key``, committing each batch (see README, "Backfills between revisions")."""
    keys = ", ".join(
        f"{c if _BARE_KEY.match(c) else _toml_string(c)} = {_toml_string(sql)}" for c, sql in assignments.items()
    )
    lines = ["[[migration.backfill]]", f"table = {_toml_string(table or '<table>')}", f"set = {{ {keys} }}"]
    if where:
        lines.append(f"where = {_toml_string(where)}")
    if key != "id":
        lines.append(f"key = {_toml_string(key)}")
    return "\n".join("    " + line for line in lines)


def expand_backfill_contract(
    dialect: str,
    table: str | None,
    column: str,
    new_type: str,
    version: ServerVersion,
    *,
    new: str | None = None,
    value: str | None = None,
) -> str:
    """A column changed (its type, or its name when ``new`` is given) without a table rewrite or a
    broken running application: a new column, filled in batches, the old one dropped in a later release.
    ``value``: the SQL that computes the new column from the old (default: a CAST to ``new_type``)."""
    t, c = table or "<table>", column if column != "a column" else "<column>"
    target = new or f"{c}_new"
    value = value or f"CAST({c} AS {new_type})"
    if dialect == "mysql":
        add = f"ALTER TABLE {t} ADD COLUMN {target} {new_type} NULL, {mysql_add_algorithm(version)};"
        rename = f", CHANGE COLUMN {target} {c} {new_type}" if new is None else ""
        swap = f"ALTER TABLE {t} DROP COLUMN {c}{rename}, ALGORITHM=INPLACE, LOCK=NONE;"
    elif dialect == "sqlite" and not sqlite_drop_column(version):
        add = f"ALTER TABLE {t} ADD COLUMN {target} {new_type};"
        swap = f"rebuild {t} without {c} ({version.label} has no DROP COLUMN: SQLite's table rebuild, or Alembic's batch_alter_table)"
    else:
        add = f"ALTER TABLE {t} ADD COLUMN {target} {new_type};"
        swap = f"ALTER TABLE {t} DROP COLUMN {c};" + (f" ALTER TABLE {t} RENAME COLUMN {target} TO {c};" if new is None else "")
    return "\n".join(
        [
            "expand, backfill, contract:",
            f"1. expand (this release): {add}",
            "2. backfill in batches: add to safeshift.toml",
            backfill_snippet(t, {target: value}, f"{target} IS NULL AND {c} IS NOT NULL"),
            f"3. the application writes both {c} and {target}, then reads {target}",
            f"4. contract (a later release): {swap}",
        ]
    )


def keep_old_table_name(dialect: str, old: str | None, new: str | None) -> str | None:
    """A table rename the running application survives: the old name stays as a view of the new
    table (a simple view is updatable on PostgreSQL and MySQL/MariaDB); None on SQLite (read-only views)."""
    a, b = old or "<old>", new or "<new>"
    if dialect == "postgresql":
        return (
            f"rename and keep the old name as a view, in one transaction: ALTER TABLE {a} RENAME TO {b}; "  # noqa: S608
            f"CREATE VIEW {a} AS SELECT * FROM {b}; (the running application keeps reading and writing {a}); "
            f"in a later release: DROP VIEW {a};"
        )
    if dialect == "mysql":
        return (
            f"rename and keep the old name as a view, back to back: RENAME TABLE {a} TO {b}; "  # noqa: S608
            f"CREATE VIEW {a} AS SELECT * FROM {b}; (the running application keeps reading and writing {a}); "
            f"in a later release: DROP VIEW {a};"
        )
    return None


def fill_then_require(
    dialect: str,
    table: str | None,
    column: str,
    version: ServerVersion,
    col_type: str = "<type>",
    value: str = "<value>",
    *,
    require: bool = True,
) -> str:
    """A column every row must have: added nullable (new rows get ``value``), the existing rows
    filled in batches, then required (PostgreSQL: a NOT VALID check validated apart, so SET NOT
    NULL scans nothing). ``require`` False: a nullable column with a default, no last step."""
    t, c = table or "<table>", column if column != "a column" else "<column>"
    if dialect == "postgresql":
        add = f"ALTER TABLE {t} ADD COLUMN {c} {col_type}; ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {value};"
        last = (
            f"ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_not_null CHECK ({c} IS NOT NULL) NOT VALID; "
            f"ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_not_null; ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL; "
            f"ALTER TABLE {t} DROP CONSTRAINT {t}_{c}_not_null;"
        )
    elif dialect == "mysql":
        # no DEFAULT yet: MySQL/MariaDB would give it to every existing row, and the backfill would find none
        add = f"ALTER TABLE {t} ADD COLUMN {c} {col_type} NULL, {mysql_add_algorithm(version)};"
        last = f"ALTER TABLE {t} MODIFY COLUMN {c} {col_type} NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;"
    else:
        return f"ALTER TABLE {t} ADD COLUMN {c} {col_type} NOT NULL DEFAULT <constant>; (SQLite needs a constant default for NOT NULL)"
    steps = [
        "add it nullable, backfill, then require it:" if require else "add it without the default, then backfill:",
        f"1. {add}",
        "2. backfill the existing rows in batches: add to safeshift.toml",
        backfill_snippet(t, {c: value}, f"{c} IS NULL"),
    ]
    if require:
        steps.append(f"3. deploy code that always writes {c}; then {last}")
    return "\n".join(steps)


def mysql_add_algorithm(version: ServerVersion, *, positioned: bool = False) -> str:
    """The clause that adds a column without blocking writes on this server."""
    return "ALGORITHM=INSTANT" if instant_add_column(version, positioned=positioned) else "ALGORITHM=INPLACE, LOCK=NONE"


def online_tool(table: str | None, alter: str) -> str:
    """The gh-ost / pt-online-schema-change command lines that run ``alter`` by copying the table in
    chunks while writes go on (gh-ost refuses tables with foreign keys or triggers)."""
    t = table or "<table>"
    quoted = alter.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'copy the table in chunks: gh-ost --host=<primary> --user=<user> --ask-pass --database=<db> --table={t} --alter="{quoted}" '
        "--allow-on-master --assume-rbr --execute; or "
        f'pt-online-schema-change --alter="{quoted}" --alter-foreign-keys-method=auto --ask-pass --execute h=<primary>,u=<user>,D=<db>,t={t}'
    )


def no_online_alter(table: str | None, alter: str, version: ServerVersion) -> str:
    """Advice where the server has no ALTER that lets writes go on: an online schema-change tool."""
    return f"{version.label} has no online ALTER for this: {online_tool(table, alter)}"


def sqlite_rebuild(table: str | None, change: str, version: ServerVersion) -> str:
    """SQLite's 12-step table rebuild (https://sqlite.org/lang_altertable.html#otheralter), written
    out for ``table``, or Alembic's batch mode, which writes the same steps."""
    t = table or "<table>"
    return "\n".join(
        [
            f"{version.label} cannot {change} in place: rebuild {t} (or Alembic: with op.batch_alter_table({t!r}) as batch: ...):",
            "PRAGMA foreign_keys = OFF;",
            "BEGIN;",
            f"CREATE TABLE {t}_new (<the new columns and constraints>);",
            f"INSERT INTO {t}_new (<columns kept>) SELECT <columns kept> FROM {t};",  # noqa: S608 (advice text)
            f"DROP TABLE {t};",
            f"ALTER TABLE {t}_new RENAME TO {t};",
            f"-- recreate {t}'s indexes, triggers and views (SELECT sql FROM sqlite_schema WHERE tbl_name = '{t}')",  # noqa: S608
            f"PRAGMA foreign_key_check({t});",
            "COMMIT;",
            "PRAGMA foreign_keys = ON;",
        ]
    )


_INDEX_CONSTRAINT = re.compile(
    r"\bADD\s+(?:CONSTRAINT\s+(\S+)\s+)?(UNIQUE|PRIMARY\s+KEY|EXCLUDE)\b(?!\s+USING\s+INDEX)\s*(?:USING\s+\w+\s*)?(\([^;]*?\))?",
    re.IGNORECASE,
)


def index_constraint_advice(stmt: Statement) -> str | None:
    """UNIQUE, PRIMARY KEY and EXCLUDE constraints cannot be NOT VALID (PostgreSQL refuses):
    their safe form is an index built CONCURRENTLY first, then the constraint USING INDEX."""
    m = _INDEX_CONSTRAINT.search(stmt.masked)
    if m is None or stmt.dialect != "postgresql":
        return None
    t = stmt.table or "<table>"
    kind = " ".join(m.group(2).upper().split())
    if kind == "EXCLUDE":
        return (
            "PostgreSQL has no NOT VALID and no USING INDEX for EXCLUDE: the constraint's index is built under "
            "ACCESS EXCLUSIVE. Add it in a maintenance window, or on a new table filled in batches and swapped in."
        )
    name = m.group(1) or f"{t}_{'pkey' if kind == 'PRIMARY KEY' else 'key'}"
    columns = stmt.sql[m.start(3) : m.end(3)] if m.group(3) else "(<columns>)"
    return (
        f"NOT VALID does not apply to {kind} (PostgreSQL refuses it): CREATE UNIQUE INDEX CONCURRENTLY {name}_idx ON {t} {columns}; "
        f"then ALTER TABLE {t} ADD CONSTRAINT {name} {kind} USING INDEX {name}_idx;"
        + (" (the columns must already be NOT NULL)" if kind == "PRIMARY KEY" else "")
    )
