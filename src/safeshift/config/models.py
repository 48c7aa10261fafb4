"""The plan file's sections as strict pydantic models, and :class:`Plan`, the whole file.

Unknown keys are rejected and every error names the file, the key and what was expected
on one line (:mod:`safeshift.config.messages`), because a typo in a production runbook
must never be ignored. What a model cannot check alone (each check kind's keys, each
maintenance hook's keys, names that refer to other sections) is checked when the plan
is loaded (``safeshift.loading``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import URL

from safeshift.config.env import interpolate_url, placeholders, strings
from safeshift.config.triggers import Trigger, TriggerError, parse_trigger

DEFAULT_PLAN = "safeshift.toml"


# -- [[migration.backfill]] ------------------------------------------------------------------
# The plan file cannot hold SQLAlchemy expressions, so a step's ``set`` values and ``where``
# are SQL text, trusted like a check's query (safeshift.backfill.step runs it).


class BackfillStep(BaseModel):
    """``[[migration.backfill]]`` keys; unknown keys are errors like everywhere in a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    table: str
    set_: dict[str, str] = Field(alias="set", min_length=1)  # column -> SQL expression
    where: str | None = None
    key: str = "id"
    name: str | None = None
    # the revision to reach before this backfill runs (None: the migration's target); read by
    # the runner, ignored by run_backfill_step
    after: str | None = Field(default=None, min_length=1)
    target_batch_seconds: float = Field(default=0.1, gt=0)
    batch_size: int = Field(default=500, ge=1)
    max_batch_size: int = Field(default=50_000, ge=1)
    max_replica_lag_s: float | None = Field(default=10.0, gt=0)
    max_running: int | None = Field(default=25, ge=1)
    lock_timeout_s: float | None = Field(default=None, gt=0)

    @property
    def label(self) -> str:
        """``name``, else ``table:col1,col2`` as backfill() names it: the key of its checkpoints."""
        return self.name or f"{self.table}:{','.join(self.set_)}"


# -- the application side: [maintenance], [[smoke]], [watch] (safeshift.app runs them) -------


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAPTURE = re.compile(r"^(status|body|json\.\S+|header\.[A-Za-z0-9_-]+)$")
_URL_START = re.compile(r"^(https?://|\$\{|\{)", re.IGNORECASE)
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# The runbook's rollback triggers: "Error rates >1%", "API response times >500ms consistently".
DEFAULT_TRIGGERS = ("error_rate > 1%", "p95_ms > 500 for 3 ticks")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def upper_method(value: Any) -> Any:
    """Methods may be written in any case; they are compared upper-case."""
    return value.upper() if isinstance(value, str) else value


def check_url(value: str) -> str:
    """A URL must say its scheme (or come whole from ``${ENV}`` / a capture)."""
    if not _URL_START.match(value):
        raise PydanticCustomError(
            "url", "expected an http:// or https:// URL (or one starting with {env}), got '{value}'", {"value": value, "env": "${ENV}"}
        )
    return value


HttpMethod = Annotated[Method, BeforeValidator(upper_method)]
Url = Annotated[str, Field(min_length=1), AfterValidator(check_url)]


class MaintenanceSpec(BaseModel):
    """``[maintenance]`` as written; the hook kind's own model checks its keys (see app.maintenance)."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    kind: str


class SmokeProbe(_Section):
    """One HTTP request of the smoke chain, with what its answer must look like."""

    name: str = Field(min_length=1)
    method: HttpMethod = "GET"
    url: Url
    headers: dict[str, str] = Field(default_factory=dict)
    form: dict[str, str | int | float | bool] | None = None
    json_body: Any = Field(default=None, alias="json")
    timeout: float | None = Field(default=None, gt=0, description="seconds; default: the client's")
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_body: str | None = None
    expect_json: dict[str, Any] = Field(default_factory=dict, description="dotted.path -> value")
    capture: dict[str, str] = Field(default_factory=dict, description="var -> json.path | header.Name | status | body")
    budget_ms: float | None = Field(default=None, gt=0)

    @field_validator("capture")
    @classmethod
    def _captures(cls, value: dict[str, str]) -> dict[str, str]:
        for var, source in value.items():
            if not _IDENTIFIER.match(var):
                raise PydanticCustomError(
                    "capture", "capture name '{var}' must be an identifier such as token", {"var": var}
                )
            if not _CAPTURE.match(source):
                raise PydanticCustomError(
                    "capture",
                    "capture '{var}': expected 'json.path.to.value', 'header.Name', 'status' or 'body', got '{source}'",
                    {"var": var, "source": source},
                )
        return value

    @field_validator("expect_json")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            if not path or any(not part for part in path.split(".")):
                raise PydanticCustomError(
                    "json_path", "expected dotted paths such as 'user.name' or 'items.0.id', got '{path}'", {"path": path}
                )
        return value

    @model_validator(mode="after")
    def _one_body(self) -> SmokeProbe:
        if self.form is not None and self.json_body is not None:
            raise PydanticCustomError("body", "probe '{name}' has both form and json; send one body", {"name": self.name})
        return self

    def templates(self) -> list[tuple[str, str]]:
        """(where, text) of every value that may hold ``{var}`` or ``${ENV}``."""
        found = [("url", self.url)]
        found += [(f"headers.{k}", v) for k, v in self.headers.items()]
        found += [(f"form.{k}", v) for k, v in (self.form or {}).items() if isinstance(v, str)]
        found += [("json", text) for text in strings(self.json_body)]
        return found


def _check_chain(probes: list[SmokeProbe]) -> list[SmokeProbe]:
    """Names are unique and every ``{var}`` is captured by an earlier probe."""
    seen: set[str] = set()
    captured: set[str] = set()
    for probe in probes:
        if probe.name in seen:
            raise PydanticCustomError("duplicate", "probe name '{name}' is used twice", {"name": probe.name})
        seen.add(probe.name)
        for where, text in probe.templates():
            for var in placeholders(text):
                if var not in captured:
                    raise PydanticCustomError(
                        "placeholder",
                        "probe '{name}' uses {var} in {where} but no earlier probe captures it (captured: {known})",
                        {"name": probe.name, "var": "{" + var + "}", "where": where, "known": ", ".join(sorted(captured)) or "none"},
                    )
        captured.update(probe.capture)
    return probes


SmokeProbes = Annotated[list[SmokeProbe], AfterValidator(_check_chain)]


def _check_trigger(text: str) -> str:
    try:
        parse_trigger(text)
    except TriggerError as exc:
        raise PydanticCustomError("trigger", "{problem}", {"problem": str(exc)}) from None
    return text


TriggerText = Annotated[str, AfterValidator(_check_trigger)]


class WatchSection(_Section):
    """After the migration: rerun probes, count log errors, rerun checks; roll back on a trigger."""

    duration: float = Field(default=60.0, gt=0, description="seconds the window lasts")
    interval: float = Field(default=5.0, gt=0, description="seconds between ticks")
    probes: list[str] | None = Field(default=None, description="smoke probe names; default: all")
    log_file: str | None = None
    log_pattern: str = "ERROR"
    checks: list[str] = Field(default_factory=list, description="post-check names rerun each tick")
    triggers: list[TriggerText] | None = Field(
        default=None, description="default: the runbook's, plus log_errors/checks_failed > 0 when watched"
    )

    @field_validator("log_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError(
                "regex", "expected a regular expression, got '{value}' ({problem})", {"value": value, "problem": str(exc)}
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WatchSection:
        if self.interval > self.duration:
            raise PydanticCustomError(
                "interval",
                "interval ({interval}s) is longer than duration ({duration}s)",
                {"interval": self.interval, "duration": self.duration},
            )
        if "log_pattern" in self.model_fields_set and self.log_file is None:
            raise PydanticCustomError("log", "log_pattern needs log_file (the log to search)")
        for trigger in self.parsed_triggers():
            if trigger.metric == "log_errors" and self.log_file is None:
                raise PydanticCustomError("trigger", "trigger '{text}' needs log_file", {"text": trigger.text})
            if trigger.metric == "checks_failed" and not self.checks:
                raise PydanticCustomError("trigger", "trigger '{text}' needs checks = [...]", {"text": trigger.text})
        return self

    def trigger_texts(self) -> list[str]:
        """The triggers as written, or the defaults for what this window watches."""
        if self.triggers is not None:
            return list(self.triggers)
        texts = list(DEFAULT_TRIGGERS)
        if self.log_file is not None:
            texts.append("log_errors > 0")
        if self.checks:
            texts.append("checks_failed > 0")
        return texts

    def parsed_triggers(self) -> list[Trigger]:
        return [parse_trigger(text) for text in self.trigger_texts()]


# -- [[notify]]: who hears about a run (safeshift.app.notify posts) ---------------------------
NotifyEvent = Literal["started", "phase_failed", "rolled_back", "finished"]
NOTIFY_EVENTS: tuple[str, ...] = ("started", "phase_failed", "rolled_back", "finished")


class NotifyTarget(_Section):
    """A webhook told about the run: a Slack-compatible ``text`` plus the whole event as JSON.

    A notification that fails or hangs never fails the run: it is journaled, and the run waits
    for it at most ``timeout`` seconds.
    """

    url: Url
    events: list[NotifyEvent] | None = Field(default=None, min_length=1, description="default: all four")
    timeout: float = Field(default=5.0, gt=0, le=60, description="seconds a post may take")
    name: str | None = None

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


# -- the plan -------------------------------------------------------------------------------


class Strict(BaseModel):
    """Base for plan sections: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatabaseSection(Strict):
    url: str = Field(description="SQLAlchemy URL; use ${ENV_VAR} so no secret sits in the file")
    allow_inline_secrets: bool = False


# Keys each migration engine reads; any other engine's key in [migration] is a mistake.
ENGINE_KEYS: dict[str, tuple[str, ...]] = {
    "alembic": ("config",),
    "sql": ("directory",),
    "command": ("up", "down", "current", "pending", "stamp", "target_name", "url_env", "timeout"),
}
_COMMON_KEYS = ("engine", "target")


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
    stamp: tuple[str, ...] | None = None  # records {revision} as applied without running it (baseline)
    target_name: str | None = None
    url_env: str = "DATABASE_URL"
    timeout: float = Field(default=3600.0, gt=0, description="seconds a command may run")
    # [[migration.backfill]]: online backfills run between revisions, in plan order (run/phases/apply.py)
    backfill: tuple[BackfillStep, ...] = ()

    @field_validator("up", "down", "current", "pending", "stamp", mode="before")
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
        if not _IDENTIFIER.match(value):
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
    # after a backup verified, older backups of the same database beyond the newest keep are
    # removed with their manifests (never one a recovery needs, never one taken before a rollback)
    keep: Annotated[int, Field(ge=1)] | Literal["all"] = 10

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
    # rows the application wrote after maintenance went off (or with no maintenance hook):
    # keep: a downgrade that reaches the before-revision and schema keeps them (listed);
    # restore-and-save: restore anyway, every discarded row saved as SQL next to the report;
    # stop: change nothing more, maintenance stays on, a person decides
    on_writes: Literal["keep", "restore-and-save", "stop"] = "keep"
    # seconds a rollback waits for a database that went away (a restart, a failover) to answer
    wait_for_database: float = Field(default=60.0, ge=0)


class PreflightSection(Strict):
    """What is proven before any backup: live activity limits (a long open transaction ahead of an
    ALTER stalls every writer behind it), the post-checks on a schema-only copy, the probes' hosts."""

    long_transaction_seconds: float = Field(default=60.0, ge=0)
    max_long_transactions: int = Field(default=0, ge=0)
    # apply the migration to a schema-only copy (no rows) and run every post-check there before
    # the backup: a check naming a table or column the migration does not make stops the run
    # (exit 2); false when the migration cannot run on empty tables
    schema_copy: bool = True
    # each smoke probe's host must accept a connection: the application is up before we take it down
    probe_hosts: bool = True


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


_SERVER_VERSION = re.compile(r"(?i)(?:(?:postgres(?:ql)?|mysql|mariadb|sqlite)\s*)?\d+(?:\.\d+){0,2}")


class LintSection(Strict):
    """Lock-hazard lint: unsuppressed findings at or above ``fail_on`` block the run in preflight.

    Severity grows with the table's size: a lock on a table of ``medium_table_rows`` rows is
    a warning, on ``large_table_rows`` an error (see ``safeshift.lint``).
    """

    fail_on: Literal["warning", "error", "never"] = "error"
    large_table_rows: int = Field(default=1_000_000, ge=1)
    medium_table_rows: int = Field(default=10_000, ge=0)
    disable: tuple[str, ...] = Field(default=(), description="rule codes never reported, e.g. SS006 or squawk:prefer-identity")
    assume_rows: int = Field(
        default=10_000_000, ge=0, description="rows a table of unknown size counts as when no database is reachable (CI)"
    )
    unlintable: Literal["error", "warning", "allow"] = Field(
        default="error", description="what a statement, revision or file the lint could not judge counts as"
    )
    server_version: str | None = Field(
        default=None, description="the server the advice is for when no database is reachable, e.g. 13, 8.0.28, MariaDB 10.6"
    )

    @field_validator("server_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(_SERVER_VERSION, value.strip()):
            raise PydanticCustomError(
                "lint_version", "expected a version such as 15, 8.0.29 or 'MariaDB 10.6', got '{value}'", {"value": value}
            )
        return value
    observe: bool = Field(
        default=True,
        description="apply the migration to a schema-only copy in every run and dry run, and lint the locks each statement took there",
    )

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

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
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
    notify: list[NotifyTarget] = Field(default_factory=list)

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
        """The target URL with ${ENV} references filled in (never stored back in the plan).

        A relative SQLite path (``sqlite:///app.db``) is the plan's folder's file, like every
        other path in the plan, wherever safeshift is started from.
        """
        url = interpolate_url(self.database.url, self.source.name, self.database.allow_inline_secrets)
        database = url.database
        if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
            url = url.set(database=str(self.resolve(database)))
        return url
