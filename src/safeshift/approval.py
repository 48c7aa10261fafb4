"""The approval gate: a person approves a digest of exactly what they reviewed.

The digest covers the plan file, every file of the migration and the resolved target, so
an edit after review (a stale approval) is refused instead of silently run.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from safeshift.journal import now_iso
from safeshift.migrators.base import Migrator
from safeshift.plan import Plan

# Shown the digest and the database name, returns what the person typed (None: declined).
Confirm = Callable[[str, str], str | None]


def plan_digest(plan: Plan, migrator: Migrator, target: str) -> str:
    """A short, stable hash of what would run: plan, migration files, Python checks, target."""
    digest = hashlib.sha256()
    digest.update(b"plan\0" + plan.source.read_bytes())
    # Python checks next to the plan change what "verified" means: they count too.
    for path in [*migrator.files(), *sorted(plan.base_dir.glob("*.py"))]:
        try:
            name = str(path.relative_to(plan.base_dir))
        except ValueError:
            name = path.name
        digest.update(b"\0file\0" + name.encode() + b"\0" + path.read_bytes())
    digest.update(b"\0target\0" + target.encode())
    return digest.hexdigest()[:16]


@dataclass
class Approval:
    """What the person gave: a digest from the dry run, or a confirm prompt."""

    digest: str | None = None
    confirm: Confirm | None = field(default=None, repr=False)
    by: str = field(default_factory=lambda: _user())

    def record(self, digest: str, how: str) -> dict[str, Any]:
        return {"digest": digest, "by": self.by, "at": now_iso(), "how": how}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


__all__ = ["Approval", "Confirm", "plan_digest"]
