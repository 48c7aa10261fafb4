"""Check base class, result data and the kind registry.

A check is declared in the plan by ``kind``; each kind is a small class with a pydantic
model for its own keys, registered here so the runner never branches on kinds. The base
class is generic over that model: ``class NoNullsCheck(Check[NoNullsConfig])`` sets
``Config`` and types ``self.config``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.common import Reference
from safeshift.expectations import Expectation, ExpectationError
from safeshift.registry import Registry
from safeshift.secrets import first_line

MAX_SAMPLES = 10


class CheckConfig(BaseModel):
    """Keys common to every check kind; subclasses add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    kind: str = Field(description="the check kind (this table's first column)")
    name: str | None = Field(default=None, description="shown in results and named by the watch; default: made from the keys")
    description: str | None = Field(default=None, description="free text for the report")


class ExpectConfig(CheckConfig):
    """A check whose measured number is compared with an expectation."""

    expect: str = Field(default="== 0", description='the expectation, e.g. "== 0", ">= 1", "== snapshot.users"')

    @field_validator("expect")
    @classmethod
    def _parse_expect(cls, value: str) -> str:
        try:
            Expectation.parse(value)
        except ExpectationError as exc:
            raise PydanticCustomError("expectation", "{hint}", {"hint": str(exc)}) from None
        return value


@dataclass
class CheckContext:
    """What a check may look at: a connection and, after the snapshot phase, its row counts.

    ``baseline`` maps a check's name to what its :meth:`Check.capture` recorded in the
    snapshot phase; ``base_dir`` is the plan's folder (``python`` checks import from it).
    """

    conn: Connection
    snapshot: Mapping[str, int] | None = None
    base_dir: Path | None = None
    baseline: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureFailed:
    """Stored in the baseline instead of a state when :meth:`Check.capture` raised."""

    message: str


class BaselineMissing(RuntimeError):
    """A check needs its captured state and there is none (or capturing it failed)."""


@dataclass
class CheckResult:
    """One check's finding; plain data so formatters (table, JSON, Markdown) can render it."""

    name: str
    kind: str
    phase: str
    passed: bool
    value: Any = None
    expected: str | None = None
    message: str = ""
    samples: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    error: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific, JSON-friendly

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "phase": self.phase,
            "passed": self.passed,
            "value": self.value,
            "expected": self.expected,
            "message": self.message,
            "samples": list(self.samples),
            "seconds": round(self.seconds, 4),
            "error": self.error,
            "details": self.details,
        }


C = TypeVar("C", bound=CheckConfig)


class Check(ABC, Generic[C]):
    """One invariant. Subclasses name their config model, ``Check[MyConfig]``, and implement :meth:`measure`.

    ``Config`` (the model :func:`~safeshift.checks.build_checks` validates the plan's keys
    with) is taken from that type argument unless the class sets it.
    """

    kind: ClassVar[str]
    summary: ClassVar[str] = ""  # what the kind proves, in one line (``safeshift checks``, the README)
    Config: ClassVar[type[CheckConfig]] = CheckConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" in cls.__dict__:
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            for arg in get_args(base):
                if isinstance(arg, type) and issubclass(arg, CheckConfig):
                    cls.Config = arg
                    return

    def __init__(self, config: C, phase: str, index: int) -> None:
        self.config: C = config
        self.phase = phase
        self.index = index  # its place in the plan: checks.<phase>[index]
        # The plan's folder, set by build_checks; ctx.base_dir, when given, takes precedence.
        self.base_dir: Path | None = None
        self.name = config.name or self.default_name() or f"{phase}[{index}] {self.kind}"

    def default_name(self) -> str | None:
        """A readable name when the plan gives none."""
        return None

    @abstractmethod
    def measure(self, ctx: CheckContext) -> CheckResult:
        """Run the check and say whether it passed."""

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        """The SQL this check would run, for ``--dry-run`` (rendered for ``dialect`` if given)."""
        return ()

    def capture(self, ctx: CheckContext) -> Any:
        """Record state before the change (snapshot phase); :meth:`measure` finds it in ``ctx.baseline``.

        None means the check needs no baseline.
        """
        return None

    def captured(self, ctx: CheckContext) -> Any:
        """This check's baseline, or None before the snapshot phase (preflight has none yet).

        After the snapshot (``ctx.snapshot`` set) a missing baseline is an error: a check
        that compares with "before" must never pass by comparing with nothing.
        """
        if self.name not in ctx.baseline:
            if ctx.snapshot is None:
                return None
            raise BaselineMissing("no baseline was captured for this check in the snapshot phase")
        state = ctx.baseline[self.name]
        if isinstance(state, CaptureFailed):
            raise BaselineMissing(f"capturing the baseline failed: {state.message}")
        return state

    def validate(self) -> None:
        """What a kind can check when the plan loads, beyond its keys: ValueError("key: problem")."""

    def references(self) -> Sequence[Reference]:
        """The tables and columns this check's keys name, looked up before anything runs
        (a missing one is a configuration error naming the key, not a failed check)."""
        return ()

    def run(self, ctx: CheckContext) -> CheckResult:
        """Measure, timing it; a failing query is a failed check, never a crash."""
        started = time.perf_counter()
        try:
            result = self.measure(ctx)
        except BaseException as exc:  # user code: anything it raises (SystemExit too) fails the check, never the run
            result = self.result(False, message=f"check could not run: {describe(exc)}", error=True)
        result.seconds = time.perf_counter() - started
        return result

    def result(self, passed: bool, **kwargs: Any) -> CheckResult:
        return CheckResult(name=self.name, kind=self.kind, phase=self.phase, passed=passed, **kwargs)


def describe(exc: BaseException) -> str:
    """A check's error in one line; an exit or interrupt raised by user code says so."""
    if isinstance(exc, SystemExit):
        return f"the check called exit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        return "the check was interrupted (KeyboardInterrupt)"
    return short_error(exc)


def short_error(exc: BaseException) -> str:
    """The first line of a (driver) error, for one-line messages."""
    return first_line(exc, with_type=False)


CHECK_KINDS: Registry[type[Check[Any]]] = Registry("check kind", key="kind")

K = TypeVar("K", bound=type[Check[Any]])


def register(cls: K) -> K:
    """Class decorator: make a check kind available to plans."""
    CHECK_KINDS.register(cls)
    return cls


def check_kinds() -> dict[str, type[Check[Any]]]:
    return CHECK_KINDS.as_dict()


def get_check_class(kind: str) -> type[Check[Any]] | None:
    return CHECK_KINDS.find(kind)
