"""``[backup] keep = N``: older backups of a database go after a new one verified, except those a
recovery needs and those taken before a rollback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.dialects.base import BackupInfo
from safeshift.errors import ConfigError
from safeshift.journal import Journal
from safeshift.loading import load_plan
from safeshift.run.manifest import SUFFIX
from safeshift.run.state import Backup
from safeshift.secrets import safe_url


def kept(plan: Path) -> list[Path]:
    folder = plan.parent / ".safeshift" / "backups"
    return sorted(p for p in folder.iterdir() if not p.name.endswith(SUFFIX)) if folder.is_dir() else []


def test_keep_defaults_to_10_and_takes_a_number_or_all(tmp_path: Path) -> None:
    base = '[database]\nurl = "sqlite:///x.db"\n'
    (tmp_path / "safeshift.toml").write_text(base)
    assert load_plan(tmp_path).backup.keep == 10
    (tmp_path / "safeshift.toml").write_text(base + '[backup]\nkeep = "all"\n')
    assert load_plan(tmp_path).backup.keep == "all"
    (tmp_path / "safeshift.toml").write_text(base + "[backup]\nkeep = 0\n")
    with pytest.raises(ConfigError, match="backup.keep"):
        load_plan(tmp_path)


def test_safeshift_backup_keeps_the_newest(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "p", "keep = 2\n")
    taken = [Path(api.backup(plan).path) for _ in range(3)]
    assert kept(plan) == sorted(taken[1:])
    for gone in taken[:1]:
        assert not gone.with_name(gone.name + SUFFIX).exists()


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_run_prunes_after_its_backup_verified_but_never_what_recovery_or_a_person_needs(
    items_db: ItemsDb, tmp_path: Path
) -> None:
    plan = items_plan(tmp_path / "p", "keep = 5\n")
    old, needed = Path(api.backup(plan).path), Path(api.backup(plan).path)
    plan.write_text(plan.read_text().replace("keep = 5", "keep = 1"))
    # a run interrupted after its backup: its recovery restores that file
    journal = Journal(plan.parent / ".safeshift" / "runs" / "20200101T000000000Z-dead01" / "journal.jsonl")
    journal.event("run", "started", plan=str(plan), database=safe_url(items_db.url))
    Backup(BackupInfo(path=str(needed), bytes=needed.stat().st_size, seconds=0.0, verified=True)).write(journal)
    journal.close()
    # a backup taken before a rollback: it may hold the application's writes
    before_rollback = old.with_name("20200101T000000000Z-aaaaaa.before-rollback.sqlite3")
    shutil.copy(old, before_rollback)
    shutil.copy(old.with_name(old.name + SUFFIX), before_rollback.with_name(before_rollback.name + SUFFIX))

    result = api.run_plan(plan, force=True)
    assert result.outcome == "succeeded", result.message
    own = Path(result.backup.path)
    assert kept(plan) == sorted([own, needed, before_rollback])
    backup_phase = next(p for p in result.phases if p.name == "backup")
    assert backup_phase.detail["removed_backups"] == [str(old)]


def test_keep_all_removes_nothing(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "p", 'keep = "all"\n')
    for _ in range(3):
        api.backup(plan)
    assert len(kept(plan)) == 3
