"""Validation errors as one line: the file, the first bad key and what was expected.

A typo in a production runbook must never be ignored, and its error must be readable
at a glance; every pydantic error of a plan (and of a check's or hook's own keys) is
reported through :func:`validation_message`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


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


def validation_message(filename: str, exc: ValidationError) -> str:
    """One line naming the file, the first bad key and what was expected."""
    loc, msg = _describe(exc.errors()[0])
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{filename}: {loc}: {msg}{suffix}"
