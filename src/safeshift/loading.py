"""Loading a plan for use: the models' checks, then those that need the check kinds and hooks.

:mod:`safeshift.config` validates what the plan's models can check alone and imports no
other room; the check kinds (``safeshift.checks``) and the application side
(``safeshift.app``) add their own keys' checks here, at load time, so every mistake in a
plan is a configuration error before anything runs. Every problem found is reported at
once (:class:`~safeshift.errors.PlanProblems`), one line each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safeshift.app.sections import validate_app_sections
from safeshift.checks import check_problems
from safeshift.config import load
from safeshift.config.models import Plan
from safeshift.errors import ConfigError, PlanProblems


def validate_plan(plan: Plan) -> Plan:
    """Check what the models cannot check alone; raise PlanProblems listing every problem."""
    name = plan.source.name
    found: list[str] = []
    post_names: list[str] = []
    for phase, specs in (("pre", plan.checks.pre), ("post", plan.checks.post)):
        # kind-specific check keys are validated now, not at run time
        checks, problems = check_problems([spec.model_dump() for spec in specs], phase, plan.base_dir)
        found += problems
        if phase == "post":
            post_names = [check.name for check in checks]
    try:
        validate_app_sections(plan, post_names)
    except PlanProblems as exc:
        found += exc.problems
    except ConfigError as exc:
        found.append(exc.message.removeprefix(f"{name}: "))
    if found:
        raise PlanProblems(name, found)
    return plan


def _raw_check_problems(data: dict[str, Any], base_dir: Path) -> list[str]:
    """The check entries' own problems, read from the TOML as it is: shown with the models' problems
    even when the plan as a whole did not validate."""
    section = data.get("checks")
    if not isinstance(section, dict):
        return []
    found: list[str] = []
    for phase in ("pre", "post"):
        specs = section.get(phase)
        if isinstance(specs, list):
            found += check_problems(specs, phase, base_dir)[1]
    return found


def parse_plan(data: dict[str, Any], source: Path) -> Plan:
    """Validate a plan given as a dict (as read from TOML)."""
    try:
        plan = load.parse_plan(data, source)
    except PlanProblems as exc:
        extra = [p for p in _raw_check_problems(data, source.resolve().parent) if p not in exc.problems]
        if extra:
            raise PlanProblems(exc.filename, [*exc.problems, *extra]) from None
        raise
    return validate_plan(plan)


def load_plan(path: str | Path | None = None) -> Plan:
    """Read and validate a plan file; every problem is reported at once (exit 2)."""
    found = load.plan_path(path)
    return parse_plan(load.read_plan(found), found)
