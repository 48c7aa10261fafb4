"""safeshift.backfill on every database: same result as one set-based UPDATE, batch sizes that
follow the target time, checkpoints that survive a crash (in-process and a killed process),
the throttle, and PostgreSQL's plan warning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from safeshift.backfill import (
    BackfillError,
    BackfillProgress,
    Checkpoint,
    FileCheckpoints,
    JournalCheckpoints,
    Load,
    MemoryCheckpoints,
    Throttle,
    backfill,
    backfill_context,
    run_backfill_step,
    server_load,
)
from safeshift.faults import EXIT_CODE
from safeshift.journal import Journal
from safeshift.run.recovery import read_run

ROWS = 3000
md = sa.MetaData()
groups = sa.Table(
    "groups_",
    md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.Integer, nullable=False),  # unindexed on purpose: the EXPLAIN test
    sa.Column("label", sa.String(20), nullable=False),
)
items = sa.Table(
    "items",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("grp", sa.Integer, nullable=False),
    sa.Column("label", sa.String(20), nullable=True),
    sa.Column("expected", sa.String(20), nullable=True),
    sa.Column("touched", sa.Integer, nullable=False, server_default="0"),
)


def fill(engine: Engine, rows: int = ROWS) -> list[int]:
    """Items with gaps in their ids (every 7th id missing, and a jump), each in a group."""
    ids = [i for i in range(1, rows + 1) if i % 7] + [rows * 100 + i for i in range(1, 51)]
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(sa.insert(groups), [{"id": g, "code": g * 10, "label": f"g{g}"} for g in range(1, 5001)])
        conn.execute(sa.insert(items), [{"id": i, "grp": (i * 31) % 100 + 1} for i in ids])
    return ids


# the family migration's shape: a correlated subquery per row, here on an unindexed column
label_of_item = sa.select(groups.c.label).where(groups.c.code == items.c.grp * 10).scalar_subquery()


def values(engine: Engine, *cols: sa.Column[Any]) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(items.c.id, *cols).order_by(items.c.id))]


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", pytest.param("mysql", marks=pytest.mark.slow)])
def test_backfill_equals_the_set_based_update(db_engine: Engine) -> None:
    ids = fill(db_engine)
    with db_engine.begin() as conn:
        conn.execute(sa.update(items).values(expected=label_of_item))
    result = backfill(db_engine, items, set_={"label": label_of_item, "touched": items.c.touched + 1}, batch_size=50)
    rows = values(db_engine, items.c.label, items.c.expected, items.c.touched)
    assert all(label == expected and label is not None for _, label, expected, _ in rows)
    assert {touched for *_, touched in rows} == {1}
    assert result.rows == len(ids)
    assert result.batches >= 2 and result.last_key == max(ids)
    data = result.to_dict()
    assert set(data) >= {"rows", "batches", "seconds", "rows_per_s", "max_batch_seconds", "warnings", "resumed_from"}
    assert data["resumed_from"] is None


def test_where_limits_the_rows_and_a_step_from_a_plan_does_the_same(db_engine: Engine) -> None:
    fill(db_engine)
    result = backfill(db_engine, items, set_={"label": sa.literal("even")}, where=items.c.grp % 2 == 0)
    even = [r for r in values(db_engine, items.c.grp, items.c.label) if r[1] % 2 == 0]
    assert result.rows == len(even) and all(label == "even" for *_, label in even)
    step = {"table": "items", "set": {"expected": "label"}, "where": "label IS NOT NULL", "name": "copy"}
    step_result = run_backfill_step(db_engine, step)
    assert step_result.rows == len(even)
    assert all(label == expected for _, label, expected in values(db_engine, items.c.label, items.c.expected))


def test_batch_size_follows_the_target_time(db_engine: Engine) -> None:
    fill(db_engine)
    relaxed = backfill(
        db_engine, items, set_={"label": sa.literal("a")}, target_batch_seconds=30, batch_size=8,
        max_batch_size=1024, name="relaxed",
    )
    assert relaxed.batch_size_max == 1024  # every batch far under 30 s: doubled up to the bound
    hurried = backfill(
        db_engine, items, set_={"label": sa.literal("b")}, target_batch_seconds=1e-7, batch_size=512,
        min_batch_size=4, name="hurried",
    )
    assert hurried.batch_size_min == 4  # every batch far over 0.1 µs: halved down to the bound
    assert hurried.batches > relaxed.batches


class Crash(Exception):
    pass


def test_resume_after_a_crash_redoes_no_committed_batch(db_engine: Engine) -> None:
    ids = fill(db_engine)
    store = MemoryCheckpoints()
    seen: list[BackfillProgress] = []

    def progress(p: BackfillProgress) -> None:
        seen.append(p)
        if p.batches == 3:
            raise Crash("the process dies after its third batch")

    work: dict[str, Any] = {"set_": {"touched": items.c.touched + 1}, "batch_size": 100, "name": "count"}
    with pytest.raises(Crash):
        backfill(db_engine, items, progress=progress, checkpoint=store, **work)
    crashed = store.load("count")
    assert crashed is not None and crashed.batches == 3 and not crashed.done
    done_before = [i for i in ids if i <= int(crashed.last_key or 0)]
    assert crashed.rows_done == len(done_before)

    result = backfill(db_engine, items, checkpoint=store, progress=seen.append, **work)
    assert result.resumed_from == crashed.last_key
    assert result.rows == len(ids) - len(done_before)
    assert {touched for _, touched in values(db_engine, items.c.touched)} == {1}  # no row twice, none missed
    final = store.load("count")
    assert final is not None and final.done and final.rows_done == len(ids)
    assert seen[-1].fraction == 1.0 and seen[-1].rows_done == len(ids)


_CHILD = """
import os, sys
import sqlalchemy as sa
from safeshift.backfill import FileCheckpoints, backfill
from safeshift.dialects import get_dialect
engine = get_dialect(sa.make_url(os.environ["BACKFILL_URL"])).create_engine()
items = sa.table("items", sa.column("id"), sa.column("touched"))
backfill(engine, items, set_={"touched": items.c.touched + 1}, batch_size=100, name="count",
         checkpoint=FileCheckpoints(os.environ["BACKFILL_CHECKPOINT"]))
"""


def test_killed_process_resumes_from_its_file_checkpoint(db_engine: Engine, tmp_path: Path) -> None:
    """Like kill -9 after the fourth batch (SAFESHIFT_FAULT): the file says where to go on."""
    ids = fill(db_engine)
    checkpoint = tmp_path / "backfill.json"
    env = {
        **os.environ,
        "BACKFILL_URL": db_engine.url.render_as_string(hide_password=False),
        "BACKFILL_CHECKPOINT": str(checkpoint),
        "SAFESHIFT_FAULT": "backfill:count:batch:4",
    }
    child = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == EXIT_CODE, child.stderr
    saved = json.loads(checkpoint.read_text())["count"]
    assert saved["batches"] == 4 and not saved["done"]
    touched = dict(values(db_engine, items.c.touched))
    assert {touched[i] for i in ids if i <= saved["last_key"]} == {1}
    assert {touched[i] for i in ids if i > saved["last_key"]} == {0}

    table = sa.table("items", sa.column("id"), sa.column("touched"))
    result = backfill(
        db_engine, table, set_={"touched": table.c.touched + 1}, batch_size=100, name="count",
        checkpoint=FileCheckpoints(checkpoint),
    )
    assert result.resumed_from == saved["last_key"]
    assert {t for _, t in values(db_engine, items.c.touched)} == {1}


def test_checkpoints_in_the_run_journal_are_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run" / "journal.jsonl")
    store = JournalCheckpoints(journal)
    store.save(Checkpoint(name="users:family_id", last_key=400, rows_done=380, batches=4, first_key=0))
    journal.close()
    record = read_run(tmp_path / "run")
    again = JournalCheckpoints(Journal(tmp_path / "run" / "journal.jsonl"), record.checkpoints).load("users:family_id")
    assert again is not None and (again.last_key, again.rows_done, again.batches) == (400, 380, 4)


def test_context_supplies_checkpoints_progress_and_collects_results(db_engine: Engine) -> None:
    fill(db_engine)
    store, seen = MemoryCheckpoints(), []
    with backfill_context(checkpoints=store, progress=seen.append) as ctx:
        backfill(db_engine, items, set_={"label": sa.literal("x")}, name="ambient")
    assert store.load("ambient") is not None and seen
    assert [r.name for r in ctx.results] == ["ambient"]
    with backfill_context(progress=seen.append) as outer, backfill_context(checkpoints=store) as inner:
        assert inner.progress is not None  # inherited from the outer context
        backfill(db_engine, items, set_={"label": sa.literal("y")}, name="nested")
    assert [r.name for r in inner.results] == [r.name for r in outer.results] == ["nested"]


def test_refuses_a_connection_inside_a_transaction(db_engine: Engine) -> None:
    fill(db_engine)
    with db_engine.connect() as conn:
        conn.execute(sa.select(1))
        with pytest.raises(BackfillError, match="autocommit_block"):
            backfill(conn, items, set_={"label": sa.literal("x")})
        conn.rollback()


def test_commits_per_batch_on_an_autocommit_connection(db_engine: Engine) -> None:
    """What Alembic's autocommit_block hands a revision: each batch is committed at once."""
    fill(db_engine)
    observer = db_engine.connect()
    committed: list[int] = []

    def progress(p: BackfillProgress) -> None:  # another session sees each batch as it commits
        if p.fraction != 1.0:
            stmt = sa.select(sa.func.count()).select_from(items).where(items.c.touched == 1)
            committed.append(int(observer.execute(stmt).scalar_one()))
            observer.rollback()

    try:
        with db_engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            with auto.begin():
                backfill(auto, items, set_={"touched": items.c.touched + 1}, batch_size=200,
                         max_batch_size=200, progress=progress)
    finally:
        observer.close()
    assert len(committed) >= 3 and committed == sorted(committed) and committed[0] > 0


def test_throttle_pauses_while_the_server_is_loaded(db_engine: Engine) -> None:
    fill(db_engine)
    loads = iter([Load(running=0), Load(replica_lag_s=30.0), Load(running=500), Load(running=1)])
    slept: list[float] = []
    throttle = Throttle(check_every_s=0, pause_s=0.25, probe=lambda conn: next(loads, Load()))
    result = backfill(db_engine, items, set_={"label": sa.literal("t")}, throttle=throttle, sleep=slept.append)
    assert result.throttle_pauses == 1 and slept == [0.25, 0.25] and result.throttled_seconds == 0.5
    with db_engine.connect() as conn:
        load = server_load(conn)
    if db_engine.dialect.name != "sqlite":
        assert load.running is not None and load.running >= 0


def test_gives_up_when_the_load_never_drops(db_engine: Engine) -> None:
    fill(db_engine)
    throttle = Throttle(check_every_s=0, pause_s=1.0, max_wait_s=3.0, auto_raise=False,
                        probe=lambda conn: Load(replica_lag_s=99.0))
    store = MemoryCheckpoints()
    with pytest.raises(BackfillError, match="replica lag"):
        backfill(db_engine, items, set_={"label": sa.literal("t")}, throttle=throttle, sleep=lambda s: None,
                 checkpoint=store, batch_size=100, name="lagging")
    assert store.load("lagging") is None  # checked before the first batch: nothing was done


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_a_batch_that_waits_for_a_row_lock_is_retried_smaller(db_engine: Engine) -> None:
    fill(db_engine)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:  # the application holds a row lock in the middle of the table
        with db_engine.connect() as conn:
            conn.execute(sa.update(items).where(items.c.id == 1500).values(label="app"))
            held.set()
            release.wait(10)
            conn.commit()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    timer = threading.Timer(2.5, release.set)
    timer.start()
    try:
        result = backfill(db_engine, items, set_={"touched": items.c.touched + 1}, lock_timeout_s=1.0,
                          batch_size=200, max_batch_size=200)
    finally:
        release.set()
        thread.join()
        timer.cancel()
    assert result.retries >= 1
    assert {t for _, t in values(db_engine, items.c.touched)} == {1}


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_postgresql_warns_about_a_seq_scan_per_batch(db_engine: Engine) -> None:
    fill(db_engine)
    with db_engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    slow = backfill(db_engine, items, set_={"label": label_of_item}, name="unindexed")
    assert any("groups_" in w and "Seq Scan" in w for w in slow.warnings), slow.warnings
    with db_engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_groups_code ON groups_ (code)")
        conn.exec_driver_sql("ANALYZE groups_")
    fast = backfill(db_engine, items, set_={"label": label_of_item}, name="indexed")
    assert not [w for w in fast.warnings if "groups_" in w], fast.warnings


def test_empty_table_and_keys_that_are_not_integers(db_engine: Engine) -> None:
    words = sa.Table("words", sa.MetaData(), sa.Column("w", sa.String(20), primary_key=True),
                     sa.Column("n", sa.Integer, nullable=True))
    with db_engine.begin() as conn:
        words.create(conn)
    assert backfill(db_engine, words, set_={"n": 1}, key="w").rows == 0
    with db_engine.begin() as conn:
        conn.execute(sa.insert(words), [{"w": f"w{i:05d}"} for i in range(777)])
    store = MemoryCheckpoints()
    result = backfill(db_engine, words, set_={"n": sa.func.length(words.c.w)}, key="w", batch_size=100,
                      max_batch_size=100, checkpoint=store)
    assert result.rows == 777 and result.batches == 8
    with db_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(words.c.n == 6)).scalar_one() == 777
    assert store.load("words:n") is not None


def test_bad_arguments_are_one_line_errors(db_engine: Engine) -> None:
    with pytest.raises(BackfillError, match="exactly one"):
        backfill(db_engine, "items")
    with pytest.raises(BackfillError, match="target_batch_seconds"):
        backfill(db_engine, "items", set_={"label": "x"}, target_batch_seconds=0)


def test_file_checkpoint_is_replaced_atomically(tmp_path: Path) -> None:
    store = FileCheckpoints(tmp_path / "cp.json")
    assert store.load("a") is None
    store.save(Checkpoint(name="a", last_key=10, rows_done=5))
    store.save(Checkpoint(name="b", last_key="m", rows_done=1))
    store.save(Checkpoint(name="a", last_key=20, rows_done=9, done=True))
    again = FileCheckpoints(tmp_path / "cp.json")
    a, b = again.load("a"), again.load("b")
    assert a is not None and (a.last_key, a.rows_done, a.done) == (20, 9, True)
    assert b is not None and b.last_key == "m"
    assert not list(tmp_path.glob("*.tmp"))


def test_progress_bar_draws_rows_and_rate(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from safeshift.backfill import progress_bar

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bar.sqlite3'}")
    fill(engine, 500)
    screen = io.StringIO()
    with progress_bar(Console(file=screen, width=120)) as draw:
        backfill(engine, items, set_={"label": sa.literal("x")}, progress=draw, batch_size=50)
    engine.dispose()
    assert "items:label" in screen.getvalue() and "rows/s" in screen.getvalue()


def test_warns_when_batches_stay_slow_at_the_smallest_size(tmp_path: Path) -> None:
    """A cost per batch (a bad plan) cannot be fixed by smaller batches: say so instead of crawling silently."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'slow.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.execute(sa.text("INSERT INTO t (id) VALUES (:i)"), [{"i": i} for i in range(1, 13)])

    def slow(conn: Any, lo: Any, hi: Any) -> int:
        time.sleep(0.03)
        return int(hi) - int(lo)

    result = backfill(engine, "t", apply=slow, target_batch_seconds=0.001, batch_size=2, throttle=False)
    engine.dispose()
    assert result.batch_size_final == 1
    assert any("per batch, not per row" in w for w in result.warnings), result.warnings


def test_pause_between_batches_leaves_room_for_other_writers(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pause.sqlite3'}")
    fill(engine, 300)
    slept: list[float] = []
    result = backfill(engine, items, set_={"label": sa.literal("p")}, batch_size=50, max_batch_size=50,
                      pause_s=0.01, sleep=slept.append, throttle=False)
    engine.dispose()
    assert slept == [0.01] * result.batches


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_sqlite_keeps_its_journal_between_batches_and_restores_the_mode(db_engine: Engine) -> None:
    """PERSIST during the walk (no journal file created and deleted per batch), DELETE after."""
    fill(db_engine)
    modes: list[str] = []

    def batch(conn: sa.Connection, lo: Any, hi: Any) -> int:
        modes.append(str(conn.connection.driver_connection.execute("PRAGMA journal_mode").fetchone()[0]))  # type: ignore[union-attr]
        return int(conn.execute(sa.update(items).where(items.c.id > (lo or 0), items.c.id <= hi).values(touched=1)).rowcount)

    with db_engine.connect() as conn:
        backfill(conn, items, apply=batch, batch_size=100)
        assert set(modes) == {"persist"} and len(modes) > 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    path = Path(db_engine.url.database or "")
    assert not Path(f"{path}-journal").exists()
    assert set(r[-1] for r in values(db_engine, items.c.touched)) == {1}
