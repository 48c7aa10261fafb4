"""``safeshift demo family --online``: the family cutover as expand → backfill → contract,
run while a writer keeps updating users, and how long that writer ever had to wait.

The point of an online migration is what the application feels, so the demo measures it
from the application's side: a separate connection updates one random user's
``is_active`` per transaction (which changes no row count and no family, so every
post-check stays valid) and times every statement. The longest one is the stall.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from safeshift.backfill import BackfillProgress, BackfillResult, backfill_context
from safeshift.demo import DbKind, DemoResult, _env, examples_dir, fresh_database
from safeshift.demo.family_data import FamilyData, generate
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import load_plan
from safeshift.migrators.alembic import AlembicMigrator
from safeshift.run import Observer, run_plan
from safeshift.secrets import first_line

DEMO_ONLINE_DATABASE = "safeshift_demo_family_online"
EXAMPLE = "family-online"

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("is_active", sa.Boolean))


@dataclass
class WriterStats:
    """What the concurrent writer saw: every statement's latency, summarised."""

    writes: int = 0
    errors: int = 0
    seconds: float = 0.0
    max_stall_s: float = 0.0
    p50_s: float = 0.0
    p99_s: float = 0.0
    stall_at_s: float = 0.0  # when the longest stall started, seconds after the writer started
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "max_stall_ms": round(self.max_stall_s * 1000, 1),
            "p50_ms": round(self.p50_s * 1000, 2),
            "p99_ms": round(self.p99_s * 1000, 2),
            "stall_at_s": round(self.stall_at_s, 3),
            "last_error": self.last_error,
        }


class Writer(threading.Thread):
    """Single-row UPDATEs of ``users.is_active``, one transaction each, every one timed.

    A failed write (a restore terminated our session, a lock timeout) counts as an error
    and its time as a stall; the writer reconnects and goes on.
    """

    def __init__(self, url: URL, max_id: int, *, pause_s: float = 0.002, seed: int = 7) -> None:
        super().__init__(name="safeshift-demo-writer", daemon=True)
        self.url = url
        self.max_id = max_id
        self.pause_s = pause_s
        self.rng = random.Random(seed)
        self.latencies: list[float] = []
        self.started_at = 0.0
        self.stats = WriterStats()
        self._halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        engine = get_dialect(self.url).create_engine()
        statement = sa.update(_users).where(_users.c.id == sa.bindparam("uid")).values(is_active=sa.bindparam("active"))
        self.started_at = time.perf_counter()
        try:
            while not self._halt.is_set():
                try:
                    with engine.connect() as conn:
                        while not self._halt.is_set():
                            params = {"uid": self.rng.randint(1, self.max_id), "active": self.rng.random() < 0.9}
                            began = time.perf_counter()
                            try:
                                with conn.begin():
                                    conn.execute(statement, params)
                            finally:
                                self._record(began, time.perf_counter() - began)
                            self.ready.set()
                            if self.pause_s:
                                time.sleep(self.pause_s)
                except Exception as exc:  # keep writing: the stall is what we measure
                    self.stats.errors += 1
                    self.stats.last_error = first_line(exc)
                    self.ready.set()
                    time.sleep(0.05)
        finally:
            engine.dispose()

    def _record(self, began: float, latency: float) -> None:
        self.latencies.append(latency)
        if latency > self.stats.max_stall_s:
            self.stats.max_stall_s = latency
            self.stats.stall_at_s = began - self.started_at

    def stop(self) -> WriterStats:
        self._halt.set()
        self.join(timeout=30)
        stats = self.stats
        stats.writes = len(self.latencies)
        stats.seconds = time.perf_counter() - self.started_at
        ordered = sorted(self.latencies)
        if ordered:
            stats.p50_s = ordered[len(ordered) // 2]
            stats.p99_s = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return stats


@dataclass
class OnlineDemoResult(DemoResult):
    writer: WriterStats | None = None
    backfills: list[BackfillResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["demo"]["writer"] = self.writer.to_dict() if self.writer else None
        data["demo"]["backfills"] = [b.to_dict() for b in self.backfills]
        return data


def prepare_online_database(
    db: DbKind, workdir: Path, users: int, *, seed: int = 42, name: str = DEMO_ONLINE_DATABASE
) -> tuple[URL, FamilyData]:
    """A fresh database at the online example's revision 0001 holding the generated data."""
    url = fresh_database(db, workdir, name)
    with _env(FAMILY_DATABASE_URL=url.render_as_string(hide_password=False)):
        plan = load_plan(examples_dir() / EXAMPLE / "safeshift.toml")
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            AlembicMigrator(plan).upgrade(conn, "0001")
            conn.commit()
            data = generate(conn, users, seed=seed)
            dialect.after_bulk_load(conn, ["users", "chores", "reward_adjustments"])
            conn.commit()
    finally:
        engine.dispose()
    return url, data


def demo_family_online(
    *,
    db: DbKind = "sqlite",
    users: int = 100_000,
    workdir: Path | None = None,
    observer: Observer | None = None,
    seed: int = 42,
    writer: bool = True,
    writer_pause_s: float = 0.002,
    database: str = DEMO_ONLINE_DATABASE,
) -> OnlineDemoResult:
    """Build the before-database, start the writer, run examples/family-online's plan on it.

    The writer runs on every database, SQLite included: apply takes SQLite's one write lock
    up front (``BEGIN IMMEDIATE``), so each side waits for the other instead of failing.
    ``writer=False`` runs without it.
    """
    if users < 2:
        raise ConfigError(f"--users: expected at least 2, got {users}")
    example = examples_dir() / EXAMPLE
    demo_dir = (workdir or Path(".safeshift") / "demo" / f"family-online-{db}").resolve()
    demo_dir.mkdir(parents=True, exist_ok=True)
    url, data = prepare_online_database(db, demo_dir, users, seed=seed, name=database)
    thread = Writer(url, data.users, pause_s=writer_pause_s) if writer else None
    if thread is not None:
        thread.start()
        thread.ready.wait(timeout=10)

    def progress(p: BackfillProgress) -> None:
        if observer is not None:
            observer.progress(f"backfill {p.name}", p.rows_done, p.rows_total)

    try:
        with (
            _env(FAMILY_DATABASE_URL=url.render_as_string(hide_password=False)),
            backfill_context(progress=progress) as backfills,
        ):
            plan = load_plan(example / "safeshift.toml")
            result = run_plan(plan, workdir=demo_dir, observer=observer)
    finally:
        stats = thread.stop() if thread is not None else None
    return OnlineDemoResult(
        database=url.render_as_string(hide_password=True),
        data=data,
        run=result,
        writer=stats,
        backfills=backfills.results,
    )
