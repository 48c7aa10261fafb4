"""``kind = "latency"``: a query's p95 stays within a budget, optionally using a named index.

The runbook's "API response times < 200 ms", measured where the migration can change it:
the database. The query runs ``runs`` times after ``warmup`` untimed runs; the p95 (nearest
rank) is compared with ``budget_ms``. ``uses_index`` asks the planner (EXPLAIN) whether the
plan names that index, because a missing index is the usual cause of a slow endpoint.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import Check, CheckConfig, CheckContext, CheckResult, register
from safeshift.checks.common import Identifier, Scalar

Params = dict[str, Scalar]


class LatencyConfig(CheckConfig):
    query: str = Field(min_length=1, description="the SQL to time")
    params: Params = Field(default_factory=dict, description="values bound as :name in the query")
    budget_ms: float = Field(gt=0, description="the percentile's limit in milliseconds")
    runs: int = Field(default=20, ge=1, le=10_000, description="timed runs")
    warmup: int = Field(default=1, ge=0, le=100, description="untimed runs first")
    percentile: float = Field(default=95, gt=0, le=100, description="which percentile is held to the budget")
    uses_index: Identifier | None = Field(
        default=None, description="an index the query plan must use (PostgreSQL, MySQL)"
    )


def _walk(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in a JSON plan."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


def _sqlite_plan(conn: Connection, query: str, params: Params) -> tuple[list[str], list[str]]:
    rows = conn.execute(text("EXPLAIN QUERY PLAN " + query), params).all()
    lines = [str(row[-1]) for row in rows]
    return [m for line in lines for m in re.findall(r"USING (?:COVERING )?INDEX (\S+)", line)], lines


def _postgresql_plan(conn: Connection, query: str, params: Params) -> tuple[list[str], list[str]]:
    raw = conn.execute(text("EXPLAIN (FORMAT JSON) " + query), params).scalar()
    plan = json.loads(raw) if isinstance(raw, str | bytes) else raw
    nodes = [f"{node}" for node in _walk(plan, "Node Type")]
    return [str(name) for name in _walk(plan, "Index Name")], nodes


def _mysql_plan(conn: Connection, query: str, params: Params) -> tuple[list[str], list[str]]:
    rows = conn.execute(text("EXPLAIN " + query), params).mappings().all()
    lines = [f"{row.get('table')}: {row.get('type')} key={row.get('key')}" for row in rows]
    return [str(row["key"]) for row in rows if row.get("key")], lines


# Per dialect: (names of the indexes the plan uses, the plan in short for the report).
_PLANS: dict[str, Callable[[Connection, str, Params], tuple[list[str], list[str]]]] = {
    "sqlite": _sqlite_plan,
    "postgresql": _postgresql_plan,
    "mysql": _mysql_plan,
    "mariadb": _mysql_plan,
}
_EXPLAIN: dict[str, str] = {"sqlite": "EXPLAIN QUERY PLAN ", "postgresql": "EXPLAIN (FORMAT JSON) "}


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@register
class LatencyCheck(Check[LatencyConfig]):
    kind = "latency"
    summary = "a query's percentile time stays within a budget, optionally using a named index"

    def default_name(self) -> str:
        return f"query p{self.config.percentile:g} under {self.config.budget_ms:g} ms"

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        out = [f"{self.config.query.strip()}  -- {self.config.warmup} + {self.config.runs} runs"]
        if self.config.uses_index:
            name = dialect.name if dialect is not None else "sqlite"
            out.append(_EXPLAIN.get(name, "EXPLAIN ") + self.config.query.strip())
        return out

    def _timings(self, conn: Connection) -> list[float]:
        query, params = text(self.config.query), self.config.params
        for _ in range(self.config.warmup):
            conn.execute(query, params).fetchall()
        timings = []
        for _ in range(self.config.runs):
            started = time.perf_counter()
            conn.execute(query, params).fetchall()  # the rows are part of the response time
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    def _index_used(self, conn: Connection) -> tuple[bool, list[str], list[str]]:
        explain = _PLANS.get(conn.dialect.name)
        if explain is None:
            raise ValueError(f"uses_index is not supported on {conn.dialect.name}")
        used, plan = explain(conn, self.config.query, self.config.params)
        want = str(self.config.uses_index).casefold()
        return any(name.strip('"`').casefold() == want for name in used), used, plan

    def measure(self, ctx: CheckContext) -> CheckResult:
        cfg = self.config
        timings = self._timings(ctx.conn)
        p = round(percentile(timings, cfg.percentile), 2)
        details: dict[str, Any] = {
            "runs": len(timings),
            "min_ms": round(min(timings), 2),
            "median_ms": round(percentile(timings, 50), 2),
            "max_ms": round(max(timings), 2),
        }
        problems = []
        if p > cfg.budget_ms:
            problems.append(f"p{cfg.percentile:g} is {p} ms, over the {cfg.budget_ms:g} ms budget")
        if cfg.uses_index:
            found, used, plan = self._index_used(ctx.conn)
            details.update(indexes_used=used, plan=plan)
            if not found:
                problems.append(
                    f"the plan does not use index {cfg.uses_index} (uses: {', '.join(used) or 'no index'})"
                )
        return self.result(
            not problems,
            value=p,
            expected=f"<= {cfg.budget_ms:g} ms" + (f" using {cfg.uses_index}" if cfg.uses_index else ""),
            message="; ".join(problems),
            details=details,
        )
