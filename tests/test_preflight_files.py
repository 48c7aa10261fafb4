"""Every migration file that would run is read, decoded and split at preflight: a broken one
stops the run before its backup (exit 2, nothing done), not halfway through apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.errors import ExitCode


def write_plan(folder: Path, up2: bytes | None, down2: bytes | None, strategy: str = "downgrade") -> Path:
    plan = items_plan(folder, f'\n[rollback]\nstrategy = "{strategy}"\n')  # 0001 is good
    if up2 is not None:
        (folder / "migrations" / "0002_more.up.sql").write_bytes(up2)
    if down2 is not None:
        (folder / "migrations" / "0002_more.down.sql").write_bytes(down2)
    return plan


CASES = {
    "not utf-8": (b"CREATE TABLE more (id INTEGER PRIMARY KEY, note VARCHAR(9) DEFAULT '\xff\xfe');\n", b"DROP TABLE more;\n", "not UTF-8"),
    "commit in up": (b"CREATE TABLE more (id INTEGER PRIMARY KEY);\nCOMMIT;\n", b"DROP TABLE more;\n", "COMMIT"),
    "commit in down": (b"CREATE TABLE more (id INTEGER PRIMARY KEY);\n", b"DROP TABLE more;\nCOMMIT;\n", "COMMIT"),
    "no down file": (b"CREATE TABLE more (id INTEGER PRIMARY KEY);\n", None, "is missing"),
    "unterminated": (b"CREATE TABLE more (id INTEGER PRIMARY KEY, note VARCHAR(9) DEFAULT 'x);\n", b"DROP TABLE more;\n", "unterminated"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_file_stops_preflight_before_the_backup(items_db: ItemsDb, tmp_path: Path, case: str) -> None:
    up, down, said = CASES[case]
    result = api.run_plan(write_plan(tmp_path / "plan", up, down), workdir=tmp_path / "w")
    assert result.outcome == "blocked" and result.exit_code == ExitCode.USAGE, result.message
    assert said in result.message
    assert [p.name for p in result.phases] == ["preflight"]
    assert not (tmp_path / "w" / ".safeshift" / "backups").exists() or not any((tmp_path / "w" / ".safeshift" / "backups").iterdir())


def test_a_missing_down_file_is_fine_when_the_rollback_restores(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan", b"CREATE TABLE more (id INTEGER PRIMARY KEY);\n", None, strategy="restore")
    result = api.run_plan(plan, workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.OK, result.message


PLPGSQL = (
    "\ufeff-- a byte-order mark, then a function whose body holds ; and END;\n"
    "CREATE TABLE more (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);\n"
    "CREATE FUNCTION bump_more() RETURNS trigger AS $body$\n"
    "BEGIN\n  NEW.n := NEW.n + 1;\n  RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql;\n"
    "CREATE TRIGGER more_bump BEFORE INSERT ON more FOR EACH ROW EXECUTE FUNCTION bump_more();\n"
).encode()
PLPGSQL_DOWN = b"DROP TRIGGER more_bump ON more;\nDROP FUNCTION bump_more();\nDROP TABLE more;\n"


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_dollar_quoted_bodies_and_a_bom_are_split_as_postgresql_does(items_db: ItemsDb, tmp_path: Path) -> None:
    result = api.run_plan(write_plan(tmp_path / "plan", PLPGSQL, PLPGSQL_DOWN), workdir=tmp_path / "w")
    assert result.exit_code == ExitCode.OK, result.message
