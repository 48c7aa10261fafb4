"""A run killed while it holds a full copy of the data (a scratch database for backup
verification or for the proof) leaves nothing behind for long: its copies are named after
it, and recovering it (or the next run on the database) drops them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ItemsDb, items_plan, server_databases
from safeshift.faults import EXIT_CODE

pytestmark = pytest.mark.slow


def write_plan(folder: Path, forgetful: bool = False) -> Path:
    """``forgetful``: the downgrade leaves one changed cell, so the proof after it compares
    hashes in a scratch copy (rows the direct comparison shows equal need none); the restore
    that follows (downgrade-then-restore) puts it back."""
    plan = items_plan(
        folder,
        f'\n[rollback]\nstrategy = "{"downgrade-then-restore" if forgetful else "downgrade"}"\nprove_contents = "backup"\n\n'
        '[[checks.post]]\nname = "fails on purpose"\nkind = "sql"\nquery = "SELECT COUNT(*) FROM items"\nexpect = "== 0"\n',
        verify="restore",
    )
    if forgetful:
        up = folder / "migrations" / "0001_extra.up.sql"
        up.write_text(up.read_text() + "UPDATE items SET qty = qty + 1000 WHERE id = 7;\n")
    return plan


def scratch(kind: str, database: str | None, work: Path | None = None) -> set[str]:
    """Scratch copies: server databases named ``*_safeshift_*``, file copies beside the backups."""
    folder = (work or Path("/nonexistent")) / ".safeshift" / "backups"
    files = {p.name for p in folder.glob("*") if ".scratch." in p.name or p.name.endswith(".part")}
    if kind == "sqlite":
        return files
    return files | {n for n in server_databases(kind) if "_safeshift_" in n and n.startswith((database or "")[:20])}


def cli(items_db: ItemsDb, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(items_db.env)
    if fault:
        env["SAFESHIFT_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "safeshift.cli", *args], env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize(
    ("db_kind", "fault"),
    [(k, f) for k in ("postgresql", "mysql") for f in ("backup:verify:loaded", "scratch:before")]
    + [("sqlite", "scratch:before"), ("mysql", "proof:live-dump")],
)
def test_a_kill_holding_a_scratch_copy_is_cleaned_up_by_its_recovery(items_db: ItemsDb, tmp_path: Path, fault: str) -> None:
    plan, work = write_plan(tmp_path / "plan", forgetful=fault == "scratch:before"), tmp_path / "w"
    before = scratch(items_db.kind, items_db.url.database, work)
    killed = cli(items_db, "run", "--plan", str(plan), "--workdir", str(work), fault=fault)
    assert killed.returncode == EXIT_CODE, killed.stdout + killed.stderr
    left = scratch(items_db.kind, items_db.url.database, work) - before
    assert left, "the kill left its scratch copy (else this test proves nothing)"
    run_id = next((work / ".safeshift" / "runs").iterdir()).name
    assert all(run_id.lower()[-6:] in name for name in left)  # named after its run
    rolled = cli(items_db, "rollback", run_id, "--plan", str(plan), "--workdir", str(work), "--json")
    assert rolled.returncode in (0, 3), rolled.stdout + rolled.stderr
    assert json.loads(rolled.stdout)["outcome"] in ("noop", "rolled_back")
    assert scratch(items_db.kind, items_db.url.database, work) - before == set()
    assert not list((work / ".safeshift" / "backups").glob("*.part"))


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_the_next_run_drops_what_a_dead_run_left(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, work = write_plan(tmp_path / "plan"), tmp_path / "w"
    before = scratch(items_db.kind, items_db.url.database)
    assert cli(items_db, "run", "--plan", str(plan), "--workdir", str(work), fault="backup:verify:loaded").returncode == EXIT_CODE
    assert scratch(items_db.kind, items_db.url.database) - before
    again = cli(items_db, "run", "--plan", str(plan), "--workdir", str(work), "--json")
    assert again.returncode == 3, again.stdout + again.stderr  # its own post-check fails on purpose: rolled back
    assert scratch(items_db.kind, items_db.url.database) - before == set()
