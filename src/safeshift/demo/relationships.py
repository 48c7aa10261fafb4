"""``safeshift demo relationships``: the couples → relationships cutover on a fresh database.

Builds the "before" database (the example's 0001_baseline plus generated couples), then runs
``examples/relationships/safeshift.toml`` against it with :func:`run_plan`. To show a
rollback, ``break_mode`` runs a copy of the example whose 0002 is broken on purpose:
``check`` strips one relationship of its members (post-checks fail after the migration),
``apply`` fails right after the migration's first DDL statement.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from safeshift.demo import BreakMode, DbKind, _env, examples_dir, fresh_database
from safeshift.demo.relationships_data import TABLES, RelationshipsData, generate
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import load_plan
from safeshift.migrators.sqlfiles import SqlFilesMigrator, split_statements
from safeshift.run import Observer, RunResult, run_plan

DEMO_DATABASE = "safeshift_demo_relationships"
URL_ENV = "RELATIONSHIPS_DATABASE_URL"
BASELINE = "0001"

# Appended to (check) or inserted after the first statement of (apply) 0002's up files. The
# apply break fails on the data (a duplicate key), as a real one would: the schema-only copy
# the post-checks are validated on (no rows) migrates cleanly.
_BREAKS: dict[str, str] = {
    "check": "DELETE FROM relationship_members WHERE relationship_id = (SELECT MIN(id) FROM relationships)",
    "apply": "INSERT INTO couples SELECT * FROM couples LIMIT 1",
}


@dataclass
class RelationshipsDemoResult:
    """The demo's data set plus the run it made."""

    database: str
    data: RelationshipsData
    run: RunResult
    plan: str

    @property
    def exit_code(self) -> int:
        return int(self.run.exit_code)

    def to_dict(self) -> dict[str, Any]:
        demo = {"database": self.database, "plan": self.plan, "data": self.data.to_dict()}
        return {**self.run.to_dict(), "demo": demo}


def example_dir() -> Path:
    path = examples_dir() / "relationships"
    if not (path / "safeshift.toml").is_file():
        raise ConfigError(f"the relationships example is not at {path}; set SAFESHIFT_EXAMPLES to the repository's examples/ folder")
    return path


def prepare_relationships_database(
    db: DbKind,
    workdir: Path,
    couples: int,
    *,
    seed: int = 42,
    edge_cases: bool = False,
    name: str = DEMO_DATABASE,
) -> tuple[URL, RelationshipsData]:
    """A fresh database holding the schema before the change (0001_baseline) and generated data."""
    url = fresh_database(db, workdir, name)
    with _env(**{URL_ENV: url.render_as_string(hide_password=False)}):
        plan = load_plan(example_dir() / "safeshift.toml")
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            SqlFilesMigrator(plan).upgrade(conn, BASELINE)
            data = generate(conn, couples, seed=seed, edge_cases=edge_cases)
            dialect.after_bulk_load(conn, TABLES)
            conn.commit()
    finally:
        engine.dispose()
    return url, data


def broken_copy(example: Path, home: Path, mode: BreakMode) -> Path:
    """A copy of the example whose 0002 up files fail the way ``mode`` says (the original is untouched)."""
    dest = home / f"plan-broken-{mode}"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(example, dest, ignore=shutil.ignore_patterns(".safeshift"))
    for path in sorted((dest / "migrations").rglob("0002_*.up.sql")):
        folder = path.parent.name
        statements = split_statements(path.read_text(encoding="utf-8"), "" if folder == "migrations" else folder)
        if mode == "apply":
            statements.insert(1, _BREAKS[mode])
        else:
            statements.append(_BREAKS[mode])
        header = f"-- demo copy of {path.name}, broken on purpose ({mode}): see safeshift/demo/relationships.py\n"
        path.write_text(header + "".join(f"{s};\n\n" for s in statements), encoding="utf-8")
    return dest


def demo_relationships(
    *,
    db: DbKind = "sqlite",
    couples: int = 50_000,
    break_mode: BreakMode | None = None,
    edge_cases: bool = False,
    workdir: Path | None = None,
    observer: Observer | None = None,
    seed: int = 42,
    database_name: str = DEMO_DATABASE,
) -> RelationshipsDemoResult:
    """Build the couples database before the change and run the relationships cutover on it.

    ``database_name`` lets concurrent callers (tests) avoid each other's scratch database.
    """
    if couples < 1:
        raise ConfigError(f"--couples: expected at least 1, got {couples}")
    if break_mode is not None and break_mode not in _BREAKS:
        raise ConfigError(f"--break-mode: expected check or apply, got {break_mode!r}")
    example = example_dir()
    home = (workdir or Path(".safeshift") / "demo" / f"relationships-{db}").resolve()
    home.mkdir(parents=True, exist_ok=True)  # never wiped: earlier runs and backups stay as evidence
    plan_dir = broken_copy(example, home, break_mode) if break_mode else example
    url, data = prepare_relationships_database(db, home, couples, seed=seed, edge_cases=edge_cases, name=database_name)
    with _env(**{URL_ENV: url.render_as_string(hide_password=False)}):
        plan = load_plan(plan_dir / "safeshift.toml")
        result = run_plan(plan, workdir=home, observer=observer)
    return RelationshipsDemoResult(
        database=url.render_as_string(hide_password=True), data=data, run=result, plan=str(plan.source)
    )
