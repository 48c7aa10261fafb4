"""``safeshift restore`` replaces a database only with its own complete, unchanged backup."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import ITEMS_URL_ENV, ItemsDb, drop_scratch, scratch_url
from safeshift import api
from safeshift.dialects import get_dialect
from safeshift.errors import ConfigError


def plan_for(folder: Path, env: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "safeshift.toml"
    path.write_text(f'[database]\nurl = "${{{env}}}"\n\n[backup]\nverify = "scan"\n')
    return path


def count(url: sa.engine.URL) -> int:
    engine = get_dialect(url).create_engine()
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM items")).scalar_one())
    finally:
        engine.dispose()


def test_only_this_databases_complete_unchanged_backup_is_restored(
    items_db: ItemsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_for(tmp_path / "plan", ITEMS_URL_ENV)
    info = api.backup(plan, workdir=tmp_path / "w")
    backup = Path(info.path)
    assert (backup.parent / (backup.name + ".manifest.json")).is_file()

    other_url = scratch_url(items_db.kind, tmp_path, prefix="ss_other")
    try:
        engine = get_dialect(other_url).create_engine()
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL)"))
        engine.dispose()
        monkeypatch.setenv("SS_OTHER_URL", other_url.render_as_string(hide_password=False))
        other = plan_for(tmp_path / "other", "SS_OTHER_URL")
        with pytest.raises(ConfigError, match="is a backup of .*, not of "):
            api.restore(other, backup)
        assert count(other_url) == 0  # untouched
    finally:
        drop_scratch(items_db.kind, other_url)

    torn = backup.with_name(backup.name + ".part")
    shutil.copyfile(backup, torn)
    for forced in (False, True):  # a torn file is refused even with --force
        with pytest.raises(ConfigError, match="partial file left by an interrupted backup"):
            api.restore(plan, torn, force=forced)
    hand_made = backup.with_name("taken-by-hand" + backup.suffix)
    shutil.copyfile(backup, hand_made)  # no manifest: refused, unless the person says so
    with pytest.raises(ConfigError, match="not a complete backup taken by safeshift"):
        api.restore(plan, hand_made)
    assert api.restore(plan, hand_made, force=True).row_counts["items"] == 200

    with open(backup, "ab") as fh:
        fh.write(b"-- changed\n")
    with pytest.raises(ConfigError, match="changed since it was taken"):
        api.restore(plan, backup)
    assert count(items_db.url) == 200


def test_a_runs_backup_restores_its_database(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = plan_for(tmp_path / "plan", ITEMS_URL_ENV)
    info = api.backup(plan, workdir=tmp_path / "w")
    engine = get_dialect(items_db.url).create_engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM items WHERE id > 100"))
    engine.dispose()
    restored = api.restore(plan, Path(info.path))
    assert restored.row_counts["items"] == 200 and count(items_db.url) == 200
