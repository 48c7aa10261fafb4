"""Checks: declarative invariants run before and after a migration.

Importing this package registers the built-in kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from safeshift.checks import (  # noqa: F401  (importing a kind's module registers it)
    count_matches,
    every,
    fk_valid,
    index_exists,
    latency,
    no_cycles,
    no_nulls,
    no_orphans,
    not_empty,
    python_check,
    row_count,
    table_unchanged,
    unique,
)
from safeshift.checks import sql as _sql  # noqa: F401
from safeshift.checks.base import (
    CHECK_KINDS,
    CaptureFailed,
    Check,
    CheckContext,
    CheckResult,
    check_kinds,
    describe,
    get_check_class,
    register,
)
from safeshift.config.messages import validation_message
from safeshift.dialects import DIALECTS
from safeshift.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from safeshift.config.models import Plan

__all__ = [
    "CHECK_KINDS",
    "CaptureFailed",
    "Check",
    "CheckContext",
    "CheckResult",
    "build_checks",
    "capture_baseline",
    "check_kinds",
    "get_check_class",
    "register",
    "run_checks",
]


def build_checks(plan: Plan, phase: str) -> list[Check[Any]]:
    """Turn the plan's ``[[checks.<phase>]]`` entries into check objects (config errors: exit 2)."""
    specs = plan.checks.pre if phase == "pre" else plan.checks.post
    checks: list[Check[Any]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        where = f"checks.{phase}[{index}]"
        cls = CHECK_KINDS.get(spec.kind, where=f"{plan.source.name}: {where}.kind")
        try:
            config = cls.Config.model_validate(spec.model_dump())
        except ValidationError as exc:
            message = validation_message(plan.source.name, exc)
            head, _, rest = message.partition(": ")
            # rest is "key: problem", or ": problem" when the check as a whole is wrong
            raise ConfigError(f"{head}: {where}{rest if rest.startswith(': ') else '.' + rest}") from None
        check = cls(config, phase, index)
        check.base_dir = plan.base_dir
        if check.name in seen:  # results, baselines and the watch go by name
            raise ConfigError(
                f"{plan.source.name}: {where}.name: {check.name!r} is also the name of checks.{phase}[{seen[check.name]}]; "
                "names must differ (set name)"
            )
        seen[check.name] = index
        try:
            check.validate()
        except ValueError as exc:
            raise ConfigError(f"{plan.source.name}: {where}.{exc}") from None
        checks.append(check)
    return checks


# progress(done, total) after each check: checks over large tables take long enough to show
Steps = Callable[[int, int], None]


def run_checks(checks: list[Check[Any]], ctx: CheckContext, progress: Steps | None = None) -> list[CheckResult]:
    """Run checks in order, read-only; each in its own transaction so one failure cannot poison the next."""
    results = []
    with read_only(ctx.conn):
        for check in checks:
            results.append(check.run(ctx))
            if ctx.conn.in_transaction():
                ctx.conn.rollback()
            if progress is not None:
                progress(len(results), len(checks))
    return results


def read_only(conn: Connection) -> AbstractContextManager[None]:
    """The connection's database made read-only for the checks (user SQL and Python can only read)."""
    return DIALECTS.get(conn.dialect.name).read_only(conn)


def capture_baseline(checks: list[Check[Any]], ctx: CheckContext, progress: Steps | None = None) -> dict[str, Any]:
    """Call each check's :meth:`Check.capture` (snapshot phase); name -> state for ``ctx.baseline``.

    A capture that raises is stored as :class:`CaptureFailed`, so the check fails later
    with the reason instead of comparing against nothing; callers may also stop on it.
    """
    baseline: dict[str, Any] = {}
    with read_only(ctx.conn):
        for done, check in enumerate(checks, 1):
            try:
                state = check.capture(ctx)
            except BaseException as exc:  # user code included: the check reports it when measured
                state = CaptureFailed(describe(exc))
            finally:
                if ctx.conn.in_transaction():
                    ctx.conn.rollback()
            if state is not None:
                baseline[check.name] = state
            if progress is not None:
                progress(done, len(checks))
    return baseline
