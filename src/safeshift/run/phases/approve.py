"""Approve: a person approves a digest of exactly what they reviewed.

The digest covers the plan file, its values as loaded (``${VAR}`` filled in), every file of
the migration and the resolved target (``--target`` included), so an edit after review (a
stale approval), another environment or another target is refused instead of silently run.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from safeshift.journal import now_iso
from safeshift.run.outcome import ApprovalRecord, Stop

if TYPE_CHECKING:
    from safeshift.config.models import Plan
    from safeshift.migrators import Migrator
    from safeshift.run.context import RunContext

# Shown the digest and the database name, returns what the person typed (None: declined).
Confirm = Callable[[str, str], str | None]


def plan_digest(plan: Plan, migrator: Migrator, target: str) -> str:
    """A short, stable hash of what would run: plan, its loaded values, migration files, Python checks, target."""
    digest = hashlib.sha256()
    digest.update(b"plan\0" + plan.source.read_bytes())
    # the values as loaded: ${VAR} filled in from this environment (the URL stays as written)
    digest.update(b"\0values\0" + plan.model_dump_json(by_alias=True).encode())
    # Python checks next to the plan change what "verified" means: they count too.
    for path in [*migrator.files(), *sorted(plan.base_dir.glob("*.py"))]:
        try:
            name = str(path.relative_to(plan.base_dir))
        except ValueError:
            name = path.name
        digest.update(b"\0file\0" + name.encode() + b"\0" + path.read_bytes())
    digest.update(b"\0target\0" + target.encode())
    return digest.hexdigest()[:16]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Approval:
    """What the person gave: a digest from the dry run, or a confirm prompt."""

    digest: str | None = None
    confirm: Confirm | None = field(default=None, repr=False)
    by: str = field(default_factory=_user)

    def record(self, digest: str, how: str) -> ApprovalRecord:
        return ApprovalRecord(digest=digest, by=self.by, at=now_iso(), how=how)


def approve(ctx: RunContext) -> None:
    """Proceed only with the digest of the reviewed plan, or a typed confirmation.

    A digest given where approval is not required is still checked: a reviewed plan that
    changed since is never run as if it had been reviewed.
    """
    digest = ctx.result.digest or ""
    approval = ctx.options.approval or Approval()
    if not ctx.plan.approval.required and (approval.digest is None or approval.digest == digest):
        return
    with ctx.phase("approve") as ph:
        if approval.digest is not None:
            if approval.digest != digest:
                raise Stop(
                    "blocked",
                    f"approval refused: digest {approval.digest} does not match the plan now ({digest}); "
                    "the plan or its migration changed since review: run --dry-run again",
                )
            record = approval.record(digest, "digest")
        elif approval.confirm is not None:
            name = database_name(ctx)
            if approval.confirm(digest, name) != name:
                raise Stop("blocked", "approval refused: the database name was not typed")
            record = approval.record(digest, "typed database name")
        else:
            raise Stop("blocked", f"approval required: review `safeshift run --dry-run`, then run with --approve {digest}")
        ctx.result.approval = record
        ph.detail.update(record.to_dict())


def database_name(ctx: RunContext) -> str:
    """What a person types to approve: the database's name (a SQLite file's name)."""
    return ctx.dialect.approval_name()


__all__ = ["Approval", "Confirm", "approve", "plan_digest"]
