"""The rollback proof compares row contents, not only counts, in both of its modes.

``prove_contents = "backup"`` (the default) hashes the verified backup in a scratch copy
only when a rollback has to be proven; ``"snapshot"`` hashes the live tables before the
migration. Either way a down-migration that forgets to undo one changed cell is caught,
named by its key, and the run ends with exit 4: a person must look.

The plan holds the application off with a maintenance hook from before apply through the
rollback, so no row can be the application's: every difference is the downgrade's.
(Without a hook the application counts as live, and differing rows are its writes.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ITEMS_URL_ENV, ItemsDb, scratch_url, server_databases
from safeshift.dialects import get_dialect
from safeshift.errors import ExitCode
from safeshift.loading import load_plan
from safeshift.migrators.sqlfiles import VERSION_TABLE
from safeshift.run import run_plan

URL_ENV = ITEMS_URL_ENV  # the plan reads the items_db fixture's database from it
ROWS = 200

UP = "UPDATE items SET qty = qty + 1000 WHERE id = 77;\nCREATE TABLE extra (id INTEGER PRIMARY KEY);\n"
DOWN_FORGETFUL = "DROP TABLE extra;\n"  # the changed cell stays changed
DOWN_CAREFUL = "UPDATE items SET qty = qty - 1000 WHERE id = 77;\nDROP TABLE extra;\n"


@pytest.fixture
def items_rows() -> int:
    return ROWS  # the items_db fixture's size here


def write_plan(folder: Path, down: str, prove: str, verify: str = "restore") -> Path:
    migrations = folder / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_touch.up.sql").write_text(UP)
    (migrations / "0001_touch.down.sql").write_text(down)
    plan = folder / "safeshift.toml"
    plan.write_text(
        f"""
[database]
url = "${{{URL_ENV}}}"

[migration]
engine = "sql"

[backup]
verify = "{verify}"

[maintenance]
kind = "file"
path = "{folder / 'maintenance_on'}"

[rollback]
strategy = "downgrade"
prove_contents = "{prove}"

[[checks.post]]
name = "fails on purpose, so the run rolls back"
kind = "sql"
query = "SELECT COUNT(*) FROM items"
expect = "== 0"
"""
    )
    return plan


def scratch_databases(db: ItemsDb) -> set[str]:
    """This test's scratch copies (others may come and go on a shared server meanwhile)."""
    if db.kind == "sqlite":
        return set()
    own = f"{db.url.database}_safeshift_"
    return {name for name in server_databases(db.kind) if name.startswith(own)}


@pytest.mark.parametrize("prove", ["backup", "snapshot"])
def test_a_cell_the_downgrade_forgot_is_found_and_named(items_db: ItemsDb, tmp_path: Path, prove: str) -> None:
    before = scratch_databases(items_db)
    result = run_plan(load_plan(write_plan(tmp_path / "plan", DOWN_FORGETFUL, prove)), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLBACK_FAILED, result.message
    assert result.rollback is not None
    proof = result.rollback.proof
    assert proof.equal is False
    assert "table items has changed rows (first keys: 77)" in proof.differences
    prove_phase = [p for p in result.phases if p.name == "prove"][-1]
    assert prove_phase.detail.get("row_hashes_from") == ("backup" if prove == "backup" else None)
    if prove == "backup":  # the direct comparison did not call it equal: the leaf hashes named the key
        assert "items" not in prove_phase.detail["compared_with_backup"]["same_rows"]
    assert scratch_databases(items_db) == before  # the proof's scratch copy is gone again


@pytest.mark.parametrize(("prove", "verify"), [("backup", "restore"), ("backup", "scan"), ("snapshot", "restore")])
def test_a_careful_downgrade_is_proven_equal(items_db: ItemsDb, tmp_path: Path, prove: str, verify: str) -> None:
    result = run_plan(load_plan(write_plan(tmp_path / "plan", DOWN_CAREFUL, prove, verify)), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert result.rollback is not None
    proof = result.rollback.proof
    assert proof.equal is True and proof.tables_hashed >= 1, proof
    if prove == "backup":  # every row compared with the backup directly: no scratch copy, no leaf hashes
        prove_phase = [p for p in result.phases if p.name == "prove"][-1]
        assert "items" in prove_phase.detail["compared_with_backup"]["same_rows"], prove_phase.detail
        checked = [c for c in result.checks if c.name.endswith("table unchanged: items")]
        assert [c.passed for c in checked] == [True] and checked[0].phase == "proof"
    backup_phase = [p for p in result.phases if p.name == "backup"][-1]
    assert result.backup is not None and result.backup.verify_detail is not None
    if kind_is_server(items_db.kind):
        assert result.backup.verify_detail["method"] == verify
    assert backup_phase.detail["verified"] is True


def kind_is_server(kind: str) -> bool:
    return kind != "sqlite"


def test_the_snapshot_hashes_rows_only_in_snapshot_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that succeeds pays for row hashes only with prove_contents = "snapshot"."""
    url = scratch_url("sqlite", tmp_path, prefix="ss_proof_ok")
    engine = get_dialect(url).create_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO items (id, qty) VALUES (1, 1)"))
    engine.dispose()
    monkeypatch.setenv(URL_ENV, url.render_as_string(hide_password=False))
    for prove in ("backup", "snapshot", "off"):
        plan_path = write_plan(tmp_path / prove, DOWN_CAREFUL, prove)
        text = plan_path.read_text().replace('expect = "== 0"', 'expect = ">= 0"')
        plan_path.write_text(text)
        result = run_plan(load_plan(plan_path), workdir=tmp_path / f"w-{prove}")
        assert result.exit_code == ExitCode.OK, result.message
        snapshot = [p for p in result.phases if p.name == "snapshot"][-1]
        assert snapshot.detail["row_hashes"] == prove
        run_dirs = list((tmp_path / f"w-{prove}" / ".safeshift" / "runs").iterdir())
        hashed = (run_dirs[0] / "baseline.json").exists()
        assert hashed == (prove == "snapshot")
        # back to the start for the next mode
        with get_dialect(url).create_engine().begin() as conn:
            conn.execute(sa.text("UPDATE items SET qty = 1"))
            conn.execute(sa.text("DROP TABLE extra"))
            conn.execute(sa.text(f"DELETE FROM {VERSION_TABLE}"))


def test_true_and_false_still_mean_what_they_meant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "sqlite:///x.db")
    path = write_plan(tmp_path / "p", DOWN_CAREFUL, "backup")
    for old, new, attr, want in (
        ('prove_contents = "backup"', "prove_contents = true", "prove_contents", "snapshot"),
        ('prove_contents = "backup"', "prove_contents = false", "prove_contents", "off"),
        ('verify = "restore"', "verify = true", "verify", "restore"),
        ('verify = "restore"', "verify = false", "verify", "off"),
    ):
        text = (tmp_path / "p" / "safeshift.toml").read_text()
        path.write_text(text.replace(old, new))
        plan = load_plan(path)
        section = plan.rollback if attr == "prove_contents" else plan.backup
        assert getattr(section, attr) == want
        path.write_text(text)


RECREATE_WIDER = (
    "CREATE TABLE items_new (id INTEGER PRIMARY KEY, qty BIGINT NOT NULL);\n"
    "INSERT INTO items_new (id, qty) SELECT id, qty FROM items;\n"
    "DROP TABLE items;\n"
    "ALTER TABLE items_new RENAME TO items;\n"
)
DOWN_KEEPS_THE_TYPE = "UPDATE items SET qty = qty WHERE 1 = 0;\n"  # every row and name back, the type not


@pytest.mark.parametrize(("strategy", "code"), [("downgrade", ExitCode.ROLLBACK_FAILED), ("downgrade-then-restore", ExitCode.ROLLED_BACK)])
def test_a_column_type_the_downgrade_left_changed_is_a_difference(
    items_db: ItemsDb, tmp_path: Path, strategy: str, code: ExitCode
) -> None:
    """Same table, columns, rows and keys, but qty is BIGINT, not INTEGER: not "proven equal"."""
    plan = write_plan(tmp_path / "plan", DOWN_KEEPS_THE_TYPE, "backup")
    (tmp_path / "plan" / "migrations" / "0001_touch.up.sql").write_text(RECREATE_WIDER)
    plan.write_text(
        plan.read_text().replace('strategy = "downgrade"', f'strategy = "{strategy}"')
        + '\n[lint]\nfail_on = "never"\n'  # the table swap is a lint error for a live app; this test is about the proof
    )
    result = run_plan(load_plan(plan), workdir=tmp_path / "w")
    assert result.exit_code == code, result.message
    assert result.rollback is not None
    first = next(p for p in result.phases if p.name == "prove")
    assert first.detail["equal"] is False
    assert any(d.startswith("table items differs: now column qty BIGINT") for d in first.detail["differences"]), first.detail
    if strategy == "downgrade-then-restore":  # proven by the restore: what it put back is still said
        assert "by a restore; before it the database differed: table items differs" in result.message
        assert "An earlier proof (before the restore) found:" in Path(result.report_md or "").read_text()


def test_when_the_direct_comparison_cannot_run_the_leaf_hashes_decide(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown is not equal: a failing fast path falls back to the scratch copy, never to "equal"."""
    from safeshift.run.phases import backup_rows

    def broken(*_args: object) -> set[str]:
        raise RuntimeError("no tool")

    monkeypatch.setattr(backup_rows, "same_as_backup", broken)
    for down, code in ((DOWN_CAREFUL, ExitCode.ROLLED_BACK), (DOWN_FORGETFUL, ExitCode.ROLLBACK_FAILED)):
        folder = tmp_path / str(code)
        result = run_plan(load_plan(write_plan(folder / "plan", down, "backup")), workdir=folder / "w")
        assert result.exit_code == code, result.message
        prove_phase = [p for p in result.phases if p.name == "prove"][-1]
        assert prove_phase.detail["compared_with_backup"] == "could not compare directly: RuntimeError: no tool"
        assert result.rollback is not None and result.rollback.proof is not None
        assert result.rollback.proof.tables_hashed >= 1
        if code == ExitCode.ROLLBACK_FAILED:
            assert "table items has changed rows (first keys: 77)" in result.rollback.proof.differences
        with get_dialect(items_db.url).create_engine().begin() as conn:  # back to the start
            conn.execute(sa.text("UPDATE items SET qty = 77 % 97 WHERE id = 77"))
