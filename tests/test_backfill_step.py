"""``[[migration.backfill]]``: a plan step that backfills between two revisions.

A small expand → backfill → contract migration (SQL files, and the same with Alembic):
0001 adds a nullable ``items.score``, the plan's backfill fills it in committed batches,
0002 indexes it (and on PostgreSQL/MariaDB makes it NOT NULL, which would fail had the
backfill not run first). Every test reopens the database to check what is really there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from helpers import ITEMS_URL_ENV, ItemsDb, drop_scratch, require_server, scratch_url
from safeshift.backfill import MemoryCheckpoints, run_backfill_step
from safeshift.backfill.step import batch_sql
from safeshift.cli.app import app
from safeshift.config.models import BackfillStep
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError, ExitCode
from safeshift.faults import EXIT_CODE
from safeshift.journal import read_journal
from safeshift.loading import load_plan
from safeshift.migrators.sqlfiles import VERSION_TABLE
from safeshift.run import RunResult, resume_run, run_plan

ROWS = 1000
BATCH = 25  # keys per batch, fixed (max_batch_size too): ROWS / BATCH = 40 batches
NAME = "items:score"  # the step's default name: table:columns
URL_ENV = ITEMS_URL_ENV  # the plan reads the items_db fixture's database from it

SQL_FILES = {
    "0001_add_score.up.sql": "ALTER TABLE items ADD COLUMN score INTEGER;\n",
    "0001_add_score.down.sql": "ALTER TABLE items DROP COLUMN score;\n",
    "0002_score_index.up.sql": "CREATE INDEX items_score ON items (score);\n",
    "0002_score_index.down.sql": "DROP INDEX items_score;\n",
    # the contract step: NOT NULL fails while a single row is still NULL
    "postgresql/0002_score_index.up.sql": (
        "ALTER TABLE items ALTER COLUMN score SET NOT NULL;\nCREATE INDEX items_score ON items (score);\n"
    ),
    "postgresql/0002_score_index.down.sql": "DROP INDEX items_score;\nALTER TABLE items ALTER COLUMN score DROP NOT NULL;\n",
    "mysql/0002_score_index.up.sql": "ALTER TABLE items MODIFY score INTEGER NOT NULL;\nCREATE INDEX items_score ON items (score);\n",
    "mysql/0002_score_index.down.sql": "DROP INDEX items_score ON items;\nALTER TABLE items MODIFY score INTEGER NULL;\n",
}

ALEMBIC_ENV = '''
from alembic import context

config = context.config
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      dialect_opts={"paramstyle": "named"}, transaction_per_migration=True)
else:
    context.configure(connection=config.attributes["connection"], transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
'''
ALEMBIC_REVISIONS = {
    "0001_add_score.py": '''
"""add a nullable items.score"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0001", None, None, None


def upgrade():
    op.add_column("items", sa.Column("score", sa.Integer, nullable=True))


def downgrade():
    op.drop_column("items", "score")
''',
    "0002_score_index.py": '''
"""index items.score (NOT NULL first on PostgreSQL and MariaDB)"""
import sqlalchemy as sa
from alembic import op

revision, down_revision, branch_labels, depends_on = "0002", "0001", None, None


def upgrade():
    if op.get_context().dialect.name != "sqlite":
        op.alter_column("items", "score", existing_type=sa.Integer, nullable=False)
    op.create_index("items_score", "items", ["score"])


def downgrade():
    op.drop_index("items_score", table_name="items")
    if op.get_context().dialect.name != "sqlite":
        op.alter_column("items", "score", existing_type=sa.Integer, nullable=True)
''',
}

STEP = f"""
[[migration.backfill]]
after = "0001"
table = "items"
set = {{ score = "qty * 2" }}
where = "score IS NULL"
batch_size = {BATCH}
max_batch_size = {BATCH}
target_batch_seconds = 10.0
"""


def plan_text(engine: str = "sql", steps: str = STEP, extra: str = "") -> str:
    migration = 'engine = "sql"\ndirectory = "migrations"' if engine == "sql" else 'engine = "alembic"\nconfig = "alembic.ini"'
    return f"""
[database]
url = "${{{URL_ENV}}}"

[migration]
{migration}
{steps}
[backup]
verify = false

[[checks.post]]
kind = "no_nulls"
column = "items.score"

[[checks.post]]
name = "every score is twice the quantity"
kind = "sql"
query = "SELECT COUNT(*) FROM items WHERE score <> qty * 2"
expect = "== 0"
{extra}"""


def write_plan(folder: Path, text: str, engine: str = "sql") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if engine == "sql":
        for rel, sql in SQL_FILES.items():
            path = folder / "migrations" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sql)
    else:
        versions = folder / "alembic" / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        (folder / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
        (folder / "alembic" / "env.py").write_text(ALEMBIC_ENV)
        for name, source in ALEMBIC_REVISIONS.items():
            (versions / name).write_text(source)
    plan = folder / "safeshift.toml"
    plan.write_text(text)
    return plan


def read_state(db: ItemsDb) -> dict[str, Any]:
    """What is really in the database, read on a fresh connection."""
    engine = get_dialect(db.url).create_engine()
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            tables = sorted(insp.get_table_names())
            columns = {c["name"]: c for c in insp.get_columns("items")}
            state: dict[str, Any] = {
                "tables": tables,
                "columns": sorted(columns),
                "indexes": sorted(str(i["name"]) for i in insp.get_indexes("items")),
                "rows": conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar(),
            }
            if "score" in columns:
                state["score_nullable"] = columns["score"]["nullable"]
                state["filled"] = conn.execute(sa.text("SELECT COUNT(*) FROM items WHERE score IS NOT NULL")).scalar()
                state["wrong"] = conn.execute(sa.text("SELECT COUNT(*) FROM items WHERE score <> qty * 2")).scalar()
            for table, column in ((VERSION_TABLE, "version"), ("alembic_version", "version_num")):
                if table in tables:
                    state["revision"] = conn.execute(sa.text(f"SELECT MAX({column}) FROM {table}")).scalar()
            return state
    finally:
        engine.dispose()


@pytest.fixture
def items_rows() -> int:
    return ROWS  # the items_db fixture's size here


def phase(result: RunResult, name: str) -> Any:
    return [p for p in result.phases if p.name == name][-1]


def run_dir(workdir: Path) -> Path:
    return next((workdir / ".safeshift" / "runs").iterdir())


def checkpoints(folder: Path) -> list[dict[str, Any]]:
    return [e for e in read_journal(folder / "journal.jsonl") if e.get("event") == f"backfill:{NAME}"]


def cli(plan: Path, workdir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safeshift.cli", *args, "--plan", str(plan), "--workdir", str(workdir), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )


# -- (a) a run with a backfill between two revisions ------------------------------------------
@pytest.mark.parametrize("engine", ["sql", "alembic"])
def test_run_backfills_between_revisions(engine: str, items_db: ItemsDb, tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path / "plan", plan_text(engine), engine))
    workdir = tmp_path / "w"
    result = run_plan(plan, workdir=workdir)
    assert result.outcome == "succeeded", result.message
    assert result.exit_code == ExitCode.OK

    state = read_state(items_db)
    assert state["revision"] == "0002"
    assert (state["rows"], state["filled"], state["wrong"]) == (ROWS, ROWS, 0)
    assert "items_score" in state["indexes"]
    if items_db.kind != "sqlite":
        assert state["score_nullable"] is False  # 0002's NOT NULL ran after the backfill, not before

    done = phase(result, "apply").detail["backfills"]
    assert [b["name"] for b in done] == [NAME]
    assert done[0]["rows"] == ROWS
    assert done[0]["batches"] >= ROWS // BATCH
    assert done[0]["resumed_from"] is None and done[0]["rows_per_s"] > 0
    assert done[0]["attempt"] == 1
    sql_engine = get_dialect(items_db.url).create_engine()
    try:  # what the dry run shows is what ran (there with :name parameters)
        assert done[0]["sql"] == batch_sql(plan.migration.backfill[0], sql_engine.dialect)
    finally:
        sql_engine.dispose()
    assert phase(result, "preflight").detail["backfill_steps"] == [
        {"name": NAME, "after": "0001", "upgrade_first_to": "0001"}
    ]

    # the journal tells the order: 0001 applied, then the batches, then 0002
    folder = run_dir(workdir)
    events = read_journal(folder / "journal.jsonl")
    order = []
    for e in events:
        if e.get("phase") == "apply" and e.get("event") == "output" and engine == "sql":
            order += [Path(f["file"]).name for f in e["output"]["files"]]
        elif e.get("event") == f"backfill:{NAME}" and (not order or order[-1] != "backfill"):
            order.append("backfill")
    if engine == "sql":
        assert order == ["0001_add_score.up.sql", "backfill", "0002_score_index.up.sql"]
    marks = checkpoints(folder)
    assert marks[-1]["done"] is True and marks[-1]["rows_done"] == ROWS
    report = json.loads((folder / "report.json").read_text())
    apply = next(p for p in report["phases"] if p["name"] == "apply")
    assert apply["detail"]["backfills"][0]["rows"] == ROWS
    assert "## Backfills" in (folder / "report.md").read_text()


def test_rehearsal_backfills_the_copy_and_the_run_still_backfills_the_target(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path / "plan", plan_text()))
    result = run_plan(plan, workdir=tmp_path / "w", rehearse=True)
    assert result.outcome == "succeeded", result.message
    assert result.rehearsal.passed is True
    assert [(b["name"], b["rows"]) for b in result.rehearsal.backfills] == [(NAME, ROWS)]
    # the copy's checkpoints are its own: the target's backfill walked every row itself
    assert [(b["rows"], b["resumed_from"]) for b in phase(result, "apply").detail["backfills"]] == [(ROWS, None)]
    assert read_state(items_db)["filled"] == ROWS


def test_backfill_after_the_target_by_default(items_db: ItemsDb, tmp_path: Path) -> None:
    """Without ``after`` the backfill runs after the whole upgrade (0002 here indexes only on SQLite)."""
    steps = STEP.replace('after = "0001"\n', "")
    plan = load_plan(write_plan(tmp_path / "plan", plan_text(steps=steps)))
    if items_db.kind != "sqlite":  # NOT NULL in 0002 would fail before a backfill that runs after it
        result = run_plan(plan, workdir=tmp_path / "w")
        assert result.outcome == "rolled_back", result.message
        assert "0002_score_index.up.sql" in result.message
        assert "backfills" not in phase(result, "apply").detail
        return
    result = run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "succeeded", result.message
    assert read_state(items_db)["filled"] == ROWS
    assert phase(result, "preflight").detail["backfill_steps"][0]["after"] == "0002"


# -- (b) a bad plan is one line, exit 2, nothing changed --------------------------------------
@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (STEP.replace('"0001"', '"0009"'), "safeshift.toml: migration.backfill[0].after: no migration '0009'"),
        (
            STEP.replace('"0001"', '"0002"') + STEP.replace("where", 'name = "again"\nwhere'),
            "safeshift.toml: migration.backfill[1].after: '0001' comes before '0002' of backfill[0]",
        ),
    ],
    ids=["unknown-revision", "out-of-order"],
)
def test_bad_after_is_one_line_error_and_nothing_changes(steps: str, expected: str, items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    plan = load_plan(write_plan(tmp_path / "plan", plan_text(steps=steps)))
    result = run_plan(plan, workdir=tmp_path / "w")
    assert result.outcome == "blocked"
    assert result.exit_code == ExitCode.USAGE
    assert result.message.startswith(expected), result.message
    assert "\n" not in result.message
    assert read_state(items_db) == before
    assert not list((tmp_path / "w" / ".safeshift").glob("backups/*"))  # stopped in preflight


def test_bad_after_through_the_cli(items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    plan = write_plan(tmp_path / "plan", plan_text(steps=STEP.replace('"0001"', '"0009"')))
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "migration.backfill[0].after: no migration '0009'" in lines[0]
    assert "Traceback" not in result.output
    assert read_state(items_db) == before


@pytest.mark.parametrize(
    ("steps", "engine_keys", "expected"),
    [
        (STEP.replace("batch_size", "batchsize", 1), "", "safeshift.toml: migration.backfill[0].batchsize: unknown key"),
        (STEP.replace('set = { score = "qty * 2" }', ""), "", "safeshift.toml: migration.backfill[0].set: required key is missing"),
        (STEP + STEP.replace('"0001"', '"0002"'), "", "safeshift.toml: migration.backfill: [0] and [1] are both named 'items:score'"),
        (
            STEP,
            'engine = "command"\nup = "true"\ncurrent = "true"',
            "safeshift.toml: migration: backfill[0].after = '0001': engine 'command' applies the whole migration",
        ),
    ],
    ids=["stray-key", "missing-set", "same-name", "command-engine-after"],
)
def test_bad_step_is_one_line_config_error(steps: str, engine_keys: str, expected: str, tmp_path: Path) -> None:
    text = plan_text(steps=steps)
    if engine_keys:
        text = text.replace('engine = "sql"\ndirectory = "migrations"', engine_keys)
    path = write_plan(tmp_path / "plan", text)
    with pytest.raises(ConfigError) as info:
        load_plan(path)
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == ExitCode.USAGE


def test_stray_key_through_the_cli(items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    plan = write_plan(tmp_path / "plan", plan_text(steps=STEP.replace("where", "wehre")))
    result = CliRunner().invoke(app, ["run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == ["error: safeshift.toml: migration.backfill[0].wehre: unknown key"]
    assert read_state(items_db) == before


def test_step_name_after_and_command_engine_after_the_target(tmp_path: Path) -> None:
    step = BackfillStep.model_validate({"table": "items", "set": {"score": "1", "label": "'x'"}, "after": "0001"})
    assert step.label == "items:score,label"
    assert BackfillStep.model_validate({"table": "t", "set": {"c": "1"}, "name": "mine"}).label == "mine"
    # the command engine takes a backfill after its one `up` (no after, or the target itself)
    text = plan_text(steps=STEP.replace('"0001"', '"head"')).replace(
        'engine = "sql"\ndirectory = "migrations"', 'engine = "command"\nup = "true"\ncurrent = "true"'
    )
    assert load_plan(write_plan(tmp_path / "plan", text)).migration.backfill[0].after == "head"


def test_after_is_ignored_by_run_backfill_step(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, score INTEGER)"))
        conn.execute(sa.text("INSERT INTO items (id, qty) VALUES (1, 2), (2, 3)"))
    store = MemoryCheckpoints()
    result = run_backfill_step(engine, {"table": "items", "set": {"score": "qty * 2"}, "after": "0042"}, checkpoints=store)
    assert (result.name, result.rows) == (NAME, 2)
    assert store.saved[NAME].done is True


# -- (c) killed mid-backfill, then resumed --------------------------------------------------
def test_killed_mid_backfill_resumes_without_redoing_rows(items_db: ItemsDb, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan", plan_text())
    workdir = tmp_path / "w"
    killed = cli(path, workdir, "run", env={**items_db.env, "SAFESHIFT_FAULT": f"backfill:{NAME}:batch:5"})
    assert killed.returncode == EXIT_CODE, killed.stdout[-2000:] + killed.stderr[-2000:]

    folder = run_dir(workdir)
    before = checkpoints(folder)
    done_before, last_key = before[-1]["rows_done"], before[-1]["last_key"]
    assert before[-1]["batches"] == 5 and done_before == 5 * BATCH
    state = read_state(items_db)  # what the dead run left: 0001 applied, exactly the checkpointed rows filled
    assert state["revision"] == "0001"
    assert state["filled"] == done_before and state["wrong"] == 0

    result = resume_run(load_plan(path), folder.name, workdir=workdir)
    assert result.outcome == "succeeded", result.message
    assert result.exit_code == ExitCode.OK
    assert all(c.passed for c in result.checks if c.phase == "post")
    resumed = phase(result, "apply").detail["backfills"][0]
    assert resumed["resumed_from"] == last_key
    assert resumed["rows"] + done_before == ROWS  # the rows done before the kill were not done again
    after = checkpoints(folder)[len(before):]
    assert after[0]["batches"] == 6 and after[-1]["done"] is True and after[-1]["rows_done"] == ROWS

    state = read_state(items_db)
    assert state["revision"] == "0002"
    assert (state["filled"], state["wrong"]) == (ROWS, 0)
    if items_db.kind != "sqlite":
        assert state["score_nullable"] is False


@pytest.mark.slow
def test_ctrl_c_mid_backfill_rolls_back(items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    path = write_plan(tmp_path / "plan", plan_text())
    interrupted = cli(path, tmp_path / "w", "run", env={**items_db.env, "SAFESHIFT_FAULT": f"backfill:{NAME}:batch:3:sigint"})
    result = json.loads(interrupted.stdout)
    assert interrupted.returncode == ExitCode.ROLLED_BACK, result["message"]
    assert result["rollback"]["proof"]["equal"] is True
    assert read_state(items_db) == before


# -- (d) the dry run shows the batch UPDATE in its place, and changes nothing --------------------
def test_dry_run_shows_the_batch_update_between_the_revisions(items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    plan = load_plan(write_plan(tmp_path / "plan", plan_text()))
    result = run_plan(plan, dry_run=True, workdir=tmp_path / "w")
    assert result.outcome == "planned", result.message
    apply = [s for s in result.statements if s.phase == "apply"]
    texts = [s.sql or "" for s in apply]
    add = next(i for i, t in enumerate(texts) if "ADD COLUMN score" in t)
    update = next(i for i, t in enumerate(texts) if t.startswith("UPDATE items"))
    index = next(i for i, t in enumerate(texts) if "CREATE INDEX items_score" in t)
    assert add < update < index
    assert texts[update] == (
        "UPDATE items SET score=(qty * 2) WHERE items.id > :ss_lo AND items.id <= :ss_hi AND score IS NULL"
    )
    assert apply[update].what.startswith(f"backfill {NAME} after 0001")
    assert read_state(items_db) == before


def test_dry_run_through_the_cli(items_db: ItemsDb, tmp_path: Path) -> None:
    before = read_state(items_db)
    plan = write_plan(tmp_path / "plan", plan_text(engine="alembic"), engine="alembic")
    result = CliRunner().invoke(app, ["run", "--dry-run", "--plan", str(plan), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "UPDATE items SET score=(qty * 2) WHERE items.id > :ss_lo AND items.id <= :ss_hi AND score IS NULL" in out
    assert out.index("ADD COLUMN score") < out.index("UPDATE items SET") < out.index("CREATE INDEX items_score")
    assert "planned: dry run: nothing was changed" in out
    assert read_state(items_db) == before


# -- a lock timeout after a backfill retries the rest, not the whole run -------------------------
@pytest.mark.server
def test_lock_timeout_after_a_backfill_is_retried_from_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_server("postgresql")
    url = scratch_url("postgresql", tmp_path, prefix="ss_bfstep")
    try:
        engine = get_dialect(url).create_engine()
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)"))
            conn.execute(sa.text("INSERT INTO items (id, qty) SELECT g, g % 97 FROM generate_series(1, :n) g"), {"n": ROWS})
        monkeypatch.setenv(URL_ENV, url.render_as_string(hide_password=False))
        extra = "\n[apply]\nlock_timeout = 0.2\nretries = 2\nretry_backoff = 1.0\n"
        # the step's own, longer lock timeout must not carry over to 0002's DDL
        steps = STEP + "lock_timeout_s = 30.0\n"
        plan = load_plan(write_plan(tmp_path / "plan", plan_text(steps=steps, extra=extra)))
        holder = engine.connect()

        class TakeLockAtTheEnd:
            """When the backfill has done every row, another session locks items for 0.5 s."""

            taken = False

            def phase_started(self, name: str) -> None: ...
            def phase_finished(self, phase: Any) -> None: ...

            def progress(self, task: str, done: int, total: int | None) -> None:
                if task == f"backfill {NAME}" and done >= ROWS and not self.taken:
                    self.taken = True
                    holder.execute(sa.text("LOCK TABLE items IN ACCESS SHARE MODE"))
                    threading.Timer(0.5, holder.rollback).start()

        result = run_plan(plan, workdir=tmp_path / "w", observer=TakeLockAtTheEnd())
        holder.close()
        assert result.outcome == "succeeded", result.message
        apply = phase(result, "apply").detail
        assert apply["attempts"] == 2 and len(apply["lock_waits"]) == 1
        # the retry went on from where the lock timeout struck: the backfill was not walked again
        first, retry = apply["backfills"]
        assert (first["attempt"], first["rows"]) == (1, ROWS)
        assert (retry["attempt"], retry["rows"], retry["resumed_from"]) == (2, 0, ROWS)
        engine.dispose()
        assert read_state(ItemsDb("postgresql", url, {}))["filled"] == ROWS
    finally:
        drop_scratch("postgresql", url)
