"""The plan ``safeshift init`` writes, as TOML text with a comment on every section.

Values are written as TOML basic strings (JSON's escapes are TOML's), so a table name
or a path never breaks the file; the text is validated by loading it before it is written.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from safeshift.adopt.project import Project
from safeshift.adopt.schema import Inferred

COMMENT_AT = 33  # the column end-of-line comments start at, as in the README's plan


def value(item: Any) -> str:
    """A TOML value for a str, bool, number or list of them."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(v) for v in item) + "]"
    return json.dumps(str(item), ensure_ascii=False)


def line(key: str, item: Any, comment: str | None = None) -> str:
    """``key = value``, its comment at the end of the line, or above it when the line is long."""
    text = f"{key} = {value(item)}"
    if not comment:
        return text
    if len(text) < COMMENT_AT - 1:
        return f"{text:<{COMMENT_AT - 1}} # {comment}"
    return f"# {comment}\n{text}"


def comment(text: str) -> list[str]:
    """``text`` as comment lines of at most 100 characters."""
    return ["# " + part for part in textwrap.wrap(text, 98)]


def render_plan(
    project: Project,
    *,
    url_env: str,
    inferred: Inferred | None,
    version: str,
) -> str:
    out: list[str] = [
        f"# safeshift plan written by `safeshift init` (safeshift {version}). Review every section before",
        "# the first production run: `safeshift run --dry-run` shows what would run, `safeshift rehearse`",
        "# tries it on a copy. Any string value may use ${VAR} or ${VAR:-default}, read from the",
        "# environment when the plan is loaded. Paths are relative to this file.",
        "",
        "[database]",
        "# The URL comes from the environment when safeshift runs: never write it (or a password) here.",
        line("url", "${" + url_env + "}"),
        "",
        "[migration]",
        f"# Found: {project.found}.",
    ]
    if project.engine == "command":
        out += [
            "# safeshift runs these commands in this folder with the database URL in $DATABASE_URL (never on",
            "# a command line); no shell runs them. `up` is the tool's own CLI: check it is how you deploy.",
        ]
    out.append(line("engine", project.engine))
    for key, item in project.keys.items():
        out.append(line(key, item, project.comments.get(key)))
    out += [
        "# The revision a run goes to; `--target REV` on run, rehearse and lint overrides it.",
        line("target", "head"),
    ]
    out += [part for note in project.notes for part in comment(f"NOTE: {note}")]
    out += [
        "",
        "[backup]",
        "# Taken before any change and verified: \"restore\" loads it into a scratch database and compares",
        "# the row counts; \"scan\" counts the rows in the file itself (faster on a large database).",
        line("directory", ".safeshift/backups"),
        line("verify", "restore"),
        "",
        "[rollback]",
    ]
    if project.can_downgrade:
        out += [
            "# A failure after apply rolls back: downgrade, and restore the backup when the downgrade cannot",
            "# be proven equal to the state before.",
            line("strategy", "downgrade-then-restore"),
        ]
    else:
        out += [
            "# A failure after apply rolls back by restoring the backup (no down migration to run).",
            line("strategy", "restore"),
        ]
    out += [
        "# Rows the application wrote after maintenance went off: \"keep\" | \"restore-and-save\" | \"stop\".",
        line("on_writes", "keep"),
        "",
        "[approval]",
        "# true: a run needs --approve DIGEST, the digest `safeshift run --dry-run` prints.",
        line("required", False),
        "",
    ]
    out += _checks(inferred, url_env)
    return "\n".join(out) + "\n"


def _checks(inferred: Inferred | None, url_env: str) -> list[str]:
    if inferred is None:
        return [
            "# --- checks ---------------------------------------------------------------------------------",
            f"# ${url_env} was not set, so no checks were inferred from the live schema. Set it and run",
            "# `safeshift init --print` to see them, or write them here (README: \"Check kinds\"), e.g.:",
            "# [[checks.post]]",
            '# kind = "row_count"',
            '# table = "users"',
            '# expect = "== snapshot"',
        ]
    out = [
        f"# --- checks inferred from the live schema of ${url_env} (tables: {len(inferred.tables)}, checks: {inferred.count}) ---",
        "# Post-checks run after apply; a failed one rolls the migration back. They are a starting point:",
        "# remove the row counts of tables the migration empties, drops or renames, and add the rules only",
        "# you know (kind = \"sql\" with a query; pre-checks under [[checks.pre]] must hold before anything runs).",
        "# row_count: every row before the change is still there (== snapshot: the count taken before apply).",
        "# fk_valid: the FOREIGN KEY still exists and no row breaks it (baseline = true: rows that were",
        "#   orphans before the migration do not fail it). unique: the constraint's columns stay unique.",
        "# no_nulls: a NOT NULL column still has no NULLs (catches a copy that relaxed the constraint).",
    ]
    if inferred.skipped:
        out.append(f"# Not checked (names a check cannot quote): {', '.join(inferred.skipped)}.")
    for table in inferred.tables:
        out += ["", f"# -- {table.table}"]
        for index, check in enumerate(table.checks):
            out += ([] if index == 0 else [""]) + ["[[checks.post]]"]
            out += [line(key, item) for key, item in check.items()]
    return out
