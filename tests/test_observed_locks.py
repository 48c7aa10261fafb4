"""Observed locks (issue 17): the pending migration applied to a schema-only copy, every statement
that ran captured with the locks it took there, and linted from what ran, so a revision that
cannot be rendered offline is linted too. On every database; the real one is never changed and
no copy is left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

from helpers import ItemsDb, column_names, query, server_databases, table_names
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode

HEAD = '''"""{doc}

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down_repr}
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''

# a note column: renders offline like any revision
NOTE = '    op.add_column("items", sa.Column("note", sa.String(20)))'
# reads the database, then builds its DDL from what it read: `alembic upgrade --sql` cannot run it
READS_FIRST = (
    '    top = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM items")).scalar()\n'
    '    op.create_index(f"ix_items_qty_{int(top or 0)}", "items", ["qty"])'
)
# what each database's third revision does, and what the copy must show for it
THIRD = {
    "sqlite": (  # Alembic's batch mode: a new table, every row copied, the old one dropped, renamed
        '    with op.batch_alter_table("tags", recreate="always") as batch:\n'
        '        batch.alter_column("name", type_=sa.String(80))'
    ),
    "postgresql": (
        '    op.execute("ALTER TABLE tags ADD COLUMN stamp timestamptz DEFAULT clock_timestamp()")\n'
        '    op.execute("CREATE FUNCTION ss_touch() RETURNS void LANGUAGE plpgsql AS $$ '
        'BEGIN ALTER TABLE logs ADD COLUMN touched integer; END $$")\n'
        '    op.execute("SELECT ss_touch()")  # an ALTER TABLE the text does not show\n'
        "    with op.get_context().autocommit_block():\n"
        '        op.create_index("ix_logs_body", "logs", ["body"], postgresql_concurrently=True)'
    ),
    "mysql": (  # the lint guesses an instant ADD COLUMN; MariaDB numbers every row in a copy
        '    op.execute("ALTER TABLE logs ADD COLUMN seq INTEGER AUTO_INCREMENT UNIQUE")'
    ),
}


def alembic_plan(folder: Path, kind: str, extra: str = "", *, third: bool = True) -> Path:
    """``alembic init`` (its env.py builds its own engine from the URL safeshift sets) and the revisions."""
    ini = folder / "alembic.ini"
    folder.mkdir(parents=True)
    command.init(Config(str(ini)), str(folder / "migrations"))
    versions = folder / "migrations" / "versions"
    revisions = [("0001", "a note", NOTE), ("0002", "reads first", READS_FIRST)]
    if third:
        revisions.append(("0003", f"{kind} specifics", THIRD[kind]))
    down: str | None = None
    for rev, doc, body in revisions:
        text = HEAD.format(doc=doc, rev=rev, down=down or "", down_repr=repr(down), body=body)
        (versions / f"{rev}.py").write_text(text)
        down = rev
    plan = folder / "safeshift.toml"
    plan.write_text(
        '[database]\nurl = "${SS_ITEMS_URL}"\n\n[migration]\nengine = "alembic"\nconfig = "alembic.ini"\n\n'
        f'[backup]\nverify = "scan"\n{extra}'
    )
    return plan


@pytest.fixture
def db(items_db: ItemsDb) -> ItemsDb:
    """items (200 rows) and two small tables, logs and tags."""
    engine = get_dialect(items_db.url).create_engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE logs (id INTEGER PRIMARY KEY, body VARCHAR(40))")
            conn.exec_driver_sql("CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(40))")
            conn.execute(sa.text("INSERT INTO logs (id, body) VALUES (:i, 'x')"), [{"i": i} for i in range(1, 31)])
            conn.execute(sa.text("INSERT INTO tags (id, name) VALUES (:i, 't')"), [{"i": i} for i in range(1, 31)])
    finally:
        engine.dispose()
    return items_db


def copies(db: ItemsDb) -> set[str]:
    """The scratch databases named after ``db`` on its server (others' come and go meanwhile)."""
    if db.kind == "sqlite":
        return set()
    return {name for name in server_databases(db.kind) if name.startswith(f"{db.url.database}_safeshift_")}


def lint_cli(plan: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--json", *args])
    return result.exit_code, json.loads(result.stdout), result.stderr


def ran(data: dict[str, Any], fragment: str) -> dict[str, Any]:
    """The observed statement whose SQL holds ``fragment``."""
    return next(s for s in data["observed"]["statements"] if fragment in " ".join(s["sql"].split()))


def modes(statement: dict[str, Any]) -> dict[str, str]:
    return {lock["relation"]: lock["mode"] for lock in statement["observed"]}


def assert_untouched(db: ItemsDb, plan: Path) -> None:
    """The real database: no revision, no new column or index; no copy left anywhere."""
    assert "alembic_version" not in table_names(db.url) or query(db.url, "SELECT * FROM alembic_version") == []
    assert column_names(db.url, "items") == {"id", "qty"}
    assert column_names(db.url, "logs") == {"id", "body"} and column_names(db.url, "tags") == {"id", "name"}
    assert copies(db) == set(), "a scratch copy was left on the server"
    assert not [p for p in plan.parent.rglob("*") if "scratch" in p.name], "a scratch file was left"


def test_lint_observe_lints_what_ran_with_the_locks_it_took(db: ItemsDb, tmp_path: Path) -> None:
    plan = alembic_plan(tmp_path / "p", db.kind, '\n[lint]\nfail_on = "warning"\nmedium_table_rows = 20\n')

    # rendered offline, revision 0002 cannot be linted: named, an error
    code, plain, _ = lint_cli(plan)
    assert code == ExitCode.CHECKS_FAILED
    assert [f["message"] for f in plain["findings"] if f["code"] == "SS094"][0].startswith("revision 0002 could not be rendered")
    assert plain["observed"] is None

    code, data, err = lint_cli(plan, "--observe")
    assert err == "" and data["source"] == "alembic base→0003"
    assert "SS094" not in {f["code"] for f in data["findings"]}  # linted from what ran
    index = ran(data, "CREATE INDEX ix_items_qty_0 ON items (qty)")  # built from a read on the copy
    linted = [s for s in data["statements"] if s["index"] == index["index"]]
    assert [s["kind"] for s in linted] == ["CREATE INDEX"] and linted[0]["table"] == "items"
    if db.kind != "mysql":  # MariaDB builds a plain index online
        assert {f["code"] for f in linted[0]["findings"]} & {"SS001", "squawk:require-concurrent-index-creation"}
    note = ran(data, "ALTER TABLE items ADD COLUMN note")
    if db.kind == "postgresql":
        assert modes(note) == {"items": "ACCESS EXCLUSIVE"} and note["rewrote"] == []
        assert modes(index) == {"items": "SHARE"} and index["declared"] == "SHARE"
        volatile = ran(data, "ADD COLUMN stamp timestamptz DEFAULT clock_timestamp()")
        assert modes(volatile)["tags"] == "ACCESS EXCLUSIVE" and volatile["rewrote"] == ["tags"]
        hidden = ran(data, "SELECT ss_touch()")
        assert hidden["declared"] == "ACCESS SHARE" and modes(hidden) == {"logs": "ACCESS EXCLUSIVE"}
        assert [(f["code"], f["table"], f["severity"]) for f in hidden["findings"]] == [("SS097", "logs", "warning")]
        concurrently = ran(data, "CREATE INDEX CONCURRENTLY ix_logs_body")
        assert concurrently["observed"] == [] and "released before they could be read" in concurrently["note"]
    elif db.kind == "mysql":
        assert modes(note) == {"items": "instant"} and modes(index) == {"items": "inplace"}
        numbered = ran(data, "ADD COLUMN seq INTEGER AUTO_INCREMENT UNIQUE")
        assert "instant" in numbered["declared"] and modes(numbered) == {"logs": "copy"}
        assert [(f["code"], f["table"]) for f in numbered["findings"]] == [("SS097", "logs")]
    else:
        assert modes(note) == modes(index) == {"(database)": "database write lock"}
        rebuilt = [s for s in data["observed"]["statements"] if s["rewrote"]]
        assert [s["rewrote"] for s in rebuilt] == [["tags"]] and "RENAME TO tags" in rebuilt[0]["sql"]
        assert any(f["code"] == "SS002" and f["table"] == "tags" for f in data["findings"])  # the rebuild was declared
        assert not [f for f in data["findings"] if f["code"] == "SS097"]
    assert code == ExitCode.CHECKS_FAILED and data["blocking"] >= 1  # fail_on = "warning"
    assert_untouched(db, plan)


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_the_human_view_shows_each_statement_declared_and_observed(db: ItemsDb, tmp_path: Path) -> None:
    plan = alembic_plan(tmp_path / "p", db.kind, third=db.kind == "postgresql")
    result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--observe"], env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.OK, result.output
    out = result.stdout
    assert "observed on a schema-only copy" in out and "CREATE INDEX ix_items_qty_0" in out
    if db.kind == "postgresql":
        assert "SS097" in out and "ACCESS EXCLUSIVE on logs" in out


def test_lint_observe_errors_are_one_line_exit_2(items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = alembic_plan(tmp_path / "p", items_db.kind, third=False)
    sql = tmp_path / "m.sql"
    sql.write_text("CREATE INDEX ix ON items (qty);\n")
    result = CliRunner().invoke(app, ["lint", str(sql), "--plan", str(plan), "--observe"])
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip().splitlines()[-1].endswith("--observe: lints the plan's pending migration; SQL files are linted as given")
    if items_db.kind == "sqlite":
        # a migration that fails on the copy: named, and the real database untouched
        failing = plan.parent / "migrations" / "versions" / "0002.py"
        failing.write_text(failing.read_text().replace("    top = ", "    op.execute('SELECT * FROM nope')\n    top = "))
        result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--observe"])
        assert result.exit_code == ExitCode.USAGE and len(result.stderr.strip().splitlines()) == 1
        assert "lint --observe: the migration failed on a schema-only copy (no rows): " in result.stderr
        assert "no such table: nope" in result.stderr and column_names(items_db.url, "items") == {"id", "qty"}
        monkeypatch.setenv("SS_ITEMS_URL", "sqlite://")  # a database with nothing to copy from
        result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--observe"])
        assert result.exit_code == ExitCode.USAGE and "Traceback" not in result.output
        assert "lint --observe: cannot make a schema-only copy to observe on" in " ".join(result.stderr.split())
    else:  # no server at that address
        monkeypatch.setenv("SS_ITEMS_URL", items_db.url.set(port=1).render_as_string(hide_password=False))
        result = CliRunner().invoke(app, ["lint", "--plan", str(plan), "--observe"])
        assert result.exit_code == ExitCode.USAGE and "cannot connect to" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_the_dry_run_observes_and_stops_on_an_observed_lock_above_fail_on(db: ItemsDb, tmp_path: Path) -> None:
    """No post-checks: validate makes the copy for the observation alone; the dry run shows it."""
    dry = api.run_plan(alembic_plan(tmp_path / "p", db.kind, '\n[lint]\ndisable = ["SS094"]\n', third=False), dry_run=True)
    assert dry.outcome == "planned", dry.message
    assert dry.observed is not None and dry.observed.where == "a schema-only copy"
    assert any("CREATE INDEX ix_items_qty_0" in s.sql for s in dry.observed.statements)
    validate = next(s for s in dry.statements if s.phase == "validate")
    assert "observed there" in validate.what
    if db.kind == "postgresql":
        # what the preflight lint sees in the text is accepted; the ALTER TABLE inside ss_touch() is not in it
        accepted = '"SS094", "SS001", "SS002", "squawk:require-concurrent-index-creation", "squawk:adding-field-with-default"'
        strict = f"\n[lint]\ndisable = [{accepted}]\nlarge_table_rows = 20\nmedium_table_rows = 10\n"
        blocked = api.run_plan(alembic_plan(tmp_path / "q", db.kind, strict), dry_run=True)
        assert blocked.outcome == "blocked" and blocked.exit_code == ExitCode.CHECKS_FAILED, blocked.message
        assert blocked.message.startswith("lint of what ran on a schema-only copy: SS097 error on "), blocked.message
        assert blocked.observed is not None
        found = {(f.table, f.message.split(" [")[0]) for f in blocked.observed.blocking}
        assert found == {
            ("logs", "observed ACCESS EXCLUSIVE on logs, though the lint declared ACCESS SHARE for this SELECT"),
            # its rule disabled, the volatile default's rewrite is no longer declared: observed, it counts again
            ("tags", "rewrote tags: every row was copied into new storage, which the lint did not flag"),
        }
        assert [p.name for p in blocked.phases] == ["preflight", "validate"]
        assert blocked.phases[-1].status == "blocked" and blocked.phases[-1].detail["observed"]["blocking"] == 2
    assert "alembic_version" not in table_names(db.url)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_observation_can_be_turned_off_and_a_copy_that_fails_is_not_a_stop(items_db: ItemsDb, tmp_path: Path) -> None:
    off = api.run_plan(alembic_plan(tmp_path / "p", "sqlite", '\n[lint]\nobserve = false\ndisable = ["SS094"]\n', third=False), dry_run=True)
    assert off.outcome == "planned" and off.observed is None and "validate" not in [p.name for p in off.phases]
    # a migration that fails on empty tables: recorded as not observed, the dry run goes on
    plan = alembic_plan(tmp_path / "q", "sqlite", '\n[lint]\ndisable = ["SS094"]\n', third=False)
    failing = plan.parent / "migrations" / "versions" / "0002.py"
    failing.write_text(failing.read_text().replace("    top = ", "    assert op.get_bind().execute(sa.text('SELECT COUNT(*) FROM items')).scalar()\n    top = "))
    dry = api.run_plan(plan, dry_run=True)
    assert dry.outcome == "planned", dry.message
    assert dry.observed is not None and dry.observed.skipped and "the migration failed" in dry.observed.skipped


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_run_and_its_rehearsal_report_what_they_observed(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = alembic_plan(tmp_path / "p", "sqlite", '\n[lint]\ndisable = ["SS094"]\n', third=False)
    result = api.run_plan(plan, rehearse=True)
    assert result.outcome == "succeeded", result.message
    assert result.observed is not None and result.rehearsal is not None and result.rehearsal.observed is not None
    on_copy = [s.sql for s in result.rehearsal.observed.statements]
    assert any("CREATE INDEX ix_items_qty_200" in sql for sql in on_copy)  # the copy has the rows: 200
    report = Path(result.report_md or "").read_text()
    assert "## Observed locks (a schema-only copy)" in report and "## Observed locks (the rehearsal's copy)" in report
    assert "Observed locks on the rehearsal" in Path(result.report_html or "").read_text()
    saved = json.loads((Path(result.report_md or "").parent / "report.json").read_text())
    assert saved["observed"]["statements"] and saved["rehearsal"]["observed"]["statements"]


# -- the pure parts: a captured statement made readable, an observation judged ---------------------


@pytest.mark.parametrize(
    ("statement", "parameters", "paramstyle", "dialect", "expected"),
    [
        ("UPDATE v SET n=%(n)s WHERE n = %(n_1)s", {"n": "0002", "n_1": "0001"}, "pyformat", "postgresql",
         "UPDATE v SET n='0002' WHERE n = '0001'"),
        ("SELECT %s, 'a%%b'", ("it's",), "format", "mysql", "SELECT 'it''s', 'a%b'"),
        ("INSERT INTO t VALUES (?, ?, ?)", (1, None, b"\x01"), "qmark", "sqlite", "INSERT INTO t VALUES (1, NULL, X'01')"),
        ("SELECT '?' , ?", (True,), "qmark", "sqlite", "SELECT '?' , 1"),  # a ? in a string is no placeholder
        ("SELECT :a::text, ':b'", {"a": "x"}, "named", "postgresql", "SELECT 'x'::text, ':b'"),
        ("UPDATE t SET a = %(a)s", [{"a": 1}, {"a": 2}], "pyformat", "postgresql", "UPDATE t SET a = 1"),  # executemany
        ("SELECT %(missing)s", {}, "pyformat", "postgresql", "SELECT %(missing)s"),  # does not fit: as it ran
        ("SELECT 1", None, "qmark", "sqlite", "SELECT 1"),
    ],
)
def test_parameters_are_written_in_for_reading(statement: str, parameters: Any, paramstyle: str, dialect: str, expected: str) -> None:
    from safeshift.lint.observed import inline_parameters

    assert inline_parameters(statement, parameters, paramstyle, dialect) == expected


def test_an_observation_is_a_finding_only_when_it_blocks_more_than_declared() -> None:
    from safeshift.dialects.observe import HeldLock, Seen
    from safeshift.lint import LintSettings, TableSize, lint_and_annotate

    sizes = {"big": TableSize(rows=5_000_000), "small": TableSize(rows=10)}
    statements = [
        "SELECT rebuild_big()",  # 0: a function that locks: stronger than declared, on a big table
        "UPDATE small SET a = 1 WHERE id = 1",  # 1: as declared
        "ALTER TABLE big SET LOGGED",  # 2: a rewrite (the table is copied into WAL-logged storage) no rule of ours flags
        "ALTER TABLE big ALTER COLUMN a TYPE bigint",  # 3: a rewrite SS002 flags: declared
        "CREATE INDEX ix_new ON fresh (a)",  # 4: a table the live database does not have
        "-- safeshift: allow SS097 because the window is quiet\nSELECT other()",  # 5: suppressed
    ]
    seen = {
        0: Seen(locks=[HeldLock("big", "ACCESS EXCLUSIVE", "big")]),
        1: Seen(locks=[HeldLock("small", "ROW EXCLUSIVE", "small")]),
        2: Seen(locks=[HeldLock("big", "ACCESS EXCLUSIVE", "big")], rewrote=["big"]),
        3: Seen(locks=[HeldLock("big", "ACCESS EXCLUSIVE", "big")], rewrote=["big"]),
        4: Seen(locks=[HeldLock("fresh", "SHARE", "fresh")]),
        5: Seen(locks=[HeldLock("big_pkey", "ACCESS EXCLUSIVE", "big")]),
    }
    findings, _ = lint_and_annotate(statements, "postgresql", sizes, observed=seen, use_squawk=False)
    observed = [(f.statement, f.table, f.severity, f.suppressed) for f in findings if f.code == "SS097"]
    assert observed == [(0, "big", "error", False), (2, "big", "error", False), (5, "big", "error", True)]
    assert "observed ACCESS EXCLUSIVE on big, though the lint declared ACCESS SHARE for this SELECT" in findings[0].message
    assert not [f for f in findings if f.code == "SS091"]  # the allow comment was used
    disabled = LintSettings(disable=frozenset({"SS097"}))
    findings, _ = lint_and_annotate(statements, "postgresql", sizes, observed=seen, use_squawk=False, settings=disabled)
    assert not [f for f in findings if f.code == "SS097"]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_justification_written_for_the_rendered_sql_covers_what_ran(db: ItemsDb, tmp_path: Path) -> None:
    """Alembic writes a comment in offline mode only: the suppression still covers the statement
    run on the copy, and an allow naming SS097 is not 'unused' where nothing is observed."""
    plan = alembic_plan(tmp_path / "p", "sqlite", '\n[lint]\nfail_on = "warning"\nmedium_table_rows = 20\n', third=False)
    justified = plan.parent / "migrations" / "versions" / "0001.py"
    justified.write_text(justified.read_text().replace(
        NOTE,
        "    from alembic import context\n"
        "    if context.is_offline_mode():\n"
        '        op.execute("-- safeshift: allow SS001 SS097 because the window is quiet")\n'
        '    op.create_index("ix_items_id_qty", "items", ["id", "qty"])',
    ))
    code, data, _ = lint_cli(plan, "--observe")
    index = ran(data, "CREATE INDEX ix_items_id_qty")
    covered = [f for f in data["findings"] if f["statement"] == index["index"]]
    assert [(f["code"], f["suppressed"], f["reason"]) for f in covered] == [("SS001", True, "the window is quiet")]
    assert not [f for f in data["findings"] if f["code"] in ("SS090", "SS091")]
    _, plain, _ = lint_cli(plan)  # rendered offline: the SS097 part waits for an observation, not unused
    assert not [f for f in plain["findings"] if f["code"] == "SS091"], plain["findings"]
    assert code == ExitCode.CHECKS_FAILED  # the unjustified index of 0002 still counts


@pytest.mark.parametrize("db_kind", ["mysql"])
def test_the_replay_copy_is_made_only_for_a_statement_the_server_can_be_asked_about(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MariaDB is asked on a second schema-only copy; a migration with no ALTER TABLE or
    CREATE/DROP INDEX needs none (every run pays for it otherwise)."""
    from helpers import items_plan
    from safeshift.run import observe

    labels: list[str] = []
    real = observe.schema_copy

    def counting(ctx: Any, label: str, folder: Path | None = None) -> Any:
        labels.append(label)
        return real(ctx, label, folder)

    monkeypatch.setattr(observe, "schema_copy", counting)
    plain = api.run_plan(items_plan(tmp_path / "plain"), dry_run=True)  # CREATE TABLE extra: nothing to ask
    assert plain.outcome == "planned" and plain.observed is not None, plain.message
    assert "replay" not in labels
    assert all(s.note == observe.NOT_ASKED for s in plain.observed.statements if "CREATE TABLE" in s.sql)
    indexed = items_plan(tmp_path / "indexed")
    up = indexed.parent / "migrations" / "0001_extra.up.sql"
    up.write_text(up.read_text() + "\nCREATE INDEX ix_items_qty ON items (qty);\n")
    down = indexed.parent / "migrations" / "0001_extra.down.sql"
    down.write_text("DROP INDEX ix_items_qty ON items;\n" + down.read_text())
    asked = api.run_plan(indexed, dry_run=True)
    assert asked.outcome == "planned" and asked.observed is not None, asked.message
    assert "replay" in labels
    index = next(s for s in asked.observed.statements if "CREATE INDEX" in s.sql)
    assert [lock.mode for lock in index.locks] == ["inplace"], index
