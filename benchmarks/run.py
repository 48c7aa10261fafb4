"""safeshift benchmarks: what its safety costs compared with doing the same work by hand.

    .venv/bin/python benchmarks/run.py [--users N] [--db sqlite,postgresql,mysql] [--quick] [--out PATH]

Each measurement runs ONCE per database, timed with time.perf_counter inside this process;
RESULTS.md states the method of each. Ratios matter more than absolute numbers: the machine
is shared, so rerun on a quiet machine before trusting a close call.

Data: safeshift.demo.family_data.generate fills a SQLite file once (seeded); the servers
get the same rows by bulk copy (COPY for PostgreSQL, multi-row INSERT for MariaDB), and
every scenario starts from a fresh copy of that "before" database (file copy, CREATE
DATABASE ... TEMPLATE, INSERT ... SELECT).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from safeshift.backfill import backfill  # noqa: E402
from safeshift.checks import CheckContext, build_checks, run_checks  # noqa: E402
from safeshift.demo import _env, fresh_database, server_url  # noqa: E402
from safeshift.demo.family_online import Writer, prepare_online_database  # noqa: E402
from safeshift.dialects import get_dialect  # noqa: E402
from safeshift.loading import load_plan  # noqa: E402
from safeshift.migrators.alembic import AlembicMigrator  # noqa: E402
from safeshift.run import run_plan  # noqa: E402

EXAMPLES = REPO / "examples"
TABLES = ["users", "chores", "reward_adjustments"]
DBS = ["sqlite", "postgresql", "mysql"]
PG_CLI = ["-h", "127.0.0.1", "-U", "postgres"]
MY_CLI = ["-h127.0.0.1", "-uroot"]

users = sa.table(
    "users", sa.column("id"), sa.column("is_parent"), sa.column("parent_id"), sa.column("family_id"),
    sa.column("email"),
)
families = sa.table("families", sa.column("id"), sa.column("founder_id"))
founder = sa.case((users.c.is_parent == sa.true(), users.c.id), else_=users.c.parent_id)
family_of_user = sa.select(families.c.id).where(families.c.founder_id == founder).scalar_subquery()


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def timed(into: dict[str, Any], key: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - started, 4)


def engine_for(url: URL) -> Engine:
    return get_dialect(url).create_engine()


def url_text(url: URL) -> str:
    return url.render_as_string(hide_password=False)


# -- "before" databases ----------------------------------------------------------------------
class Source:
    """The generated data in a SQLite file, and fresh copies of it on every database."""

    def __init__(self, workdir: Path, n_users: int) -> None:
        self.workdir = workdir
        self.n_users = n_users
        self.sqlite_url, self.data = prepare_online_database("sqlite", workdir, n_users, name="bench_source")
        self.bases: dict[str, URL] = {}

    def rows(self, table: str, chunk: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
        conn = sqlite3.connect(self.sqlite_url.database or "")
        try:
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608  (fixed names)
            while batch := cursor.fetchmany(chunk):
                yield batch
        finally:
            conn.close()

    def columns(self, table: str) -> list[str]:
        conn = sqlite3.connect(self.sqlite_url.database or "")
        try:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        finally:
            conn.close()

    def base(self, kind: str) -> URL:
        """The loaded "before" database of a server (built once)."""
        if kind in self.bases:
            return self.bases[kind]
        url = fresh_database(kind, self.workdir, "ss_bench_base")  # type: ignore[arg-type]
        engine = engine_for(url)
        try:
            with engine.connect() as conn:
                AlembicMigrator(online_plan(url)).upgrade(conn, "0001")
                conn.commit()
            if kind == "postgresql":
                self._copy_postgresql(engine)
            else:
                self._insert_mysql(engine)
            with engine.connect() as conn:
                get_dialect(url).after_bulk_load(conn, TABLES)
                conn.commit()
        finally:
            engine.dispose()
        self.bases[kind] = url
        return url

    def _copy_postgresql(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            for table in TABLES:
                cols = self.columns(table)
                with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for batch in self.rows(table):
                        for row in batch:
                            copy.write_row(_pg_row(table, cols, row))
            raw.commit()
        finally:
            raw.close()

    def _insert_mysql(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table in TABLES:
                cols = self.columns(table)
                marks = ", ".join(["%s"] * len(cols))
                statement = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608
                for batch in self.rows(table, 10_000):
                    cursor.executemany(statement, batch)  # PyMySQL sends one multi-row INSERT
            raw.commit()
        finally:
            raw.close()

    def fresh(self, kind: str, name: str) -> URL:
        """A new database holding the "before" data."""
        if kind == "sqlite":
            dest = self.workdir / f"{name}.sqlite3"
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(dest) + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.sqlite_url.database or "", dest)
            return make_url(f"sqlite:///{dest}")
        base = self.base(kind)
        admin = get_dialect(server_url(kind))
        if kind == "postgresql":
            admin.drop_database(name)
            with engine_for(server_url(kind)).connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    f'CREATE DATABASE "{name}" TEMPLATE "{base.database}"'
                )
            return server_url(kind).set(database=name)
        url = admin.recreate_database(name)
        engine = engine_for(url)
        try:
            with engine.connect() as conn:
                AlembicMigrator(online_plan(url)).upgrade(conn, "0001")
                conn.commit()
                for table in TABLES:
                    conn.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM `{base.database}`.{table}")  # noqa: S608
                    conn.commit()
        finally:
            engine.dispose()
        return url


def _pg_row(table: str, cols: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    """SQLite keeps booleans as 0/1: PostgreSQL's COPY wants real booleans."""
    booleans = {"is_active", "is_parent", "is_completed"}
    return tuple(bool(v) if c in booleans and v is not None else v for c, v in zip(cols, row, strict=True))


def online_plan(url: URL) -> Any:
    with _env(FAMILY_DATABASE_URL=url_text(url)):
        return load_plan(EXAMPLES / "family-online" / "safeshift.toml")


def family_plan(url: URL) -> Any:
    """examples/family's plan, database side only: its smoke probes, maintenance file and watch
    window need the family app running, which the by-hand steps do not include either.

    The lint still runs but does not block: at 1,000,000 users SQLite's batch rebuild of users
    is an error (a comment cannot sit inside Alembic's batch statements to justify it), a hazard
    the runbook accepts in its maintenance window and the by-hand steps do not check at all."""
    with _env(FAMILY_DATABASE_URL=url_text(url)):
        plan = load_plan(EXAMPLES / "family" / "safeshift.toml")
    app_side = {"maintenance": None, "smoke": [], "watch": None,
                "lint": plan.lint.model_copy(update={"fail_on": "never"})}
    return plan.model_copy(update={k: v for k, v in app_side.items() if k in type(plan).model_fields})


def drop(kind: str, url: URL) -> None:
    if kind != "sqlite" and url.database:
        with contextlib.suppress(Exception):
            get_dialect(server_url(kind)).drop_database(url.database)


@contextlib.contextmanager
def writer_on(url: URL, n_users: int) -> Iterator[dict[str, Any]]:
    """A concurrent single-row writer; its statistics land in the yielded dict afterwards."""
    out: dict[str, Any] = {}
    thread = Writer(url, n_users)
    thread.start()
    thread.ready.wait(10)
    try:
        yield out
    finally:
        out.update(thread.stop().to_dict())


# -- 1. set-based statement vs backfill (and the writer's stalls during each) ------------------
def bench_backfill(kind: str, source: Source, target: float = 0.1) -> dict[str, Any]:
    url = source.fresh(kind, "ss_bench_backfill")
    engine = engine_for(url)
    out: dict[str, Any] = {"target_batch_seconds": target}
    try:
        with engine.connect() as conn:  # expanded schema + families, as before 0003's second pass
            AlembicMigrator(online_plan(url)).upgrade(conn, "0002")
            conn.commit()
        from importlib import util

        spec = util.spec_from_file_location(
            "rev0003", EXAMPLES / "family-online" / "migrations" / "versions" / "0003_backfill.py"
        )
        assert spec and spec.loader
        rev = util.module_from_spec(spec)
        spec.loader.exec_module(rev)
        backfill(engine, rev.users, apply=rev.create_families, name="families", throttle=False)
        with engine.begin() as conn:
            if kind == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        n = source.data.users
        # throughput without the writer (the set-based statement blocks a writer, which then
        # costs it nothing, while a backfill shares the two cores with it), then with it
        for label, writing in (("quiet", False), ("writer", True)):
            log(f"{kind}: set-based UPDATE of {n} users ({label})")
            with contextlib.ExitStack() as stack:
                stalls = stack.enter_context(writer_on(url, n)) if writing else None
                with timed(out, f"set_based_{label}_s"), engine.begin() as conn:
                    conn.execute(sa.update(users).values(family_id=family_of_user))
            out[f"set_based_{label}_rows_per_s"] = round(n / out[f"set_based_{label}_s"])
            reset(kind, engine)
            log(f"{kind}: backfill of {n} users ({label})")
            with contextlib.ExitStack() as stack:
                bf_stalls = stack.enter_context(writer_on(url, n)) if writing else None
                result = backfill(
                    engine, users, set_={"family_id": family_of_user}, name=f"bench-{label}", target_batch_seconds=target
                )
            out[f"backfill_{label}"] = result.to_dict()
            out[f"backfill_{label}_rows_per_s"] = round(result.rows_per_s)
            out[f"ratio_{label}"] = round(result.rows_per_s / out[f"set_based_{label}_rows_per_s"], 3)
            if writing:
                out["set_based_writer"] = stalls
                out["backfill_writer"] = bf_stalls
            else:
                reset(kind, engine)
        out["ratio"] = out["ratio_quiet"]
        with engine.connect() as conn:
            missing = conn.execute(sa.select(sa.func.count()).select_from(users).where(users.c.family_id.is_(None)))
            out["backfill_left_null"] = int(missing.scalar_one())
    finally:
        engine.dispose()
        drop(kind, url)
    return out


def reset(kind: str, engine: Engine) -> None:
    """Back to family_id NULL (not timed), then VACUUM so both runs start from similar pages."""
    with engine.begin() as conn:
        conn.execute(sa.update(users).values(family_id=None))
    if kind == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE users")


# -- 2. the whole online run with a writer, then checks, table_unchanged and backups on it ---
def bench_online(kind: str, source: Source) -> tuple[dict[str, Any], URL]:
    url = source.fresh(kind, "ss_bench_online")
    home = source.workdir / f"online-{kind}"
    home.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    log(f"{kind}: whole online run (writer on)")
    plan = online_plan(url)
    with writer_on(url, source.data.users) as stalls:
        with timed(out, "seconds"), _env(FAMILY_DATABASE_URL=url_text(url)):
            result = run_plan(plan, workdir=home)
    out["outcome"] = result.outcome
    out["message"] = result.message
    out["phases"] = {p.name: round(p.seconds, 3) for p in result.phases}
    out["writer"] = stalls
    return out, url


HAND_CHECKS: dict[str, str] = {
    "users without a family": "SELECT COUNT(*) FROM users WHERE family_id IS NULL",
    "every family has at least one parent": "SELECT COUNT(*) FROM families f WHERE NOT EXISTS "
    "(SELECT 1 FROM users u WHERE u.family_id = f.id AND u.is_parent = TRUE)",
    "invite codes are non-null": "SELECT COUNT(*) FROM families WHERE invite_code IS NULL",
    "invite codes are unique": "SELECT COUNT(*) - COUNT(DISTINCT invite_code) FROM families",
    "one family per parent": "SELECT (SELECT COUNT(*) FROM families) - (SELECT COUNT(*) FROM users WHERE is_parent = TRUE)",
    "no user lost": "SELECT COUNT(*) FROM users",
    "chores unchanged in number": "SELECT COUNT(*) FROM chores",
    "reward adjustments unchanged in number": "SELECT COUNT(*) FROM reward_adjustments",
    "family_id is a real foreign key": "SELECT COUNT(*) FROM users u LEFT JOIN families f ON f.id = u.family_id "
    "WHERE u.family_id IS NOT NULL AND f.id IS NULL",
    "family members load within 200 ms": "SELECT id, username, is_parent FROM users WHERE family_id = 1",
    "parent and child share a family": "SELECT COUNT(*) FROM users c JOIN users p ON p.id = c.parent_id "
    "WHERE c.family_id <> p.family_id",
}
_INDEX_SQL = {
    "postgresql": "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'users' AND position('(family_id)' in indexdef) > 0",
    "mysql": "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
    "AND TABLE_NAME = 'users' AND COLUMN_NAME = 'family_id'",
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND instr(sql, 'family_id') > 0",
}
_CODE_SQL = {
    "postgresql": "SELECT COUNT(*) FROM families WHERE invite_code !~ '^[A-HJ-NP-Z2-9]{8}$'",
    "mysql": "SELECT COUNT(*) FROM families WHERE invite_code NOT REGEXP '^[A-HJ-NP-Z2-9]{8}$'",
    "sqlite": "SELECT COUNT(*) FROM families WHERE invite_code NOT REGEXP '^[A-HJ-NP-Z2-9]{8}$'",
}
_NAMED_SQL = (
    "SELECT COUNT(*) FROM families f WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.family_id = f.id "
    "AND u.is_parent = TRUE AND f.name = {concat})"
)
_CONCAT = {"postgresql": "u.username || '''s Family'", "sqlite": "u.username || '''s Family'",
           "mysql": "CONCAT(u.username, '''s Family')"}


def hand_checks(kind: str) -> dict[str, str]:
    checks = dict(HAND_CHECKS)
    checks["family lookups are indexed"] = _INDEX_SQL[kind]
    checks["invite codes are well-formed"] = _CODE_SQL[kind]
    checks["every family is named after a parent"] = _NAMED_SQL.format(concat=_CONCAT[kind])
    return checks


def bench_checks(kind: str, url: URL) -> dict[str, Any]:
    """examples/family's post-checks through safeshift.checks vs the same checks as plain SQL."""
    plan = family_plan(url)
    engine = engine_for(url)
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            snapshot = get_dialect(url).row_counts(conn, TABLES)
            conn.rollback()
            checks = build_checks(plan, "post")
            out["kinds"] = sorted({c.kind for c in checks})
            ctx = CheckContext(conn=conn, snapshot=snapshot, base_dir=plan.base_dir)
            with timed(out, "safeshift_s"):
                results = run_checks(checks, ctx)
            out["safeshift_passed"] = f"{sum(r.passed for r in results)}/{len(results)}"
            out["failed"] = [r.name for r in results if not r.passed]
            queries = hand_checks(kind)
            with timed(out, "by_hand_s"):
                for query in queries.values():
                    conn.exec_driver_sql(query).all()
                    conn.rollback()
            out["by_hand_queries"] = len(queries)
        out["ratio"] = round(out["safeshift_s"] / out["by_hand_s"], 3)
    finally:
        engine.dispose()
    return out


def bench_table_unchanged(kind: str, url: URL) -> dict[str, Any]:
    """safeshift.checks.table_unchanged on users: capture + compare vs SELECT COUNT(*); one changed cell."""
    out: dict[str, Any] = {}
    try:
        from safeshift.checks.table_unchanged import TableUnchangedCheck, TableUnchangedConfig
    except ImportError as exc:
        return {"error": f"not available: {exc}"}
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            with timed(out, "count_s"):
                conn.exec_driver_sql("SELECT COUNT(*) FROM users").scalar()
            conn.rollback()
            victim = int(conn.exec_driver_sql("SELECT MAX(id) FROM users").scalar() or 1) // 2 + 1
            conn.rollback()
            for label, leaves in (("default", None), ("per_row", 1_000_000)):
                cfg: dict[str, Any] = {"kind": "table_unchanged", "table": "users"}
                if leaves:
                    cfg["max_leaves"] = leaves
                check = TableUnchangedCheck(TableUnchangedConfig(**cfg), "post", 0)
                ctx = CheckContext(conn=conn, snapshot={"users": 0})
                row: dict[str, Any] = {}
                try:
                    with timed(row, "capture_s"):
                        ctx.baseline[check.name] = check.capture(ctx)
                    conn.rollback()
                    with timed(row, "compare_s"):
                        same = check.run(ctx)
                    conn.rollback()
                    row["unchanged_passed"] = same.passed
                    conn.execute(sa.update(users).where(users.c.id == victim).values(email="changed@example.test"))
                    conn.commit()
                    with timed(row, "compare_changed_s"):
                        changed = check.run(ctx)
                    conn.rollback()
                    conn.execute(sa.update(users).where(users.c.id == victim).values(email=f"user{victim}@example.test"))
                    conn.commit()
                    row["found_change"] = not changed.passed
                    row["named_key"] = victim in changed.samples or [victim] in changed.samples
                    row["message"] = changed.message[:200]
                except Exception as exc:  # the check is being finished by a colleague: report, go on
                    row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    conn.rollback()
                if "capture_s" in row and "compare_s" in row:
                    row["ratio_vs_count"] = round((row["capture_s"] + row["compare_s"]) / max(out["count_s"], 1e-6), 1)
                out[label] = row
        out["changed_key"] = victim
    finally:
        engine.dispose()
    return out


# -- 3. backup and restore: the dialect vs the native tool by hand ------------------------------
def run_tool(argv: list[str], **kw: Any) -> None:
    subprocess.run(argv, check=True, capture_output=kw.pop("capture_output", True), **kw)


def bench_backup(kind: str, url: URL, workdir: Path) -> dict[str, Any]:
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    folder = workdir / f"backups-{kind}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            snapshot = dialect.row_counts(conn)
            conn.rollback()
        dest = folder / f"dialect{dialect.backup_suffix}"
        with timed(out, "dialect_backup_s"):
            info = dialect.backup(engine, dest)
        with timed(out, "dialect_verify_s"):
            dialect.verify_backup(info, snapshot, "bench")
        with timed(out, "dialect_verify_scan_s"):
            dialect.verify_backup(info, snapshot, "bench", method="scan")
        with timed(out, "dialect_restore_s"):
            dialect.restore(engine, dest)
        out["backup_bytes"] = info.bytes
        by_hand = {"sqlite": _sqlite_by_hand, "postgresql": _pg_by_hand, "mysql": _mysql_by_hand}[kind]
        out.update(by_hand(url, folder, engine))
        for step in ("backup", "verify", "restore"):
            out[f"{step}_ratio"] = round(out[f"dialect_{step}_s"] / max(out[f"native_{step}_s"], 1e-6), 2)
    finally:
        engine.dispose()
    return out


def _count_all(url: URL) -> None:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()  # noqa: S608
    finally:
        engine.dispose()


def _sqlite_by_hand(url: URL, folder: Path, engine: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"native_tool": "Python sqlite3 backup API + PRAGMA integrity_check"}
    path, copy = url.database or "", folder / "native.sqlite3"
    with timed(out, "native_backup_s"):
        src, dst = sqlite3.connect(path), sqlite3.connect(copy)
        src.backup(dst)
        dst.close()
        src.close()
    with timed(out, "native_verify_s"):
        check = sqlite3.connect(copy)
        check.execute("PRAGMA integrity_check").fetchall()
        for (table,) in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            check.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()  # noqa: S608
        check.close()
    engine.dispose()
    with timed(out, "native_restore_s"):
        src, dst = sqlite3.connect(copy), sqlite3.connect(path)
        src.backup(dst)
        dst.close()
        src.close()
    return out


def _pg_by_hand(url: URL, folder: Path, engine: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"native_tool": "pg_dump -Fc; pg_restore into a new database + counts; pg_restore --clean"}
    dump, db = folder / "native.dump", url.database or ""
    with timed(out, "native_backup_s"):
        run_tool(["pg_dump", *PG_CLI, "-Fc", "-f", str(dump), db])
    scratch = "ss_bench_native_verify"
    admin = get_dialect(server_url("postgresql"))
    with timed(out, "native_verify_s"):
        scratch_url = admin.recreate_database(scratch)
        run_tool(["pg_restore", *PG_CLI, "--no-owner", "-d", scratch, str(dump)])
        _count_all(scratch_url)
    admin.drop_database(scratch)
    engine.dispose()
    with timed(out, "native_restore_s"):
        run_tool(["pg_restore", *PG_CLI, "--no-owner", "--clean", "--if-exists", "--single-transaction", "-d", db, str(dump)])
    return out


def _mysql_by_hand(url: URL, folder: Path, engine: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"native_tool": "mariadb-dump --single-transaction; mariadb < dump into a new database + counts; mariadb < dump"}
    dump, db = folder / "native.sql", url.database or ""
    with timed(out, "native_backup_s"), open(dump, "wb") as fh:
        run_tool(["mariadb-dump", *MY_CLI, "--single-transaction", "--routines", "--triggers", db], stdout=fh, capture_output=False)
    scratch = "ss_bench_native_verify"
    admin = get_dialect(server_url("mysql"))
    with timed(out, "native_verify_s"):
        scratch_url = admin.recreate_database(scratch)
        with open(dump, "rb") as fh:
            run_tool(["mariadb", *MY_CLI, scratch], stdin=fh)
        _count_all(scratch_url)
    admin.drop_database(scratch)
    engine.dispose()
    with timed(out, "native_restore_s"), open(dump, "rb") as fh:
        run_tool(["mariadb", *MY_CLI, db], stdin=fh)
    return out


# -- 4. safeshift run (set-based family cutover) vs the same steps by hand ---------------------
PRE_CHECKS = [
    "WITH RECURSIVE chain (start_id, cur_id, depth) AS (SELECT id, parent_id, 1 FROM users WHERE parent_id IS NOT NULL "
    "UNION ALL SELECT c.start_id, u.parent_id, c.depth + 1 FROM chain c JOIN users u ON u.id = c.cur_id "
    "WHERE u.parent_id IS NOT NULL AND c.cur_id <> c.start_id AND c.depth < 10) "
    "SELECT COUNT(DISTINCT start_id) FROM chain WHERE cur_id = start_id",
    "SELECT COUNT(*) FROM users c LEFT JOIN users p ON p.id = c.parent_id WHERE c.parent_id IS NOT NULL AND p.id IS NULL",
    "SELECT COUNT(*) FROM users",
]


def bench_end_to_end(kind: str, source: Source) -> dict[str, Any]:
    out: dict[str, Any] = {}
    url = source.fresh(kind, "ss_bench_run")
    home = source.workdir / f"run-{kind}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    try:
        log(f"{kind}: safeshift run of examples/family")
        plan = family_plan(url)
        with timed(out, "safeshift_run_s"), _env(FAMILY_DATABASE_URL=url_text(url)):
            result = run_plan(plan, workdir=home)
        out["outcome"] = result.outcome
        out["message"] = result.message
        out["phases"] = {p.name: round(p.seconds, 3) for p in result.phases}
    finally:
        drop(kind, url)
    # the same run with the backup verified by reading it (backup.verify = "scan") instead of
    # restoring it: the runbook's own verification is `ls -lh` and `head` of the dump
    url = source.fresh(kind, "ss_bench_run_scan")
    try:
        log(f"{kind}: safeshift run of examples/family, backup verified by scan")
        plan = family_plan(url)
        plan = plan.model_copy(update={"backup": plan.backup.model_copy(update={"verify": "scan"})})
        with timed(out, "safeshift_run_scan_s"), _env(FAMILY_DATABASE_URL=url_text(url)):
            result = run_plan(plan, workdir=home / "scan")
        out["outcome_scan"] = result.outcome
        out["phases_scan"] = {p.name: round(p.seconds, 3) for p in result.phases}
    finally:
        drop(kind, url)

    url = source.fresh(kind, "ss_bench_hand")
    parts: dict[str, Any] = {}
    engine = engine_for(url)
    try:
        log(f"{kind}: the same by hand")
        with engine.connect() as conn:
            with timed(parts, "pre_checks_s"):
                for query in PRE_CHECKS:
                    conn.exec_driver_sql(query).all()
                conn.rollback()
            with timed(parts, "row_counts_s"):
                for table in TABLES:
                    conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()  # noqa: S608
                conn.rollback()
        folder = home / "by-hand"
        folder.mkdir(parents=True, exist_ok=True)
        tools = native_backup_only(kind, url, folder)
        parts["backup_s"] = tools["native_backup_s"]
        parts["verify_s"] = tools["native_verify_s"]
        from alembic import command
        from alembic.config import Config

        with engine.connect() as conn:
            cfg = Config(str(EXAMPLES / "family" / "alembic.ini"))
            cfg.set_main_option("script_location", str(EXAMPLES / "family" / "migrations"))
            cfg.attributes["connection"] = conn
            with timed(parts, "upgrade_s"):
                command.upgrade(cfg, "head")
                if conn.in_transaction():
                    conn.commit()
            with timed(parts, "post_checks_s"):
                for query in hand_checks(kind).values():
                    conn.exec_driver_sql(query).all()
                conn.rollback()
    finally:
        engine.dispose()
        drop(kind, url)
    out["by_hand"] = parts
    without_verify = sum(v for k, v in parts.items() if k != "verify_s")
    out["by_hand_s"] = round(without_verify, 4)
    out["by_hand_with_verify_s"] = round(without_verify + parts["verify_s"], 4)
    out["ratio"] = round(out["safeshift_run_s"] / without_verify, 3)
    out["ratio_with_verify"] = round(out["safeshift_run_s"] / out["by_hand_with_verify_s"], 3)
    out["ratio_scan"] = round(out["safeshift_run_scan_s"] / without_verify, 3)
    return out


def native_backup_only(kind: str, url: URL, folder: Path) -> dict[str, Any]:
    """The runbook's manual backup + a manual restore test, without the restore of the source."""
    out: dict[str, Any] = {}
    if kind == "sqlite":
        copy = folder / "native.sqlite3"
        with timed(out, "native_backup_s"):
            src, dst = sqlite3.connect(url.database or ""), sqlite3.connect(copy)
            src.backup(dst)
            dst.close()
            src.close()
        with timed(out, "native_verify_s"):
            check = sqlite3.connect(copy)
            check.execute("PRAGMA integrity_check").fetchall()
            for table in TABLES:
                check.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
            check.close()
        return out
    scratch = "ss_bench_native_verify"
    admin = get_dialect(server_url(kind))
    db = url.database or ""
    if kind == "postgresql":
        dump = folder / "native.dump"
        with timed(out, "native_backup_s"):
            run_tool(["pg_dump", *PG_CLI, "-Fc", "-f", str(dump), db])
        with timed(out, "native_verify_s"):
            scratch_url = admin.recreate_database(scratch)
            run_tool(["pg_restore", *PG_CLI, "--no-owner", "-d", scratch, str(dump)])
            _count_all(scratch_url)
    else:
        dump = folder / "native.sql"
        with timed(out, "native_backup_s"), open(dump, "wb") as fh:
            run_tool(["mariadb-dump", *MY_CLI, "--single-transaction", "--routines", "--triggers", db], stdout=fh, capture_output=False)
        with timed(out, "native_verify_s"):
            scratch_url = admin.recreate_database(scratch)
            with open(dump, "rb") as fh:
                run_tool(["mariadb", *MY_CLI, scratch], stdin=fh)
            _count_all(scratch_url)
    admin.drop_database(scratch)
    return out


# -- 7. rollback: pre-rollback backup + downgrade or restore + proof, vs a checksum by hand -----
ROLLBACK_STRATEGIES = ("downgrade", "restore")


def failing_family_plan(url: URL, strategy: str) -> Any:
    """examples/family (database side) whose run fails right after apply: its post-checks are
    replaced by one that cannot pass, so the runner rolls back with ``strategy``."""
    from safeshift.config.models import CheckSpec

    plan = family_plan(url)
    fail = CheckSpec.model_validate(
        {"kind": "row_count", "name": "bench: fail after apply", "table": "users", "expect": "== 0"}
    )
    return plan.model_copy(update={
        "checks": plan.checks.model_copy(update={"post": [fail]}),
        "rollback": plan.rollback.model_copy(update={"strategy": strategy}),
    })


def bench_rollback(kind: str, source: Source) -> dict[str, Any]:
    from safeshift.run.phases.snapshot import PROOF_PREFIX

    out: dict[str, Any] = {}
    before_url = source.fresh(kind, "ss_bench_rb_before")  # the before-state, for the hand checksum
    try:
        for strategy in ROLLBACK_STRATEGIES:
            url = source.fresh(kind, "ss_bench_rb")
            home = source.workdir / f"rollback-{kind}-{strategy}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            row: dict[str, Any] = {}
            try:
                log(f"{kind}: safeshift run of examples/family failing after apply, rollback by {strategy}")
                with timed(row, "run_s"), _env(FAMILY_DATABASE_URL=url_text(url)):
                    result = run_plan(failing_family_plan(url, strategy), workdir=home)
                row["outcome"] = result.outcome
                row["message"] = result.message[:300]
                phases = [(p.name, round(p.seconds, 3)) for p in result.phases]
                row["phases"] = phases
                rb = result.rollback
                row["proven"] = bool(rb is not None and rb.proven)
                row["backup_s"] = sum(s for n, s in phases if n == "rollback:backup")
                row["step_s"] = sum(s for n, s in phases if n in ("rollback:downgrade", "rollback:restore"))
                proofs = [p for p in result.phases if p.name == "prove"]
                # the proof of the end state is the last; a prove before the restore (and the key-by-key
                # comparison after it) is the check of what the restore would discard
                row["proof_s"] = round(proofs[-1].seconds, 3) if proofs else 0.0
                row["writes_s"] = round(sum(p.seconds for p in proofs[:-1]) + sum(
                    s for n, s in phases if n in ("rollback:writes", "rollback:save-writes")), 3)
                row["rollback_s"] = round(row["backup_s"] + row["step_s"] + row["writes_s"] + row["proof_s"], 3)
                row["proof_detail"] = proofs[-1].detail if proofs else {}
                hashed = sorted({c.name[len(PROOF_PREFIX):] for c in result.checks
                                 if c.phase == "proof" and c.name.startswith(PROOF_PREFIX)})
                row["tables_hashed"] = hashed
                log(f"{kind}: {strategy}: {row['outcome']}, phases {phases}")
                # the same work by hand: the database's own checksum of every table the proof hashed,
                # over the before-state (a fresh copy) and over the rolled-back database
                before = hand_checksum(kind, before_url, hashed)
                now = hand_checksum(kind, url, hashed)
                row["hand"] = {"before": before, "now": now}
                row["hand_s"] = round(before["seconds"] + now["seconds"], 4)
                row["hand_equal"] = before["digests"] == now["digests"]
                row["proof_ratio"] = round(row["proof_s"] / max(row["hand_s"], 1e-6), 2)
                compared = row["proof_detail"].get("compared_with_backup")
                direct = compared.get("seconds", 0) if isinstance(compared, dict) else 0
                if direct:  # the part of the proof that reads both states: the same work as the hand checksum
                    row["rows_compared_s"] = round(direct, 3)
                    row["rows_compared_ratio"] = round(direct / max(row["hand_s"], 1e-6), 2)
                if "md5_group_concat_seconds" in now:
                    md5_s = before["md5_group_concat_seconds"] + now["md5_group_concat_seconds"]
                    row["hand_md5_s"] = round(md5_s, 4)
                    row["hand_md5_equal"] = before["md5_digests"] == now["md5_digests"]
                    row["proof_ratio_md5"] = round(row["proof_s"] / max(md5_s, 1e-6), 2)
            finally:
                drop(kind, url)
            out[strategy] = row
    finally:
        drop(kind, before_url)
    out["hand_method"] = HAND_CHECKSUM_METHOD[kind]
    return out


HAND_CHECKSUM_METHOD = {
    "postgresql": "SELECT md5(string_agg(t::text, '' ORDER BY <primary key>)) FROM t",
    "mysql": "CHECKSUM TABLE t EXTENDED (MariaDB's own; order-independent)",
    "sqlite": "Python sqlite3: sha1 over repr() of each 10,000-row fetchmany() of SELECT * FROM t ORDER BY <primary key>",
}


def hand_checksum(kind: str, url: URL, tables: list[str]) -> dict[str, Any]:
    """Each table's checksum as a person would take it, timed together; digests for comparison."""
    digests: dict[str, str] = {}
    if kind == "sqlite":
        import hashlib

        started = time.perf_counter()
        conn = sqlite3.connect(url.database or "")
        try:
            for table in tables:
                pk = [r[1] for r in sorted(conn.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5]) if r[5]]
                order = ", ".join(f'"{c}"' for c in pk)
                digest = hashlib.sha1()  # noqa: S324  (a checksum, not security)
                cursor = conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}')  # noqa: S608
                while batch := cursor.fetchmany(10_000):
                    digest.update(repr(batch).encode())
                digests[table] = digest.hexdigest()
        finally:
            conn.close()
        return {"seconds": round(time.perf_counter() - started, 4), "digests": digests}
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            keys = {t: insp.get_pk_constraint(t)["constrained_columns"] for t in tables}
            conn.rollback()
            started = time.perf_counter()
            for table in tables:
                if kind == "postgresql":
                    order = ", ".join(f'"{c}"' for c in keys[table])
                    query = f'SELECT md5(string_agg(t::text, \'\' ORDER BY {order})) FROM "{table}" t'  # noqa: S608
                    digests[table] = str(conn.exec_driver_sql(query).scalar())
                else:
                    digests[table] = str(conn.exec_driver_sql(f"CHECKSUM TABLE `{table}` EXTENDED").one()[1])
            seconds = time.perf_counter() - started
            conn.rollback()
            out: dict[str, Any] = {"seconds": round(seconds, 4), "digests": digests}
            if kind == "mysql":  # for reference: a cryptographic hash in key order, as on the others
                conn.exec_driver_sql("SET SESSION group_concat_max_len = 4294967295")
                md5s: dict[str, str] = {}
                started = time.perf_counter()
                for table in tables:
                    cols = [c["name"] for c in insp.get_columns(table)]
                    row = "CONCAT_WS(',', " + ", ".join(f"QUOTE(`{c}`)" for c in cols) + ")"
                    order = ", ".join(f"`{c}`" for c in keys[table])
                    query = f"SELECT MD5(GROUP_CONCAT({row} ORDER BY {order} SEPARATOR '\\n')) FROM `{table}`"  # noqa: S608
                    md5s[table] = str(conn.exec_driver_sql(query).scalar())
                out["md5_group_concat_seconds"] = round(time.perf_counter() - started, 4)
                out["md5_digests"] = md5s
                conn.rollback()
    finally:
        engine.dispose()
    return out


# -- machine facts and the report ------------------------------------------------------------
def machine_facts(kinds: list[str]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(_mem_kib() / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
    for kind in kinds:
        if kind == "sqlite":
            continue
        with contextlib.suppress(Exception), engine_for(server_url(kind)).connect() as conn:
            facts[kind] = str(conn.exec_driver_sql("SELECT version()").scalar()).split(" on ")[0]
    return facts


def _mem_kib() -> int:
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ms(value: Any) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def report(results: dict[str, Any], facts: dict[str, Any], args: argparse.Namespace, command_line: str,
           runs: list[dict[str, Any]] | None = None) -> str:
    dbs = [k for k in DBS if k in results]
    lines = [
        "# safeshift benchmarks",
        "",
        f"Command: `{command_line}`  ",
        f"Users: {args.users:,} (plus generated chores and reward adjustments; seed 42)  ",
        "Every number is ONE run per database on a shared machine: compare ratios, and rerun on a quiet",
        "machine before trusting a close call.",
    ]
    if runs:
        lines += ["", "The sections come from separate runs (merged with `--render OLD.json --merge NEW.json`):", "",
                  "| sections | date | command | load average at start / end |", "|---|---|---|---|"]
        lines += [f"| {r['sections']} | {r.get('date', '–')} | `{r.get('command', '')}` "
                  f"| {r.get('load_average_at_start', '–')} / {r.get('load_average_at_end', '–')} |" for r in runs]
    lines += [
        "",
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]

    lines += ["", "## 1. Set-based UPDATE vs safeshift backfill (users.family_id)", "",
              "| database | target batch | set-based rows/s | backfill rows/s | ratio (target ≥ 0.8) | with the writer: set-based / backfill rows/s, ratio | batches | max batch | writer stall set-based | writer stall backfill (target ≤ 200 ms on servers) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in dbs:
        b = results[k].get("backfill", {})
        if "error" in b:
            lines.append(f"| {k} | error: {b['error']} ||||||||")
            continue
        quiet = b.get("backfill_quiet", {})
        lines.append(
            f"| {k} | {ms(1000 * b.get('target_batch_seconds', 0.1))} | {fmt(b.get('set_based_quiet_rows_per_s'))} | {fmt(b.get('backfill_quiet_rows_per_s'))} | {fmt(b.get('ratio_quiet'))} "
            f"| {fmt(b.get('set_based_writer_rows_per_s'))} / {fmt(b.get('backfill_writer_rows_per_s'))}, {fmt(b.get('ratio_writer'))} "
            f"| {fmt(quiet.get('batches'))} | {ms(1000 * quiet.get('max_batch_seconds', 0))} "
            f"| {ms((b.get('set_based_writer') or {}).get('max_stall_ms'))} | {ms((b.get('backfill_writer') or {}).get('max_stall_ms'))} |"
        )
    lines += ["", "Method: on a fresh copy at revision 0002 of examples/family-online with families created, "
              "`UPDATE users SET family_id = (SELECT id FROM families WHERE founder_id = CASE ... END)` as ONE statement "
              "in one transaction, timed from begin to commit; then reset to NULL (not timed; PostgreSQL: VACUUM ANALYZE) "
              "and `safeshift.backfill.backfill` of the same SET expression (the target batch time of its row, 100 ms by "
              "default; throttle on), "
              "timed by its own result (rows / seconds). Both run twice: first alone (the ratio column), then with a "
              "writer thread on its own connection that updates one random user's is_active per transaction (2 ms "
              "pause between writes), timing every statement; the stall columns show its slowest statement. The "
              "set-based statement blocks that writer, which then takes no CPU from it, while the backfill shares "
              "the two cores with it: that is why the alone run is the fair throughput comparison."]

    lines += ["", "## 2. Whole online run (examples/family-online under `safeshift run`) with the writer", "",
              "| database | outcome | seconds | writes | writer p99 | writer max stall (target ≤ 200 ms on servers) | apply phase |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for k in dbs:
        o = results[k].get("online", {})
        w = o.get("writer") or {}
        lines.append(
            f"| {k} | {o.get('outcome', o.get('error', '–'))} | {fmt(o.get('seconds'))} | {fmt(w.get('writes'))} "
            f"| {ms(w.get('p99_ms'))} | {ms(w.get('max_stall_ms'))} | {fmt((o.get('phases') or {}).get('apply'))} s |"
        )
    lines += ["", "Method: `run_plan` on a fresh copy at revision 0001 (preflight, snapshot, backup + "
              "verify, expand/backfill/contract, post-checks), timed around the call, with the writer of section 1 "
              "running from before the run to after it, on every database (on SQLite too: see the note below)."]

    lines += ["", "## 3. Post-checks: safeshift.checks vs the same checks as hand-written SQL", "",
              "| database | kinds used | safeshift | by hand | ratio (target ≤ 1.5) | passed |",
              "|---|---|---:|---:|---:|---:|"]
    for k in dbs:
        c = results[k].get("checks", {})
        lines.append(
            f"| {k} | {', '.join(c.get('kinds', [])) or c.get('error', '–')} | {fmt(c.get('safeshift_s'), 3)} s "
            f"| {fmt(c.get('by_hand_s'), 3)} s | {fmt(c.get('ratio'))} | {c.get('safeshift_passed', '–')} |"
        )
    lines += ["", "Method: on the migrated database of section 2, `build_checks(load_plan('examples/family/safeshift.toml'), "
              "'post')` run by `run_checks` once, vs one plain SQL query per check (the same invariant: counts, anti-joins, "
              "a regex for invite codes, a catalog query for the index, the latency query once) run once on the same "
              "connection. The latency kind runs its query 1 + 20 times by design."]

    lines += ["", "## 4. table_unchanged on users vs SELECT COUNT(*)", "",
              "| database | leaves | COUNT(*) | capture | compare | (capture+compare) / COUNT | finds 1 changed cell | names its key |",
              "|---|---|---:|---:|---:|---:|---|---|"]
    for k in dbs:
        t = results[k].get("table_unchanged", {})
        for label in ("default", "per_row"):
            row = t.get(label, {})
            if not row:
                continue
            if "error" in row:
                lines.append(f"| {k} | {label} | {fmt(t.get('count_s'), 3)} s | error: {row['error']} |||||")
                continue
            lines.append(
                f"| {k} | {label} | {fmt(t.get('count_s'), 3)} s | {fmt(row.get('capture_s'), 3)} s | {fmt(row.get('compare_s'), 3)} s "
                f"| {fmt(row.get('ratio_vs_count'), 1)}× | {row.get('found_change')} | {row.get('named_key')} |"
            )
    lines += ["", "Method: `TableUnchangedCheck` on the migrated users table: capture (the snapshot phase's work), "
              "compare unchanged, then one UPDATE of one user's email in the middle of the key range and compare again. "
              "`default` keeps at most 65,536 leaf checksums (16 rows per leaf at this size; each leaf's position-weighted "
              "checksum locates a single changed row in it); `per_row` sets max_leaves = 1,000,000."]

    lines += ["", "## 5. Backup, verify, restore: the dialect vs the native tool by hand", "",
              "| database | backup (dialect / native) | verify (dialect / native) | restore (dialect / native) | verify by scan | native method |",
              "|---|---:|---:|---:|---:|---|"]
    for k in dbs:
        b = results[k].get("backup", {})
        if "error" in b:
            lines.append(f"| {k} | error: {b['error']} |||||")
            continue
        cells = [
            f"{fmt(b.get(f'dialect_{s}_s'))} s / {fmt(b.get(f'native_{s}_s'))} s = {fmt(b.get(f'{s}_ratio'))}×"
            for s in ("backup", "verify", "restore")
        ]
        lines.append(f"| {k} | {' | '.join(cells)} | {fmt(b.get('dialect_verify_scan_s'))} s | {b.get('native_tool', '')} |")
    lines += ["", "Method: on the migrated database of section 2: `dialect.backup`, `dialect.verify_backup` "
              "(SQLite: integrity_check + counts; servers: restore into a scratch database + exact counts), the "
              "same with `method=\"scan\"` (servers: count every table's rows in the file itself: pg_restore's "
              "data stream, the dump's INSERT tuples; nothing loaded) and `dialect.restore`, each timed, vs the "
              "native tool run as a person would."]

    lines += ["", "## 6. End to end: `safeshift run` (examples/family, set-based) vs the same steps by hand", "",
              "| database | outcome | by hand | safeshift run, backup verified by scan | ratio (target ≤ 1.25) "
              "| safeshift run, backup verified by restore (the default) | by hand + restore test | ratio |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for k in dbs:
        e = results[k].get("end_to_end", {})
        outcome = e.get("outcome", e.get("error", "–"))
        if e.get("outcome_scan") not in (None, outcome):
            outcome = f"{outcome} / {e['outcome_scan']}"
        lines.append(
            f"| {k} | {outcome} | {fmt(e.get('by_hand_s'))} s | {fmt(e.get('safeshift_run_scan_s'))} s "
            f"| {fmt(e.get('ratio_scan'))} | {fmt(e.get('safeshift_run_s'))} s | {fmt(e.get('by_hand_with_verify_s'))} s "
            f"| {fmt(e.get('ratio_with_verify'))} |"
        )
    lines += ["", "Method: three fresh copies at revision 0001. Two run `run_plan(examples/family/safeshift.toml)` "
              "(database side: its app smoke probes, maintenance file and watch window removed), timed around the "
              "call with everything it does (lint, snapshot, backup + verify, apply, post-checks, report): once with "
              "`[backup] verify = \"scan\"` (the backup's rows counted in the file), once as the plan says "
              "(`verify = \"restore\"`: loaded into a scratch database and counted). Row hashes for the rollback "
              "proof are not taken (`prove_contents = \"backup\"`: taken from the backup only if a rollback needs a "
              "proof). The third copy: pre-checks as SQL, exact row counts, the native backup, Alembic `upgrade head` "
              "in-process, post-checks as SQL, each timed; \"by hand\" is their sum (the runbook verifies its dump "
              "with `ls -lh` and `head`), \"+ restore test\" adds the native restore of the backup into a scratch "
              "database with counts, the same work as `verify = \"restore\"`."]

    if any("rollback" in results[k] for k in dbs):
        lines += rollback_report(results, dbs)

    lines += ["", "## Notes", "",
              "- SQLite under a concurrent writer: SQLite has one write lock for the whole file. A DEFERRED "
              "transaction that reads and then writes gets `database is locked` at once (SQLite's deadlock rule) "
              "whenever another connection is writing at that moment, so apply (and a rollback's downgrade) begins "
              "every transaction with BEGIN IMMEDIATE (`Dialect.apply_transactions`): it takes the lock up front, "
              "waiting up to busy_timeout (5 s), as the backfill's batches do. The writer then waits on its own "
              "busy_timeout instead of failing. Its stall is longer than one batch: SQLite's busy handler polls "
              "with growing sleeps (up to 100 ms) and misses the few milliseconds between batches, so it waits "
              "through several of them (a backfill's `pause_s` leaves it a gap).",
              "- SQLite backfill below 0.8×: every batch is a commit, and a commit in SQLite's rollback-journal mode "
              "costs three to four fsyncs (journal, journal header, database, header reset) with no group commit; "
              "at 100 ms batches (about 60 of them) that is about a quarter of the time. The walk already keeps the "
              "journal file between batches (`journal_mode = PERSIST`, 0.55× before). Larger batches amortise it: "
              "`benchmarks/run.py --db sqlite --only backfill --target-batch-seconds 0.25`. On SQLite a writer waits "
              "for every batch whatever its size (one lock for the whole file), so the 100 ms default buys little there.",
              "- Rollback (section 7) before the proof compared rows with the backup directly, it restored the "
              "backup into a scratch copy and captured table_unchanged leaf checksums there, then hashed the live "
              "tables: at 1,000,000 users (2026-12-02, the same section at commit 1d3937b) the proof took 14.2 s on "
              "SQLite (2.1× its hand checksum), 37.0 s / 29.4 s on PostgreSQL (4.5× / 2.9×) and 56.9 s / 46.7 s "
              "on MariaDB (20×; whole rollback 65 s / 67 s), downgrade / restore. A table the direct comparison "
              "does not show equal still goes that way, which names its differing keys. The rollback run shared the "
              "machine with other work (load average 5–6 on 2 cores, see the runs table): its seconds are high "
              "throughout, the ratios within a row are what count.",
              "- Rollback on MariaDB, the proof within 2× CHECKSUM TABLE: before 2026-12-02 it was 3.5–3.6×. Besides "
              "comparing rows, the proof counts rows exactly and re-runs the plan's pre-checks; the `no_orphans` "
              "pre-check (users.parent_id → users.id) took 2.9 s of it, because MariaDB runs a NOT EXISTS anti-join "
              "through a materialized subquery. The check is now written as LEFT JOIN ... IS NULL (0.27 s on "
              "MariaDB; the same plan as before on PostgreSQL and SQLite), and the rows are compared with the backup "
              "(a dump tool and file parsing, mostly outside the server) while the server counts and runs the "
              "pre-checks. The version table is no longer compared row by row when the revision already differs "
              "(that once restored the whole backup into a scratch copy to hash one row).",
              "- What a restore would discard (section 7, restore rows): the plan has no maintenance hook, so the "
              "run must assume the application wrote after apply. It proves the state as it is, then compares each "
              "table the migration reshaped (users gained family_id) key by key with the backup, which it restores "
              "into a scratch copy first: most of that column is that restore. A plan with maintenance that stays "
              "on until the post-checks pass skips it (the application was never live).",
              "- SQLite's pre-rollback backup (section 7) is mostly its verification: PRAGMA integrity_check of "
              "the file, then the rows of each table counted in it.",
              "- Raw numbers for every measurement are in the JSON file next to this one."]
    return "\n".join(lines) + "\n"


def rollback_report(results: dict[str, Any], dbs: list[str]) -> list[str]:
    lines = ["", "## 7. Rollback: pre-rollback backup + downgrade or restore + proof, vs a checksum by hand", "",
             "| database | strategy | pre-rollback backup | what a restore would discard | downgrade / restore "
             "| proof (of it: rows compared) | whole rollback (target < 60 s) | hand checksum, before + now "
             "| proof ÷ hand (target ≤ 2) | rows compared ÷ hand | proven |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for k in dbs:
        r = results[k].get("rollback")
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {k} | error: {r['error']} |||||||||")
            continue
        for strategy in ROLLBACK_STRATEGIES:
            row = r.get(strategy, {})
            hand = f"{fmt(row.get('hand_s'))} s"
            ratio = fmt(row.get("proof_ratio"))
            if "hand_md5_s" in row:
                hand += f" (md5: {fmt(row['hand_md5_s'])} s)"
                ratio += f" (md5: {fmt(row.get('proof_ratio_md5'))})"
            lines.append(
                f"| {k} | {strategy} | {fmt(row.get('backup_s'))} s | {fmt(row.get('writes_s'))} s "
                f"| {fmt(row.get('step_s'))} s "
                f"| {fmt(row.get('proof_s'))} s ({fmt(row.get('rows_compared_s'))} s) "
                f"| {fmt(row.get('rollback_s'))} s | {hand} | {ratio} | {fmt(row.get('rows_compared_ratio'))} "
                f"| {'yes' if row.get('proven') else 'no'} |"
            )
    rows = [results[k]["rollback"].get(st, {}) for k in dbs if "error" not in results[k].get("rollback", {"error": 1})
            for st in ROLLBACK_STRATEGIES]
    agreed = "and did" if rows and all(r.get("hand_equal") for r in rows) else "see `hand_equal` in the JSON"
    methods = "; ".join(f"{k}: `{results[k]['rollback'].get('hand_method')}`" for k in dbs
                        if "hand_method" in results[k].get("rollback", {}))
    lines += ["", "Method: per strategy, a fresh copy at revision 0001 and `run_plan` of examples/family (database side, "
              "as in section 6) whose post-checks are replaced by one that fails (`row_count` of users `== 0`), so "
              "the run rolls back right after apply with `[rollback] strategy` set to the row's strategy and "
              "`prove_contents = \"backup\"` (the default). The columns are the run's own phase timings: "
              "`rollback:backup` (the verified backup of the state before the rollback), `rollback:downgrade` or "
              "`rollback:restore`, and the last `prove` (revision, schema shape, exact row counts, the plan's "
              "pre-checks, and every row of every table with a primary key compared with the run's backup: the "
              "proof of the end state). The plan has no maintenance hook (as in section 6), so the application "
              "counts as live after apply: before a restore the run first learns what it would discard (a full "
              "`prove` of the state as it is, then each reshaped table compared key by key with the backup in a "
              "scratch copy: `rollback:writes`), the column \"what a restore would discard\". A downgrade needs "
              "no such step: what differs after it is kept and listed. The whole rollback is the sum of the four. `downgrade-then-restore` is not a row of its own: here the downgrade is "
              "proven, so it is the downgrade row. The same work by hand: the proof has to read the state before "
              "(the backup) AND the state now, so the hand checksum is the database's own full-table checksum of "
              "every table the proof compared, taken twice and timed together: once on a fresh copy of the "
              f"before-state, once on the rolled-back database (their digests must match, {agreed}). The proof "
              "also counts rows exactly and runs the plan's pre-checks, which the hand checksum does not: \"rows "
              "compared\" is the part of the proof that reads both states (`compared_with_backup` in the prove "
              f"phase's detail), the same work as the hand checksum; it runs alongside the counts and pre-checks, so "
              f"it can be nearly the whole proof. Hand checksums: {methods}. MariaDB's CHECKSUM TABLE is an order-independent 32-bit sum of "
              "per-row CRCs computed in the server; the md5 figure in brackets is "
              "`MD5(GROUP_CONCAT(CONCAT_WS(',', QUOTE(col), ...) ORDER BY <primary key>))` with "
              "group_concat_max_len at its maximum, a hash in key order like the other two databases'."]
    return lines


def bench_database(kind: str, source: Source, only: set[str], target: float = 0.1) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def attempt(name: str, fn: Callable[[], Any]) -> Any:
        if only and name not in only:
            return None
        try:
            value = fn()
        except Exception as exc:  # one broken measurement must not lose the others
            log(f"{kind}: {name} failed: {type(exc).__name__}: {exc}")
            value = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
        out[name] = value
        return value

    attempt("backfill", lambda: bench_backfill(kind, source, target))
    online = attempt("online", lambda: bench_online(kind, source))
    if isinstance(online, tuple):
        out["online"], url = online
        try:
            if out["online"].get("outcome") == "succeeded":
                log(f"{kind}: checks, table_unchanged, backups on the migrated database")
                attempt("checks", lambda: bench_checks(kind, url))
                attempt("table_unchanged", lambda: bench_table_unchanged(kind, url))
                attempt("backup", lambda: bench_backup(kind, url, source.workdir))
        finally:
            drop(kind, url)
    attempt("end_to_end", lambda: bench_end_to_end(kind, source))
    attempt("rollback", lambda: bench_rollback(kind, source))
    return out


def merge_runs(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the sections measured in ``new`` replaced (same number of users only)."""
    if base.get("users") != new.get("users"):
        raise SystemExit(f"--merge: {new.get('users')} users, the report has {base.get('users')}")

    def sections(results: dict[str, Any]) -> list[str]:
        return sorted({name for kind in results.values() for name in kind})

    def run_of(saved: dict[str, Any]) -> dict[str, Any]:
        facts = saved.get("facts", {})
        return {"sections": ", ".join(sections(saved["results"])), "date": facts.get("date"),
                "command": saved.get("command_line"), "load_average_at_start": facts.get("load_average_at_start"),
                "load_average_at_end": facts.get("load_average_at_end")}

    merged = json.loads(json.dumps(base))
    runs = merged.get("runs") or [run_of(base)]
    replaced = set(sections(new["results"]))
    for run in runs:  # a section measured again is no longer from its old run
        kept = [name.strip() for name in run["sections"].split(",") if name.strip() not in replaced]
        run["sections"] = ", ".join(kept)
    merged["runs"] = [r for r in runs if r["sections"]] + [run_of(new)]
    for kind, measured in new["results"].items():
        merged["results"].setdefault(kind, {}).update(measured)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=None, help="users to generate (default 1,000,000; --quick: 100,000)")
    parser.add_argument("--db", default=",".join(DBS), help="comma-separated: sqlite,postgresql,mysql")
    parser.add_argument("--quick", action="store_true", help="100,000 users unless --users says otherwise")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--only", default="", help="comma-separated sections: backfill,online,checks,table_unchanged,backup,end_to_end,rollback")
    parser.add_argument("--target-batch-seconds", type=float, default=0.1,
                        help="the backfill's target batch time in section 1 (default 0.1, the library's default)")
    parser.add_argument("--render", type=Path, default=None,
                        help="only rewrite --out from this RESULTS.json (after a change to the report's text)")
    parser.add_argument("--merge", type=Path, default=None,
                        help="with --render: overlay the sections of this RESULTS.json (a run with --only) and write "
                             "--out and its .json; the report lists each run's sections, date and command")
    args = parser.parse_args(argv)
    if args.merge is not None and args.render is None:
        parser.error("--merge needs --render (the report to merge into)")
    if args.render is not None:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.merge is not None:
            saved = merge_runs(saved, json.loads(args.merge.read_text(encoding="utf-8")))
            args.out.with_suffix(".json").write_text(json.dumps(saved, indent=2, default=str), encoding="utf-8")
        args.users = saved["users"]
        command = saved.get("command_line", "benchmarks/run.py")
        args.out.write_text(report(saved["results"], saved["facts"], args, command, saved.get("runs")), encoding="utf-8")
        log(f"wrote {args.out} from {args.render}" + (f" and {args.merge}" if args.merge else ""))
        return 0
    args.users = args.users or (100_000 if args.quick else 1_000_000)
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DBS]
    if unknown:
        parser.error(f"--db: unknown {', '.join(unknown)} (expected {', '.join(DBS)})")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    command_line = "benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])

    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="safeshift-bench-")))
        workdir.mkdir(parents=True, exist_ok=True)
        facts = machine_facts(kinds)
        log(f"generating {args.users:,} users (SQLite source)")
        started = time.perf_counter()
        source = Source(workdir, args.users)
        facts["generate_s"] = round(time.perf_counter() - started, 1)
        results: dict[str, Any] = {}
        try:
            for kind in kinds:
                log(f"== {kind}")
                results[kind] = bench_database(kind, source, only, args.target_batch_seconds)
        finally:
            for kind in source.bases:
                drop(kind, source.bases[kind])
        facts["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, facts, args, command_line), encoding="utf-8")
    args.out.with_suffix(".json").write_text(
        json.dumps({"facts": facts, "users": args.users, "command_line": command_line, "results": results}, indent=2,
                   default=str), encoding="utf-8"
    )
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
