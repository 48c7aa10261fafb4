"""SIGKILL at random moments (issue 19), seeded so a failure can be replayed: the run is
killed, then recovered as ``safeshift status`` advises, and the recovery may be killed too.
Each trial is judged by a fingerprint the test takes itself (tables, columns and types, row
count and an md5 of every table's rows in key order), never by safeshift's own proof:

- a plan whose smoke probe fails (the application answers 500 after the cutover) was
  rejected: it must end in the before-state, never migrated, whatever was killed when;
- a plan that succeeds may end in the before-state or migrated, nothing in between.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import ItemsDb, items_plan
from safeshift.dialects import get_dialect

pytestmark = pytest.mark.slow

SEED = 19
TRIALS = 2  # per plan kind and database (4 trials a database; seeded, so a failure replays)
CLI = [sys.executable, "-m", "safeshift.cli"]
UP = (
    "CREATE TABLE extra (id INTEGER PRIMARY KEY, note VARCHAR(20));\n"
    "INSERT INTO extra (id, note) SELECT id, 'copied' FROM items WHERE id <= 50;\n"
    "UPDATE items SET qty = qty + 1000 WHERE id <= 20;\n"
)
DOWN = "UPDATE items SET qty = qty - 1000 WHERE id <= 20;\nDROP TABLE extra;\n"


@pytest.fixture(scope="module")
def failing_app() -> Iterator[str]:
    """An application that is up (preflight reaches it) and answers every probe with 500."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"broken release")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()


def fingerprint(db: ItemsDb) -> dict[str, Any]:
    """The database as plain SQL sees it: no safeshift code involved."""
    engine = sa.create_engine(get_dialect(db.url).create_engine().url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            found: dict[str, Any] = {}
            for table in sorted(insp.get_table_names()):
                columns = [(c["name"], str(c["type"]).split("(")[0].upper()) for c in insp.get_columns(table)]
                quoted = conn.dialect.identifier_preparer.quote(table)
                rows = conn.execute(sa.text(f"SELECT * FROM {quoted} ORDER BY 1")).all()  # noqa: S608 - catalog names
                if table in ("safeshift_versions", "alembic_version"):
                    if not rows:
                        continue  # an empty version table is the same revision as none: base
                    rows = [r[:1] for r in rows]  # the revision; when it was applied differs by run
                digest = hashlib.md5(repr([tuple(map(str, r)) for r in rows]).encode()).hexdigest()  # noqa: S324
                found[table] = (columns, len(rows), digest)
            return found
    finally:
        engine.dispose()


def _cli(args: list[str], env: dict[str, str], kill_after: float | None) -> int | None:
    """Run a command; SIGKILL it after ``kill_after`` seconds if it is still going. None: killed."""
    proc = subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=kill_after) if kill_after is not None else proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def _advice(plan: Path, work: Path, env: dict[str, str]) -> list[str]:
    """What status says to run next, for every run that needs something done."""
    shown = subprocess.run(
        [*CLI, "status", "--plan", str(plan), "--workdir", str(work), "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    nexts = [run.get("next") for run in json.loads(shown.stdout).get("runs", [])]
    return [n for n in nexts if n]


def _trial(db: ItemsDb, folder: Path, rng: random.Random, extra: str, span: float) -> tuple[dict[str, Any], str]:
    plan = items_plan(folder / "plan", extra)
    (folder / "plan" / "migrations" / "0001_extra.up.sql").write_text(UP)
    (folder / "plan" / "migrations" / "0001_extra.down.sql").write_text(DOWN)
    work = folder / "w"
    env = dict(db.env)
    _cli(["run", "--plan", str(plan), "--workdir", str(work)], env, rng.uniform(0.2, span))
    history = []
    for attempt in range(8):
        advice = _advice(plan, work, env)
        if not advice:
            break
        command = advice[0].split("  ")[0].split()  # "safeshift rollback RUN  (why)"
        assert command[0] == "safeshift" and command[1] in ("resume", "rollback"), advice
        kill = rng.uniform(0.2, span) if attempt < 2 and rng.random() < 0.5 else None  # the recovery killed too
        code = _cli([*command[1:], "--plan", str(plan), "--workdir", str(work)], env, kill)
        history.append(f"{command[1]}:{'killed' if code is None else code}")
    else:
        pytest.fail(f"still not recovered after 8 attempts: {history}")
    return fingerprint(db), " ".join(history)


def test_random_kills_end_before_or_migrated_and_never_against_the_verdict(
    items_db: ItemsDb, tmp_path: Path, failing_app: str
) -> None:
    flag = tmp_path / "maintenance_on"
    accepted = f'\n[maintenance]\nkind = "file"\npath = "{flag}"\n\n[rollback]\nstrategy = "downgrade-then-restore"\n'
    rejected = accepted + f'\n[[smoke]]\nname = "health"\nurl = "{failing_app}"\n'
    before = fingerprint(items_db)
    # the migrated state, and how long a whole run takes here (the kills fall inside it)
    started = time.monotonic()
    probe = tmp_path / "probe"
    plan = items_plan(probe / "plan", accepted)
    (probe / "plan" / "migrations" / "0001_extra.up.sql").write_text(UP)
    (probe / "plan" / "migrations" / "0001_extra.down.sql").write_text(DOWN)
    assert _cli(["run", "--plan", str(plan), "--workdir", str(probe / "w")], dict(items_db.env), None) == 0
    span = max(1.0, time.monotonic() - started)
    migrated = fingerprint(items_db)
    assert _cli(["rollback", next((probe / "w" / ".safeshift" / "runs").iterdir()).name, "--plan", str(plan),
                 "--workdir", str(probe / "w")], dict(items_db.env), None) == 3
    assert fingerprint(items_db) == before

    rng = random.Random(f"{SEED}-{items_db.kind}")
    outcomes = []
    for trial in range(2 * TRIALS):
        kind, extra = ("rejected", rejected) if trial % 2 == 0 else ("accepted", accepted)
        folder = tmp_path / f"t{trial}"
        state, history = _trial(items_db, folder, rng, extra, span)
        ended = "before" if state == before else "migrated" if state == migrated else "TORN"
        outcomes.append((kind, ended, history))
        assert ended != "TORN", (trial, kind, history, state)
        if kind == "rejected":
            assert ended == "before", (trial, history)  # a rejected migration never ends migrated
        assert not flag.exists(), (trial, history)  # every way out ends with maintenance off
        if ended == "migrated":  # the next trial starts from the before-state again
            last = sorted((folder / "w" / ".safeshift" / "runs").iterdir())[-1].name
            undo = ["rollback", last, "--plan", str(folder / "plan" / "safeshift.toml"), "--workdir", str(folder / "w")]
            assert _cli(undo, dict(items_db.env), None) == 3
            assert fingerprint(items_db) == before
    print(outcomes)
