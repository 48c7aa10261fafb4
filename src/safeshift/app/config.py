"""Plan sections of the application side: ``[maintenance]``, ``[[smoke]]``, ``[watch]``.

They are pydantic models like the rest of the plan (unknown keys are errors, messages
fit on one line) and are imported by :mod:`safeshift.plan`, so this module must not
import the plan module itself.
"""

from __future__ import annotations

import re
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

from safeshift.app.template import placeholders, strings
from safeshift.app.triggers import Trigger, TriggerError, parse_trigger

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAPTURE = re.compile(r"^(status|body|json\.\S+|header\.[A-Za-z0-9_-]+)$")
_URL_START = re.compile(r"^(https?://|\$\{|\{)", re.IGNORECASE)
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# The runbook's rollback triggers: "Error rates >1%", "API response times >500ms consistently".
DEFAULT_TRIGGERS = ("error_rate > 1%", "p95_ms > 500 for 3 ticks")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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

    model_config = ConfigDict(extra="allow", frozen=True)
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
            if not _NAME.match(var):
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
