"""Shared behaviour of the "count the offending rows" kinds and their baseline mode.

A violation check is two Core queries: one counting violations (0 passes) and one listing
the offenders' keys in key order, so a failure can name the first few. With
``baseline = true`` the offenders found in the snapshot phase are tolerated (legacy dirt
the migration did not cause) and only new ones fail.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import MAX_SAMPLES, Check, CheckConfig, CheckContext, CheckResult
from safeshift.checks.common import hashable, identity, render

# Baseline mode remembers at most this many offenders; beyond it only counts are compared.
BASELINE_CAP = 10_000


class ViolationConfig(CheckConfig):
    baseline: bool = Field(default=False, description="pass when the violations after are a subset of those before")


@dataclass(frozen=True)
class Offenders:
    """Violations recorded in the snapshot phase.

    ``keys`` maps each offender (as shown in samples, lists made tuples) to a weight: 1,
    or for ``unique`` the number of copies, so a duplicate that gains a copy counts as new.
    """

    count: int
    keys: dict[Any, int]
    complete: bool


VC = TypeVar("VC", bound=ViolationConfig)


class ViolationCheck(Check[VC]):
    """Base for kinds whose measure is "how many rows break the rule"."""

    # True when the offender query's last column is a weight rather than part of the key.
    weighted: ClassVar[bool] = False
    noun: ClassVar[str] = "offending rows"

    def violation_noun(self) -> str:
        """What one violation is, for messages ("rows with NULL")."""
        return self.noun

    @property
    def baseline_mode(self) -> bool:
        return self.config.baseline

    @abstractmethod
    def count_query(self, conn: Connection | None) -> sa.Select[Any]:
        """One number: how many violations there are."""

    @abstractmethod
    def offenders_query(self, conn: Connection | None) -> sa.Select[Any] | None:
        """The offenders' keys in key order, or None when rows have no key to show.

        ``conn`` is None when rendering for ``--dry-run`` (no inspector available).
        """

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        out = [render(self.count_query(None), dialect)]
        offenders = self.offenders_query(None)
        if offenders is not None:
            out.append(render(offenders.limit(MAX_SAMPLES), dialect))
        return out

    def _offenders(self, conn: Connection, limit: int) -> dict[Any, int] | None:
        query = self.offenders_query(conn)
        if query is None:
            return None
        found: dict[Any, int] = {}
        for row in conn.execute(query.limit(limit)):
            if self.weighted:
                key, weight = identity(row[:-1]), int(row[-1])
            else:
                key, weight = identity(row), 1
            found[hashable(key)] = weight
        return found

    def _count(self, conn: Connection) -> int:
        return int(conn.execute(self.count_query(conn)).scalar() or 0)

    def capture(self, ctx: CheckContext) -> Offenders | None:
        if not self.baseline_mode:
            return None
        count = self._count(ctx.conn)
        found = self._offenders(ctx.conn, BASELINE_CAP + 1)
        if found is None:
            raise ValueError("baseline mode needs a key to tell offenders apart: set key")
        complete = len(found) <= BASELINE_CAP
        keys = dict(list(found.items())[:BASELINE_CAP])
        return Offenders(count=count, keys=keys, complete=complete)

    def measure(self, ctx: CheckContext) -> CheckResult:
        if self.baseline_mode:
            return self._against_baseline(ctx, self.captured(ctx))
        count = self._count(ctx.conn)
        if count == 0:
            return self.result(True, value=0, expected="== 0")
        found = self._offenders(ctx.conn, MAX_SAMPLES)
        message = f"{self.violation_noun()}: {count}"
        if found is None:
            message += " (the table has no primary key: set key to list them)"
        return self.result(
            False, value=count, expected="== 0", message=message, samples=_shown(found or {})
        )

    def _against_baseline(self, ctx: CheckContext, before: Offenders | None) -> CheckResult:
        count = self._count(ctx.conn)
        if before is None:  # preflight: the baseline is taken later, in the snapshot phase
            return self.result(
                True,
                value=count,
                expected="no new offenders",
                message=f"{self.violation_noun()}: {count} now; baseline mode tolerates these, new ones will fail",
            )
        after = self._offenders(ctx.conn, BASELINE_CAP + 1) or {}
        new = {k: w for k, w in after.items() if w > before.keys.get(k, 0)}
        details: dict[str, Any] = {
            "baseline_count": before.count,
            "count": count,
            "new_offenders": _shown(new),
        }
        if before.complete:
            passed = not new
            message = f"{self.violation_noun()}: {count}, {before.count} before; {len(new)} new"
            if len(after) > BASELINE_CAP:
                message = f"{self.violation_noun()}: {count}, {before.count} before; new ones among them"
        else:
            # Offenders past the cap were never recorded, so a key missing from the
            # baseline may be old: only growth in number is decidable, and no key is
            # named as new when it might not be.
            passed = count <= before.count
            new = {}
            details["new_offenders"] = []
            message = (
                f"{self.violation_noun()}: {count}, {before.count} before (more than {BASELINE_CAP} at "
                "baseline: compared by count)"
            )
        details["baseline_complete"] = before.complete
        return self.result(
            passed,
            value=count,
            expected="no new offenders",
            message=message,
            samples=_shown(new),
            details=details,
        )


def _shown(keys: dict[Any, int]) -> list[Any]:
    return [list(k) if isinstance(k, tuple) else k for k in list(keys)[:MAX_SAMPLES]]
