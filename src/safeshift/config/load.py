"""Reading a plan file into a :class:`~safeshift.config.models.Plan`, and the plan's folders.

:func:`load_plan` checks everything the models can check alone. The checks that need the
rest of safeshift (each check kind's keys, the maintenance hook's keys, names the watch
refers to) run on top of it in :func:`safeshift.loading.load_plan`, which is what callers use.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safeshift.config.env import interpolate_values
from safeshift.config.messages import problems, validation_message
from safeshift.config.models import DEFAULT_PLAN, MigrationSection, Plan
from safeshift.errors import ConfigError, PlanProblems

MAX_PLAN_BYTES = 1024 * 1024


def parse_plan(data: dict[str, Any], source: Path) -> Plan:
    """Validate a plan given as a dict (as read from TOML) against the models.

    ``${VAR}`` / ``${VAR:-default}`` are filled in every string value first (see
    :func:`~safeshift.config.env.interpolate_values` for the values filled in later).
    Every problem is reported at once (:class:`~safeshift.errors.PlanProblems`).
    """
    data = interpolate_values(data, source.name)
    try:
        return Plan.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise PlanProblems(source.name, problems(exc)) from None


def plan_path(path: str | Path | None = None) -> Path:
    """The plan file ``path`` names: the file itself, or ``safeshift.toml`` in a folder."""
    found = Path(path or DEFAULT_PLAN)
    return found / DEFAULT_PLAN if found.is_dir() else found


def read_plan(path: Path) -> dict[str, Any]:
    """The plan file's TOML as a dict; a missing, unreadable or malformed file is a ConfigError."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PLAN_BYTES + 1)  # never a whole /dev/zero
    except FileNotFoundError:
        raise ConfigError(f"{path}: plan file not found (pass --plan PATH)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder without {DEFAULT_PLAN} (pass --plan PATH)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read plan file: {exc.strerror}") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise ConfigError(f"{path}: not a plan file: larger than {MAX_PLAN_BYTES // 1024} KiB")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None


def load_plan(path: str | Path | None = None) -> Plan:
    """Read a plan file and validate it against the models; errors are one-line ``ConfigError``s."""
    found = plan_path(path)
    return parse_plan(read_plan(found), found)


def resolve_workdir(plan: Plan, workdir: Path | None) -> Path:
    """Where runs and backups go (the ``--workdir``): ``workdir``, else the plan's folder."""
    return (workdir or plan.base_dir).resolve()


def backup_dir(plan: Plan, workdir: Path | None) -> Path:
    """The folder backups go to: ``[backup] directory``, ``~`` expanded, relative to :func:`resolve_workdir`."""
    path = Path(plan.backup.directory).expanduser()
    return path if path.is_absolute() else resolve_workdir(plan, workdir) / path


def with_target(plan: Plan, target: str | None) -> Plan:
    """``plan`` migrating to ``target`` instead of its ``[migration] target`` (``--target``);
    the plan itself when ``target`` is None. Validated like the plan's own key."""
    if target is None:
        return plan
    if not target.strip():
        raise ConfigError("--target: expected a revision such as 0002 or head")
    data = plan.migration.model_dump(by_alias=True, exclude_unset=True)
    data["target"] = target
    try:
        migration = MigrationSection.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(f"{plan.source.name}: --target", exc)) from None
    return plan.model_copy(update={"migration": migration})
