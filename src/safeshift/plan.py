"""The plan file (``safeshift.toml``) parsed into strict pydantic models.

Unknown keys are rejected and every error names the file, the key and what was
expected on one line, because a typo in a production runbook must never be ignored.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from safeshift.app.config import MaintenanceSpec, SmokeProbes, WatchSection
from safeshift.backfill.step import BackfillStep
from safeshift.errors import ConfigError

DEFAULT_PLAN = "safeshift.toml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Strict(BaseModel):
    """Base for plan sections: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSection(Strict):
    url: str = Field(description="SQLAlchemy URL; use ${ENV_VAR} so no secret sits in the file")
    allow_inline_secrets: bool = False


# Keys each migration engine reads; any other engine's key in [migration] is a mistake.
ENGINE_KEYS: dict[str, tuple[str, ...]] = {
    "alembic": ("config",),
    "sql": ("directory",),
    "command": ("up", "down", "current", "pending", "target_name", "url_env", "timeout"),
}
_COMMON_KEYS = ("engine", "target")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MigrationSection(Strict):
    """How the migration is applied: Alembic, a folder of SQL files, or an external tool.

    One model with engine-specific optional keys (not a union) so the error for a stray key
    names the key and the engine, and code reading ``config`` needs no narrowing.
    """

    engine: Literal["alembic", "sql", "command"] = "alembic"
    target: str = "head"
    # alembic
    config: str = "alembic.ini"
    # sql: NNNN_name.up.sql / .down.sql, relative to the plan
    directory: str = "migrations"
    # command: argv lists, or strings split like a shell would (no shell ever runs)
    up: tuple[str, ...] | None = None
    down: tuple[str, ...] | None = None
    current: tuple[str, ...] | None = None
    pending: tuple[str, ...] | None = None
    target_name: str | None = None
    url_env: str = "DATABASE_URL"
    timeout: float = Field(default=3600.0, gt=0, description="seconds a command may run")
    # [[migration.backfill]]: online backfills run between revisions, in plan order (runner.py)
    backfill: tuple[BackfillStep, ...] = ()

    @field_validator("up", "down", "current", "pending", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise PydanticCustomError(
                    "command_line", "expected a command line, got {problem}", {"problem": str(exc).lower()}
                ) from None
        if isinstance(value, list | tuple) and (not value or not all(isinstance(v, str) and v for v in value)):
            raise PydanticCustomError("command_line", "expected a command such as \"tool migrate up\" or [\"tool\", \"up\"]")
        return value

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise PydanticCustomError(
                "env_name", "expected an environment variable name such as DATABASE_URL, got '{value}'", {"value": value}
            )
        return value

    @field_validator("backfill")
    @classmethod
    def _unique_names(cls, value: tuple[BackfillStep, ...]) -> tuple[BackfillStep, ...]:
        # a name keys its checkpoints: two steps sharing one would resume from each other's
        seen: dict[str, int] = {}
        for index, step in enumerate(value):
            if step.label in seen:
                raise PydanticCustomError(
                    "backfill_name",
                    "[{first}] and [{index}] are both named '{name}' (a name keys its checkpoints); "
                    "give one of them its own name = \"...\"",
                    {"index": index, "name": step.label, "first": seen[step.label]},
                )
            seen[step.label] = index
        return value

    @model_validator(mode="after")
    def _keys_match_engine(self) -> MigrationSection:
        own = ENGINE_KEYS[self.engine]
        stray = sorted(set(self.model_fields_set) - set(own) - set(_COMMON_KEYS) - {"backfill"})
        if stray:
            raise PydanticCustomError(
                "engine_key",
                "key '{key}' is not used by engine '{engine}' (its keys: {keys})",
                {"key": stray[0], "engine": self.engine, "keys": ", ".join(sorted((*_COMMON_KEYS, *own)))},
            )
        if self.engine == "command":
            for key in ("up", "current"):
                if getattr(self, key) is None:
                    raise PydanticCustomError(
                        "engine_key", "engine 'command' needs key '{key}' (a command line)", {"key": key}
                    )
            # the tool's one `up` applies everything: nothing can run between two of its revisions
            for index, step in enumerate(self.backfill):
                if step.after is not None and step.after not in (self.target, self.target_name):
                    raise PydanticCustomError(
                        "backfill_after",
                        "backfill[{index}].after = '{after}': engine 'command' applies the whole migration "
                        "in one up command, so a backfill can only run after it; remove after",
                        {"index": index, "after": step.after},
                    )
        return self


def _bool_as(true: str, false: str) -> Any:
    """A validator letting ``true``/``false`` stand for two of a key's named values."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            return true if value else false
        return value

    return convert


class BackupSection(Strict):
    directory: str = ".safeshift/backups"
    # restore: load into a scratch database and count (the strongest, costs a restore);
    # scan: read the whole file and count the rows it holds per table (no server work); off
    verify: Literal["restore", "scan", "off"] = "restore"
    min_free_ratio: float = Field(default=2.0, ge=0)

    _verify_bool = field_validator("verify", mode="before")(_bool_as("restore", "off"))

    @property
    def verifies(self) -> bool:
        return self.verify != "off"


class RollbackSection(Strict):
    strategy: Literal["downgrade", "restore", "downgrade-then-restore"] = "downgrade-then-restore"
    # the proof compares every table's row hashes, not only counts, against the state before:
    # backup: hashed from the verified backup when a rollback needs the proof (free when none does);
    # snapshot: hashed from the live database in the snapshot phase (every run pays); off
    prove_contents: Literal["backup", "snapshot", "off"] = "backup"

    _prove_bool = field_validator("prove_contents", mode="before")(_bool_as("snapshot", "off"))
    # seconds a rollback waits for a database that went away (a restart, a failover) to answer
    wait_for_database: float = Field(default=60.0, ge=0)


class PreflightSection(Strict):
    """Live activity limits: a long open transaction ahead of an ALTER stalls every writer behind it."""

    long_transaction_seconds: float = Field(default=60.0, ge=0)
    max_long_transactions: int = Field(default=0, ge=0)


class ApplySection(Strict):
    """How the migration's session waits for locks, and how often it tries again."""

    lock_timeout: float = Field(default=5.0, gt=0, description="seconds a statement may wait for a lock")
    retries: int = Field(default=3, ge=0, description="extra attempts after a lock timeout")
    retry_backoff: float = Field(default=1.0, ge=0, description="seconds before the first retry; doubles")


class ApprovalSection(Strict):
    """An explicit decision before production, bound to the plan a person reviewed."""

    required: bool = False


class RehearsalSection(Strict):
    """Apply and verify on a copy restored from the fresh backup before touching the target."""

    enabled: bool = False


class LintSection(Strict):
    """Lock-hazard lint: unsuppressed findings at or above ``fail_on`` block the run in preflight.

    Severity grows with the table's size: a lock on a table of ``medium_table_rows`` rows is
    a warning, on ``large_table_rows`` an error (see ``safeshift.lint``).
    """

    fail_on: Literal["warning", "error", "never"] = "error"
    large_table_rows: int = Field(default=1_000_000, ge=1)
    medium_table_rows: int = Field(default=10_000, ge=0)
    disable: tuple[str, ...] = Field(default=(), description="rule codes never reported, e.g. SS006 or squawk:prefer-identity")

    @field_validator("disable")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"SS\d{3}|squawk:[a-z0-9-]+", code):
                raise PydanticCustomError(
                    "lint_code", "expected a rule code such as SS001 or squawk:<rule>, got '{code}'", {"code": code}
                )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> LintSection:
        if self.medium_table_rows > self.large_table_rows:
            raise PydanticCustomError("lint_sizes", "medium_table_rows must not exceed large_table_rows")
        return self


class CheckSpec(Strict):
    """A check as written in the plan; kind-specific keys are validated by the check registry."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str
    name: str | None = None


class ChecksSection(Strict):
    pre: list[CheckSpec] = Field(default_factory=list)
    post: list[CheckSpec] = Field(default_factory=list)


class Plan(Strict):
    database: DatabaseSection
    migration: MigrationSection = Field(default_factory=MigrationSection)
    backup: BackupSection = Field(default_factory=BackupSection)
    preflight: PreflightSection = Field(default_factory=PreflightSection)
    apply: ApplySection = Field(default_factory=ApplySection)
    rehearsal: RehearsalSection = Field(default_factory=RehearsalSection)
    lint: LintSection = Field(default_factory=LintSection)
    approval: ApprovalSection = Field(default_factory=ApprovalSection)
    rollback: RollbackSection = Field(default_factory=RollbackSection)
    checks: ChecksSection = Field(default_factory=ChecksSection)
    # the application side (safeshift.app): maintenance mode, smoke probes, watch window
    maintenance: MaintenanceSpec | None = None
    smoke: SmokeProbes = Field(default_factory=list)
    watch: WatchSection | None = None

    # Where the plan came from; relative paths in it resolve against this folder.
    source: Path = Field(default=Path(DEFAULT_PLAN), exclude=True)

    @field_validator("source", mode="before")
    @classmethod
    def _absolute(cls, value: Any) -> Any:
        return Path(value).resolve() if value else value

    @property
    def base_dir(self) -> Path:
        return self.source.parent

    def resolve(self, relative: str | Path) -> Path:
        """A path from the plan, relative to the plan file's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def database_url(self) -> URL:
        """The target URL with ${ENV} references filled in (never stored back in the plan)."""
        return interpolate_url(self.database.url, self.source.name, self.database.allow_inline_secrets)


def workdir_of(plan: Plan, workdir: Path | None) -> Path:
    """Where runs and backups go: ``workdir`` (the --workdir option) or the plan's folder."""
    return (workdir or plan.base_dir).resolve()


def backup_dir(plan: Plan, workdir: Path | None) -> Path:
    """``[backup] directory``: ``~`` expanded, relative to the workdir."""
    path = Path(plan.backup.directory).expanduser()
    return path if path.is_absolute() else workdir_of(plan, workdir) / path


def interpolate(text: str, where: str) -> str:
    """Replace ``${VAR}`` / ``${VAR:-default}`` with environment values."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return value

    return _ENV_REF.sub(sub, text)


def interpolate_url(raw: str, filename: str, allow_inline_secrets: bool = False) -> URL:
    where = f"{filename}: database.url"
    if not allow_inline_secrets:
        literal = _ENV_REF.sub("ENV", raw)
        try:
            literal_url = make_url(literal)
        except ArgumentError:
            literal_url = None
        if literal_url is not None and literal_url.password not in (None, "", "ENV"):
            raise ConfigError(
                f"{where}: the URL holds an inline password; put the URL in an environment "
                "variable (url = \"${DATABASE_URL}\") or set allow_inline_secrets = true"
            )
    text = interpolate(raw, where)
    try:
        return make_url(text)
    except ArgumentError:
        raise ConfigError(
            f"{where}: expected a database URL such as sqlite:///app.db or "
            "postgresql://user@host/db"
        ) from None


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


def parse_plan(data: dict[str, Any], source: Path) -> Plan:
    """Validate a plan given as a dict (as read from TOML)."""
    try:
        plan = Plan.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(validation_message(source.name, exc)) from None
    # Kind-specific check keys are validated now, not at run time.
    from safeshift.checks import build_checks

    for phase in ("pre", "post"):
        build_checks(plan, phase)
    from safeshift.app.sections import validate_app_sections

    validate_app_sections(plan)
    return plan


def load_plan(path: str | Path | None = None) -> Plan:
    """Read and validate a plan file; errors are one-line ``ConfigError``s."""
    plan_path = Path(path or DEFAULT_PLAN)
    if plan_path.is_dir():
        plan_path = plan_path / DEFAULT_PLAN
    try:
        raw = plan_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{plan_path}: plan file not found (pass --plan PATH)") from None
    except OSError as exc:
        raise ConfigError(f"{plan_path}: cannot read plan file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{plan_path.name}: not valid TOML: {exc}") from None
    return parse_plan(data, plan_path)
