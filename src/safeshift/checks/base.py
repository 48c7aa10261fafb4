"""Check base class, result data and the kind registry.

A check is declared in the plan by ``kind``; each kind is a small class with a pydantic
model for its own keys, registered here so the runner never branches on kinds.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy.engine import Connection

from safeshift.expectations import Expectation, ExpectationError

MAX_SAMPLES = 10


class CheckConfig(BaseModel):
    """Keys common to every check kind; subclasses add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    name: str | None = None
    description: str | None = None


class ExpectConfig(CheckConfig):
    """A check whose measured number is compared with an expectation."""

    expect: str = "== 0"

    @field_validator("expect")
    @classmethod
    def _parse_expect(cls, value: str) -> str:
        try:
            Expectation.parse(value)
        except ExpectationError as exc:
            raise ValueError(str(exc)) from None
        return value


@dataclass
class CheckContext:
    """What a check may look at: a connection and, after the snapshot phase, its row counts."""

    conn: Connection
    snapshot: Mapping[str, int] | None = None


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
        }


class Check(ABC):
    """One invariant. Subclasses implement :meth:`measure`."""

    kind: ClassVar[str]
    Config: ClassVar[type[CheckConfig]] = CheckConfig

    def __init__(self, config: CheckConfig, phase: str, index: int) -> None:
        self.config = config
        self.phase = phase
        self.name = config.name or self.default_name() or f"{phase}[{index}] {self.kind}"

    def default_name(self) -> str | None:
        """A readable name when the plan gives none."""
        return None

    @abstractmethod
    def measure(self, ctx: CheckContext) -> CheckResult:
        """Run the check and say whether it passed."""

    def statements(self) -> Sequence[str]:
        """The SQL this check would run, for ``--dry-run``."""
        return ()

    def run(self, ctx: CheckContext) -> CheckResult:
        """Measure, timing it; a failing query is a failed check, never a crash."""
        started = time.perf_counter()
        try:
            result = self.measure(ctx)
        except Exception as exc:  # a broken query must fail the check, not the run
            result = self.result(False, message=f"check could not run: {_short(exc)}", error=True)
        result.seconds = time.perf_counter() - started
        return result

    def result(self, passed: bool, **kwargs: Any) -> CheckResult:
        return CheckResult(name=self.name, kind=self.kind, phase=self.phase, passed=passed, **kwargs)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: make a check kind available to plans."""
    _REGISTRY[cls.kind] = cls
    return cls


def check_kinds() -> dict[str, type[Check]]:
    return dict(_REGISTRY)


def get_check_class(kind: str) -> type[Check] | None:
    return _REGISTRY.get(kind)
