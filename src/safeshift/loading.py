"""Loading a plan for use: the models' checks, then those that need the check kinds and hooks.

:mod:`safeshift.config` validates what the plan's models can check alone and imports no
other room; the check kinds (``safeshift.checks``) and the application side
(``safeshift.app``) add their own keys' checks here, at load time, so every mistake in a
plan is a one-line configuration error before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safeshift.app.sections import validate_app_sections
from safeshift.checks import build_checks
from safeshift.config import load
from safeshift.config.models import Plan


def validate_plan(plan: Plan) -> Plan:
    """Check what the models cannot check alone; raise a one-line ConfigError on the first problem."""
    # Kind-specific check keys are validated now, not at run time.
    build_checks(plan, "pre")
    post = build_checks(plan, "post")
    validate_app_sections(plan, [check.name for check in post])
    return plan


def parse_plan(data: dict[str, Any], source: Path) -> Plan:
    """Validate a plan given as a dict (as read from TOML)."""
    return validate_plan(load.parse_plan(data, source))


def load_plan(path: str | Path | None = None) -> Plan:
    """Read and validate a plan file; errors are one-line ``ConfigError``s."""
    return validate_plan(load.load_plan(path))
