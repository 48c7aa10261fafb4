"""Checks: declarative invariants run before and after a migration.

Importing this package registers the built-in kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from safeshift.checks import sql as _sql  # noqa: F401  (registers the kind)
from safeshift.checks.base import (
    Check,
    CheckContext,
    CheckResult,
    check_kinds,
    get_check_class,
    register,
)
from safeshift.errors import ConfigError

if TYPE_CHECKING:
    from safeshift.plan import Plan

__all__ = [
    "Check",
    "CheckContext",
    "CheckResult",
    "build_checks",
    "check_kinds",
    "register",
    "run_checks",
]


def build_checks(plan: Plan, phase: str) -> list[Check]:
    """Turn the plan's ``[[checks.<phase>]]`` entries into check objects (config errors: exit 2)."""
    from safeshift.plan import validation_message

    specs = plan.checks.pre if phase == "pre" else plan.checks.post
    checks: list[Check] = []
    for index, spec in enumerate(specs):
        cls = get_check_class(spec.kind)
        where = f"checks.{phase}[{index}]"
        if cls is None:
            known = ", ".join(sorted(check_kinds()))
            raise ConfigError(
                f"{plan.source.name}: {where}.kind: unknown check kind {spec.kind!r} (known: {known})"
            )
        try:
            config = cls.Config.model_validate(spec.model_dump())
        except ValidationError as exc:
            message = validation_message(plan.source.name, exc)
            head, _, rest = message.partition(": ")
            raise ConfigError(f"{head}: {where}.{rest}") from None
        checks.append(cls(config, phase, index))
    return checks


def run_checks(checks: list[Check], ctx: CheckContext) -> list[CheckResult]:
    """Run checks in order; each runs in its own transaction so one failure cannot poison the next."""
    results = []
    for check in checks:
        results.append(check.run(ctx))
        if ctx.conn.in_transaction():
            ctx.conn.rollback()
    return results
