"""A backfill declared as data (a plan step): table, ``set`` as SQL expressions, ``where``.

The plan file cannot hold SQLAlchemy expressions, so a step's ``set`` values and ``where``
are SQL text, trusted like a check's query. The batch bounds are still bound values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Dialect, Engine

from safeshift.backfill.checkpoints import CheckpointStore
from safeshift.backfill.core import (
    BackfillResult,
    ProgressFn,
    Throttle,
    _table_clause,
    backfill,
    batch_updates,
)


class BackfillStep(BaseModel):
    """``[[migration.backfill]]`` keys; unknown keys are errors like everywhere in a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    table: str
    set_: dict[str, str] = Field(alias="set", min_length=1)  # column -> SQL expression
    where: str | None = None
    key: str = "id"
    name: str | None = None
    # the revision to reach before this backfill runs (None: the migration's target); read by
    # the runner, ignored by run_backfill_step
    after: str | None = Field(default=None, min_length=1)
    target_batch_seconds: float = Field(default=0.1, gt=0)
    batch_size: int = Field(default=500, ge=1)
    max_batch_size: int = Field(default=50_000, ge=1)
    max_replica_lag_s: float | None = Field(default=10.0, gt=0)
    max_running: int | None = Field(default=25, ge=1)
    lock_timeout_s: float | None = Field(default=None, gt=0)

    @property
    def label(self) -> str:
        """``name``, else ``table:col1,col2`` as backfill() names it: the key of its checkpoints."""
        return self.name or f"{self.table}:{','.join(self.set_)}"


def _values(step: BackfillStep) -> dict[str, Any]:
    return {column: sa.literal_column(f"({expr})") for column, expr in step.set_.items()}


def batch_sql(step: BackfillStep, dialect: Dialect) -> str:
    """The UPDATE every batch of ``step`` runs, compiled for ``dialect`` (the dry run shows it).

    The walk's own statement (``key > :ss_lo AND key <= :ss_hi AND where``), so what the
    dry run shows is what a run sends; ``BackfillResult.sql`` is the same text.
    """
    tbl = _table_clause(step.table, step.key, list(step.set_))
    conditions = [sa.text(step.where)] if step.where is not None else []
    ranged, _ = batch_updates(tbl, step.key, _values(step), conditions)
    return str(ranged.compile(dialect=dialect))


def run_backfill_step(
    conn_or_engine: Connection | Engine,
    step: BackfillStep | Mapping[str, Any],
    *,
    checkpoints: CheckpointStore | None = None,
    progress: ProgressFn | None = None,
) -> BackfillResult:
    """Run one declared backfill; ``checkpoints``/``progress`` default to the enclosing backfill_context."""
    spec = step if isinstance(step, BackfillStep) else BackfillStep.model_validate(dict(step))
    return backfill(
        conn_or_engine,
        spec.table,
        set_=_values(spec),
        where=spec.where,
        key=spec.key,
        name=spec.label,
        target_batch_seconds=spec.target_batch_seconds,
        batch_size=min(spec.batch_size, spec.max_batch_size),
        max_batch_size=spec.max_batch_size,
        checkpoint=checkpoints,
        progress=progress,
        throttle=Throttle(max_replica_lag_s=spec.max_replica_lag_s, max_running=spec.max_running),
        lock_timeout_s=spec.lock_timeout_s,
    )
