"""Validation errors as text: the file, every bad key and what was expected.

A typo in a production runbook must never be ignored, and its error must be readable
at a glance; every pydantic error of a plan (and of a check's or hook's own keys) is
reported through :func:`problems` (each ``key: what is wrong``), gathered into one
:class:`~safeshift.errors.PlanProblems` so that all of them are shown at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from safeshift.errors import PlanProblems


def _describe(error: Any) -> tuple[str, str]:
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error["loc"])
    loc = loc.replace(".[", "[")
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    msg = error.get("msg", "invalid value")
    return loc, msg[0].lower() + msg[1:] if msg else msg


def problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """Every error of ``exc`` as ``key: problem``, keys under ``prefix`` (e.g. ``checks.pre[0]``).

    A problem of the whole model (no key) is ``prefix: problem``.
    """
    found: list[str] = []
    for error in exc.errors():
        loc, msg = _describe(error)
        if loc.startswith("["):
            key = f"{prefix}{loc}"
        else:
            key = ".".join(part for part in (prefix, loc) if part)
        text = f"{key}: {msg}" if key else msg
        if text not in found:
            found.append(text)
    return found


def validation_message(filename: str, exc: ValidationError) -> str:
    """The file and every problem of ``exc``: one line for one problem, else one line each."""
    return PlanProblems(filename, problems(exc)).message
