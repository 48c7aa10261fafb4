"""The proof's fast path: a table's rows now compared with the run's backup without loading it.

How each database does it is its dialect's ``rows_same_as_backup`` (the machinery lives in
``dialects/_rowsums.py``); this only hands it the run's backup and a scratch file name. It only
ever says "equal": a table it cannot show equal goes the slow way, which names the keys.
"""

from __future__ import annotations

from pathlib import Path

from safeshift.run.context import RunContext


def same_as_backup(ctx: RunContext, tables: list[str]) -> set[str]:
    """The tables of ``tables`` whose rows are exactly the backup's (raises if it cannot tell)."""
    backup = ctx.result.backup
    if backup is None or not tables:
        return set()
    assert ctx.engine is not None
    # ".scratch." in its name: a run that dies here leaves nothing (drop_leftovers removes it)
    scratch = ctx.backup_dir / f"{ctx.run_id}.proof.scratch{ctx.dialect.backup_suffix}"
    return ctx.dialect.rows_same_as_backup(ctx.engine, Path(backup.path), tables, scratch)
