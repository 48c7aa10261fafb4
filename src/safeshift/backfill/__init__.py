"""Online backfills: big updates as small committed batches, adaptive, throttled, resumable.

Inside an Alembic revision::

    from alembic import op
    from safeshift.backfill import backfill

    def upgrade():
        with op.get_context().autocommit_block():   # commit per batch, not per revision
            backfill(op.get_bind(), users, set_={"family_id": family_of_user})

Standalone: ``backfill(engine, ..., checkpoint=FileCheckpoints("backfill.json"))``.
As a plan step: ``[[migration.backfill]]`` in safeshift.toml, run between revisions by the
runner (or :func:`run_backfill_step` with a ``safeshift.config.models.BackfillStep`` from Python).
"""

from __future__ import annotations

from safeshift.backfill.bar import progress_bar
from safeshift.backfill.checkpoints import (
    CallbackCheckpoints,
    Checkpoint,
    CheckpointStore,
    FileCheckpoints,
    JournalCheckpoints,
    MemoryCheckpoints,
)
from safeshift.backfill.core import (
    BackfillContext,
    BackfillError,
    BackfillProgress,
    BackfillResult,
    BatchFn,
    ProgressFn,
    Throttle,
    backfill,
    backfill_context,
    current_context,
)
from safeshift.backfill.ops import Load, server_load
from safeshift.backfill.step import run_backfill_step

__all__ = [
    "BackfillContext",
    "BackfillError",
    "BackfillProgress",
    "BackfillResult",
    "BatchFn",
    "CallbackCheckpoints",
    "Checkpoint",
    "CheckpointStore",
    "FileCheckpoints",
    "JournalCheckpoints",
    "Load",
    "MemoryCheckpoints",
    "ProgressFn",
    "Throttle",
    "backfill",
    "backfill_context",
    "current_context",
    "progress_bar",
    "run_backfill_step",
    "server_load",
]
