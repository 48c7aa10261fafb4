"""Maintenance mode hooks: tell the application to stop serving while the schema changes.

The runbook does ``touch /tmp/maintenance_mode`` before the upgrade and ``rm -f`` after.
Here that is one kind among several (a file, a command, an HTTP call), chosen by
``[maintenance] kind`` from a registry. ``off()`` is idempotent on purpose: it runs after
success, after a rollback, and again after a crash, and must never fail because the
mode is already off.
"""

from __future__ import annotations

import shlex
import subprocess
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from safeshift.app.template import render, render_data
from safeshift.config.messages import problems
from safeshift.config.models import DEFAULT_PLAN, HttpMethod, MaintenanceSpec, Url
from safeshift.errors import ConfigError, PlanProblems, SafeshiftError
from safeshift.registry import Registry
from safeshift.secrets import redact


class MaintenanceError(SafeshiftError):
    """Maintenance mode could not be switched (exit 2 when it happens before any change)."""


class HookConfig(BaseModel):
    """Keys common to every kind; each kind adds its own and rejects the others."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)
    kind: str


class MaintenanceHook(ABC):
    """One way of switching maintenance mode. Subclasses register with :func:`register_maintenance`."""

    kind: ClassVar[str]
    Config: ClassVar[type[HookConfig]] = HookConfig

    def __init__(self, config: HookConfig, *, base_dir: Path | None = None, where: str = "maintenance") -> None:
        self.config = config
        self.base_dir = base_dir
        self.where = where

    @abstractmethod
    def on(self) -> None:
        """Enter maintenance mode; raise :class:`MaintenanceError` when it did not happen."""

    @abstractmethod
    def off(self) -> None:
        """Leave maintenance mode; safe to call when it is already off."""

    def is_on(self) -> bool | None:
        """Whether maintenance mode is on, or None when this kind cannot tell."""
        return None

    @abstractmethod
    def describe(self) -> list[str]:
        """What ``on``/``off`` would do, for dry runs, secrets masked."""

    def _fail(self, action: str, problem: str) -> MaintenanceError:
        return MaintenanceError(redact(f"maintenance {action}: {problem}"))


MAINTENANCE_KINDS: Registry[type[MaintenanceHook]] = Registry("kind", key="kind")

H = TypeVar("H", bound=type[MaintenanceHook])


def register_maintenance(cls: H) -> H:
    """Class decorator: make a hook kind available to ``[maintenance] kind``."""
    MAINTENANCE_KINDS.register(cls)
    return cls


def maintenance_kinds() -> dict[str, type[MaintenanceHook]]:
    """Kind -> hook class (a copy)."""
    return MAINTENANCE_KINDS.as_dict()


def build_maintenance(
    section: MaintenanceSpec | None,
    *,
    source: str = DEFAULT_PLAN,
    base_dir: Path | None = None,
) -> MaintenanceHook | None:
    """The hook for a plan's ``[maintenance]`` (None without one); bad keys are one-line ConfigErrors.

    ``source`` names the plan file in messages; ``base_dir`` anchors relative paths.
    """
    if section is None:
        return None
    cls = MAINTENANCE_KINDS.get(section.kind, where=f"{source}: maintenance.kind")
    try:
        config = cls.Config.model_validate(section.model_dump())
    except ValidationError as exc:
        raise PlanProblems(source, [redact(p) for p in problems(exc, "maintenance")]) from None
    return cls(config, base_dir=base_dir)


# -- file ----------------------------------------------------------------------------------


class FileConfig(HookConfig):
    path: str = Field(min_length=1, description="created for on, removed for off; ${ENV} allowed")


@register_maintenance
class FileHook(MaintenanceHook):
    """The runbook's ``/tmp/maintenance_mode``: the application answers 503 while the file exists."""

    kind = "file"
    Config = FileConfig

    @property
    def path(self) -> Path:
        assert isinstance(self.config, FileConfig)
        path = Path(render(self.config.path, None, f"{self.where}.path", secret=False)).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def on(self) -> None:
        path = self.path
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            path.write_text(f"maintenance mode set by safeshift at {stamp}\n")
        except OSError as exc:
            raise self._fail("on", f"cannot create {path}: {exc.strerror or exc}") from None

    def off(self) -> None:
        path = self.path
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._fail("off", f"cannot remove {path}: {exc.strerror or exc}") from None

    def is_on(self) -> bool:
        return self.path.exists()

    def describe(self) -> list[str]:
        try:
            shown = str(self.path)
        except ConfigError:
            assert isinstance(self.config, FileConfig)
            shown = self.config.path
        return [redact(f"maintenance on: create {shown}"), redact(f"maintenance off: remove {shown} (if present)")]


# -- command -------------------------------------------------------------------------------


def _argv(value: Any) -> Any:
    """A command as a list, or a string split as a shell would split it (no shell runs it)."""
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise PydanticCustomError("argv", "expected a command line: {problem}", {"problem": str(exc)}) from None
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise PydanticCustomError("argv", 'expected a command such as "systemctl reload app" or ["tool", "arg"]')
    return tuple(value)


Argv = Annotated[tuple[str, ...], BeforeValidator(_argv)]


class CommandConfig(HookConfig):
    on: Argv
    off: Argv
    status: Argv | None = Field(default=None, description="exit 0 when maintenance is on")
    timeout: float = Field(default=30.0, gt=0, description="seconds each command may run")


@register_maintenance
class CommandHook(MaintenanceHook):
    """Run a command for on and off (and optionally one that tells whether it is on).

    Commands inherit the environment instead of having secrets written into them: a
    command line is visible to every user of the machine.
    """

    kind = "command"
    Config = CommandConfig

    @property
    def settings(self) -> CommandConfig:
        assert isinstance(self.config, CommandConfig)
        return self.config

    def _run(self, action: str, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        shown = shlex.join(argv)
        try:
            return subprocess.run(  # noqa: S603 - argv from the plan, never through a shell
                list(argv),
                capture_output=True,
                text=True,
                timeout=self.settings.timeout,
                stdin=subprocess.DEVNULL,
                cwd=self.base_dir,
                check=False,
            )
        except FileNotFoundError:
            raise self._fail(action, f"command not found: {argv[0]}") from None
        except PermissionError:
            raise self._fail(action, f"command not executable: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise self._fail(action, f"`{shown}` did not finish within {self.settings.timeout:g}s") from None

    def _checked(self, action: str, argv: tuple[str, ...]) -> None:
        done = self._run(action, argv)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            said = f": {lines[-1].strip()}" if lines else ""
            raise self._fail(action, f"`{shlex.join(argv)}` exited with {done.returncode}{said}")

    def on(self) -> None:
        self._checked("on", self.settings.on)

    def off(self) -> None:
        self._checked("off", self.settings.off)

    def is_on(self) -> bool | None:
        if self.settings.status is None:
            return None
        return self._run("status", self.settings.status).returncode == 0

    def describe(self) -> list[str]:
        lines = [f"maintenance on: run `{shlex.join(self.settings.on)}`", f"maintenance off: run `{shlex.join(self.settings.off)}`"]
        if self.settings.status is not None:
            lines.append(f"maintenance status: run `{shlex.join(self.settings.status)}` (exit 0 = on)")
        return [redact(line) for line in lines]


# -- http ----------------------------------------------------------------------------------


class HttpRequestSpec(BaseModel):
    """One request: ``{method, url, headers, json}``; ``${ENV}`` allowed in every value."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)
    method: HttpMethod = "POST"
    url: Url
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")


class HttpConfig(HookConfig):
    on: HttpRequestSpec
    off: HttpRequestSpec
    timeout: float = Field(default=10.0, gt=0, description="seconds each request may take")


class _Request:
    """A request with ``${ENV}`` filled in (header and body values registered as secrets)."""

    def __init__(self, spec: HttpRequestSpec, where: str) -> None:
        self.method = spec.method
        self.url = render(spec.url, None, f"{where}.url", secret=False)
        self.headers = {k: render(v, None, f"{where}.headers.{k}", secret=True) for k, v in spec.headers.items()}
        self.json = render_data(spec.json_body, None, f"{where}.json", secret=True)

    def describe(self) -> str:
        text = f"{self.method} {self.url}"
        if self.headers:
            text += " headers: " + ", ".join(f"{k}: {v}" for k, v in self.headers.items())
        if self.json is not None:
            text += f" json: {self.json}"
        return redact(text)


@register_maintenance
class HttpHook(MaintenanceHook):
    """Call an HTTP endpoint (a load balancer, a feature flag service) for on and off; 2xx expected."""

    kind = "http"
    Config = HttpConfig

    @property
    def settings(self) -> HttpConfig:
        assert isinstance(self.config, HttpConfig)
        return self.config

    def _send(self, action: str, spec: HttpRequestSpec) -> None:
        try:
            request = _Request(spec, f"{self.where}.{action}")
        except ConfigError as exc:
            raise self._fail(action, exc.message) from None
        try:
            with httpx.Client(timeout=self.settings.timeout) as client:
                response = client.request(
                    request.method, request.url, headers=request.headers, json=request.json
                )
        except httpx.HTTPError as exc:
            raise self._fail(action, f"{request.method} {request.url} failed: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            body = " ".join(redact(response.text).split())[:200]  # masked before it is cut
            raise self._fail(
                action, f"{request.method} {request.url} answered {response.status_code}, expected 2xx: {body}"
            )

    def on(self) -> None:
        self._send("on", self.settings.on)

    def off(self) -> None:
        self._send("off", self.settings.off)

    def describe(self) -> list[str]:
        lines = []
        for action, spec in (("on", self.settings.on), ("off", self.settings.off)):
            try:
                shown = _Request(spec, f"{self.where}.{action}").describe()
            except ConfigError as exc:
                shown = f"{spec.method} {spec.url} ({exc.message})"
            lines.append(redact(f"maintenance {action}: {shown} (expect 2xx)"))
        return lines
