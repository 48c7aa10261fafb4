"""Backup retention: ``[backup] keep = N`` keeps the newest N backups of a database.

Run after a backup was written and verified, so a failed backup never costs an old one.
Only backups with a manifest of this database count (each run's, and ``safeshift backup``'s);
never removed: the backup just taken, the backup of a run that was interrupted or could not
prove its rollback (its recovery needs it), and any backup taken before a rollback (it may
hold what the application wrote, and a person may still need it).
"""

from __future__ import annotations

import json
from pathlib import Path

from safeshift.run.manifest import SUFFIX
from safeshift.run.recovery import all_runs

BEFORE_ROLLBACK = ".before-rollback"  # in the name of the backups a rollback takes first


def _backups_of(folder: Path, database: str) -> list[tuple[str, Path]]:
    """(created, backup file) of every complete backup of ``database`` in ``folder``."""
    found: list[tuple[str, Path]] = []
    for manifest in folder.glob(f"*{SUFFIX}"):
        backup = manifest.with_name(manifest.name.removesuffix(SUFFIX))
        if BEFORE_ROLLBACK in backup.name or not backup.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours to judge: leave it
        if isinstance(data, dict) and data.get("database") == database:
            found.append((str(data.get("created", "")), backup))
    return sorted(found, key=lambda item: (item[0], item[1].name), reverse=True)


def protected_backups(workdir: Path, database: str) -> set[Path]:
    """Backups the recovery of an interrupted or unproven run of ``database`` would use."""
    kept: set[Path] = set()
    for record in all_runs(workdir):
        if record.database == database and (record.interrupted or record.unproven) and record.backup is not None:
            kept.add(Path(record.backup.backup.path).resolve())
    return kept


def prune_backups(folder: Path, database: str, keep: int | str, *, workdir: Path, current: Path | None = None) -> list[str]:
    """Remove the backups of ``database`` beyond the newest ``keep`` (with their manifests);
    ``keep = "all"`` removes nothing. Returns the removed backups' paths."""
    if not isinstance(keep, int) or not folder.is_dir():
        return []
    protected = protected_backups(workdir, database)
    if current is not None:
        protected.add(current.resolve())
    removed: list[str] = []
    for _created, backup in _backups_of(folder, database)[keep:]:
        if backup.resolve() in protected:
            continue
        backup.unlink(missing_ok=True)
        backup.with_name(backup.name + SUFFIX).unlink(missing_ok=True)
        removed.append(str(backup))
    return removed
