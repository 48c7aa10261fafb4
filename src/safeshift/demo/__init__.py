"""``safeshift demo``: the seeds' cutovers on a fresh database, end to end.

The demo builds the "before" database (the example's first revision plus generated
data), then runs the example's real plan file against it with :func:`run_plan`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import URL, make_url

from safeshift.demo.family_data import FamilyData, generate
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError
from safeshift.loading import load_plan
from safeshift.migrators.alembic import AlembicMigrator
from safeshift.run import Observer, RunResult, run_plan
from safeshift.secrets import register_url

DbKind = Literal["sqlite", "postgresql", "mysql"]
BreakMode = Literal["check", "apply", "app"]
DEMO_DATABASE = "safeshift_demo_family"

# Servers the demo (and the tests) create their scratch databases on; override with env vars.
SERVER_URLS: dict[str, tuple[str, str]] = {
    "postgresql": ("SAFESHIFT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mysql": ("SAFESHIFT_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}


DEMO_EXTRA = "pip install 'safeshift[demo]'"
DEMO_EXTRA_MODULES = ("fastapi", "uvicorn", "multipart")
# The wheel ships the repository's examples/ here (pyproject: hatch force-include).
PACKAGED_EXAMPLES = Path(__file__).resolve().parent / "examples"
# A checkout (an editable install) has them at the repository's root.
CHECKOUT_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def examples_dir() -> Path:
    """The seeds' example plans: ``SAFESHIFT_EXAMPLES`` when set, else the copy packaged in the
    wheel, else the checkout's ``examples/`` folder."""
    env = os.environ.get("SAFESHIFT_EXAMPLES")
    candidates = [Path(env)] if env else [PACKAGED_EXAMPLES, CHECKOUT_EXAMPLES]
    for path in candidates:
        if (path / "family" / "safeshift.toml").is_file():
            return path
    raise ConfigError(
        f"examples not found at {' or '.join(map(str, candidates))}; "
        "set SAFESHIFT_EXAMPLES to the repository's examples/ folder"
    )


def require_demo_extra(what: str) -> None:
    """Refuse, in one line saying how to install it, when the demo extra (the web app's
    fastapi, uvicorn and python-multipart) is missing."""
    missing = [name for name in DEMO_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"{what} needs the optional demo extra ({', '.join(missing)} not installed): {DEMO_EXTRA}")


def server_url(kind: str) -> URL:
    env, default = SERVER_URLS[kind]
    return make_url(os.environ.get(env) or default)


@dataclass
class DemoResult:
    """The demo's data set plus the run it made."""

    database: str
    data: FamilyData
    run: RunResult

    @property
    def exit_code(self) -> int:
        return int(self.run.exit_code)

    def to_dict(self) -> dict[str, Any]:
        return {**self.run.to_dict(), "demo": {"database": self.database, "data": self.data.to_dict()}}


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fresh_database(kind: DbKind, workdir: Path, name: str = DEMO_DATABASE) -> URL:
    """An empty database for the demo: a new SQLite file, or a re-created server database."""
    if kind == "sqlite":
        path = workdir / f"{name}.sqlite3"
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.touch()
        return make_url(f"sqlite:///{path}")
    if kind not in SERVER_URLS:
        raise ConfigError(f"--db: expected sqlite, postgresql or mysql, got {kind!r}")
    admin = server_url(kind)
    register_url(admin)
    return get_dialect(admin).recreate_database(name)


def prepare_family_database(
    db: DbKind,
    workdir: Path,
    users: int,
    *,
    seed: int = 42,
    edge_cases: bool = False,
    name: str = DEMO_DATABASE,
) -> tuple[URL, FamilyData]:
    """A fresh database holding the chores-tracker schema (revision 0001) and generated data."""
    url = fresh_database(db, workdir, name)
    url_text = url.render_as_string(hide_password=False)
    with _env(FAMILY_DATABASE_URL=url_text):
        plan = load_plan(examples_dir() / "family" / "safeshift.toml")
    dialect = get_dialect(url)
    engine = dialect.create_engine()
    try:
        with engine.connect() as conn:
            AlembicMigrator(plan).upgrade(conn, "0001")
            conn.commit()
            data = generate(conn, users, seed=seed, edge_cases=edge_cases)
            dialect.after_bulk_load(conn, ["users", "chores", "reward_adjustments"])
            conn.commit()
    finally:
        engine.dispose()
    return url, data


def demo_family(
    *,
    db: DbKind = "sqlite",
    users: int = 100_000,
    break_mode: BreakMode | None = None,
    edge_cases: bool = False,
    workdir: Path | None = None,
    observer: Observer | None = None,
    seed: int = 42,
    database: str = DEMO_DATABASE,
) -> DemoResult:
    """Build the chores-tracker database before the change and run the family cutover on it.

    On a server the demo database ``database`` is dropped and created anew.
    """
    if users < 2:
        raise ConfigError(f"--users: expected at least 2, got {users}")
    require_demo_extra("the family demo")
    from safeshift.demo.family_app import start_app
    example = examples_dir() / "family"
    demo_dir = (workdir or Path(".safeshift") / "demo" / f"family-{db}").resolve()
    demo_dir.mkdir(parents=True, exist_ok=True)  # never wiped: earlier runs and backups stay as evidence
    url, data = prepare_family_database(db, demo_dir, users, seed=seed, edge_cases=edge_cases, name=database)
    url_text = url.render_as_string(hide_password=False)
    maintenance_file, log_file = demo_dir / "maintenance_mode", demo_dir / "app.log"
    maintenance_file.unlink(missing_ok=True)
    # the application the runbook protects: 503 in maintenance, smoke-tested and watched after
    with start_app(
        url, maintenance_file, broken=break_mode == "app", broken_after=3, log_file=log_file
    ) as app, _env(
        FAMILY_DATABASE_URL=url_text,
        SAFESHIFT_FAMILY_BREAK=break_mode if break_mode in ("check", "apply") else None,
        FAMILY_APP_URL=app.url,
        FAMILY_DEMO_PASSWORD=app.password,
        FAMILY_MAINTENANCE_FILE=str(maintenance_file),
        FAMILY_APP_LOG=str(log_file),
    ):
        plan = load_plan(example / "safeshift.toml")
        result = run_plan(plan, workdir=demo_dir, observer=observer)
    return DemoResult(database=url.render_as_string(hide_password=True), data=data, run=result)
