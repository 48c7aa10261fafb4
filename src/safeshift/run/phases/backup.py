"""Backup: the dialect's native dump of the whole database, verified before anything changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safeshift.errors import BackupError, SafeshiftError
from safeshift.run.context import RunContext
from safeshift.run.manifest import write_manifest
from safeshift.run.retention import prune_backups
from safeshift.run.state import Backup
from safeshift.secrets import safe_url


def backup(ctx: RunContext) -> None:
    assert ctx.engine is not None
    plan, result = ctx.plan, ctx.result
    with ctx.phase("backup") as ph:
        dest = ctx.backup_dir / f"{ctx.run_id}{ctx.dialect.backup_suffix}"
        try:
            info = ctx.dialect.backup(ctx.engine, dest, lambda done, total: ctx.progress("backup", done, total))
        except SafeshiftError as exc:
            raise BackupError(f"backup failed, nothing was changed: {exc.message}") from None
        result.backup = info
        ph.detail.update(path=info.path, bytes=info.bytes)
        if plan.backup.verifies:
            try:
                info.verify_detail = ctx.dialect.verify_backup(
                    info, result.snapshot, ctx.run_id, method=plan.backup.verify,
                    progress=lambda done, total: ctx.progress("verifying the backup", done, total),
                )
            except SafeshiftError as exc:
                raise BackupError(f"backup did not verify, nothing was changed: {exc.message}") from None
            info.verified = True
            ph.detail["verified"] = True
        write_manifest(Path(info.path), safe_url(ctx.url), ctx.run_id, result.snapshot)
        ctx.write_state(Backup(info))
        _retain(ctx, Path(info.path), ph.detail)


def _retain(ctx: RunContext, current: Path, detail: dict[str, Any]) -> None:
    """``[backup] keep``: older backups of this database go; a failure to remove one is only noted."""
    try:
        removed = prune_backups(ctx.backup_dir, safe_url(ctx.url), ctx.plan.backup.keep, workdir=ctx.workdir, current=current)
    except OSError as exc:
        detail["retention_error"] = f"{exc.filename or ''}: {exc.strerror}"
        return
    if removed:
        detail["removed_backups"] = removed
        ctx.event("backup", "removed", backups=removed, keep=ctx.plan.backup.keep)
