"""A backup's manifest: which database it is of, when, how big, and its checksum.

Written beside every backup safeshift takes (``<backup>.manifest.json``, only once the
backup file is complete), and read before a restore: a file of another database, a torn
``.part`` file or one changed since are refused, so a restore never replaces a database
with something that is not its own backup.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safeshift.errors import ConfigError
from safeshift.journal import now_iso

SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Manifest:
    database: str  # the database's URL as shown (password masked)
    run_id: str
    created: str
    bytes: int
    sha256: str
    row_counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(backup: Path, database: str, run_id: str, row_counts: dict[str, int]) -> Manifest:
    """Record the finished backup (written to a temporary name first, then renamed: never torn)."""
    manifest = Manifest(database, run_id, now_iso(), backup.stat().st_size, file_sha256(backup), dict(row_counts))
    path = manifest_path(backup)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest.to_dict(), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return manifest


def check_backup_for(backup: Path, database: str) -> Manifest:
    """The backup's manifest, if the file is a complete, unchanged safeshift backup of ``database``."""
    path = manifest_path(backup)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except FileNotFoundError:
        raise ConfigError(
            f"{backup}: no {path.name} beside it: not a complete backup taken by safeshift "
            "(a .part file is a torn one); nothing was changed"
        ) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc}); nothing was changed") from None
    if manifest.database != database:
        raise ConfigError(
            f"{backup} is a backup of {manifest.database}, not of {database}; nothing was changed"
        )
    size = backup.stat().st_size
    if size != manifest.bytes or file_sha256(backup) != manifest.sha256:
        raise ConfigError(f"{backup} changed since it was taken (size or checksum differ); nothing was changed")
    return manifest
