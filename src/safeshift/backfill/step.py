"""Running a backfill declared as data (a plan step): table, ``set`` as SQL expressions, ``where``.

The plan file cannot hold SQLAlchemy expressions, so a step's ``set`` values and ``where``
are SQL text, trusted like a check's query. The batch bounds are still bound values.
The step's keys are the model :class:`safeshift.config.models.BackfillStep`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.backfill.checkpoints import CheckpointStore
from safeshift.backfill.core import (
    BackfillResult,
    ProgressFn,
    Throttle,
    _table_clause,
    backfill,
    batch_updates,
)
from safeshift.config.models import BackfillStep


def _values(step: BackfillStep) -> dict[str, Any]:
    return {column: sa.literal_column(f"({expr})") for column, expr in step.set_.items()}


def batch_sql(step: BackfillStep, dialect: SqlDialect) -> str:
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
