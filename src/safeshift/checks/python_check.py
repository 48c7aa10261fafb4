"""``kind = "python"``: a function from the plan's folder decides (``module:function``).

For checks SQL alone expresses badly, or a team's existing validation suite. The function
gets a SQLAlchemy Connection (and the CheckContext if it takes a second argument) and
returns one of:

* ``True`` / ``False``;
* a number, compared with ``expect`` (default ``== 0``, e.g. a count of bad rows);
* a tuple ``(passed_or_number, message)`` or ``(passed_or_number, message, samples)``;
* a dict ``{name: result}`` or list of ``(name, result)`` pairs: a suite whose named
  sub-checks are each one of the above; it passes when all do, and every sub-result is
  reported in ``details["checks"]``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import Dialect as SqlDialect

from safeshift.checks.base import (
    MAX_SAMPLES,
    Check,
    CheckContext,
    CheckResult,
    ExpectConfig,
    register,
)
from safeshift.checks.common import jsonable
from safeshift.expectations import Expectation

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_FUNCTION = re.compile(rf"^(?P<module>{_DOTTED})(?::(?P<attr>{_DOTTED}))?$")


class PythonConfig(ExpectConfig):
    function: str = Field(description="module:function in the plan's folder (or on the Python path)")

    @field_validator("function")
    @classmethod
    def _target(cls, value: str) -> str:
        match = _FUNCTION.match(value)
        if not match or (match.group("attr") is None and "." not in value):
            raise PydanticCustomError(
                "function",
                "expected 'module:function' or 'module.function' (e.g. 'family_checks:edge_cases'), got {value}",
                {"value": repr(value)},
            )
        return value


@dataclass
class Outcome:
    """One (sub-)check's verdict, normalised from whatever the function returned."""

    name: str
    passed: bool
    value: Any = None
    message: str = ""
    samples: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "value": self.value,
            "message": self.message,
            "samples": self.samples,
        }


@contextmanager
def _importable_from(folder: Path | None) -> Iterator[None]:
    """Put the plan's folder first on ``sys.path`` while importing, and only then."""
    if folder is None:
        yield
        return
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:
            pass


def _forget_foreign(module_name: str, folder: Path | None) -> None:
    """If the plan's folder has this module but another copy is already imported (another
    plan's ``checks.py``, say), drop the cached one so the plan's own file is used."""
    top = module_name.split(".")[0]
    if folder is None or not ((folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file()):
        return
    cached = getattr(sys.modules.get(top), "__file__", None)
    if cached is None or Path(cached).resolve().is_relative_to(folder.resolve()):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def load_function(target: str, base_dir: Path | None) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not attr:
        module_name, _, attr = target.rpartition(".")
    _forget_foreign(module_name, base_dir)
    with _importable_from(base_dir):
        obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj  # type: ignore[no-any-return]


def _wants_context(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _is_suite(returned: Any) -> bool:
    if isinstance(returned, Mapping):
        return True
    return isinstance(returned, list) and all(
        isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str) for item in returned
    )


def judge(
    name: str, returned: Any, expectation: Expectation, snapshot: Mapping[str, int] | None = None
) -> Outcome:
    """Turn one returned value (bool, number, tuple) into an :class:`Outcome`."""
    message, samples = "", []
    if isinstance(returned, tuple):
        if len(returned) not in (2, 3):
            raise TypeError(f"{name}: expected (passed, message[, samples]), got a {len(returned)}-tuple")
        if len(returned) == 3:
            samples = [jsonable(s) for s in list(returned[2])[:MAX_SAMPLES]]
        returned, message = returned[0], str(returned[1])
    if isinstance(returned, bool):
        return Outcome(name, returned, returned, message, samples)
    if isinstance(returned, Real):
        number = float(returned)
        shown = int(number) if number.is_integer() else number
        passed = expectation.holds(number, snapshot)
        if not passed and not message:
            message = f"got {shown}, expected {expectation.text}"
        return Outcome(name, passed, shown, message, samples)
    raise TypeError(
        f"{name}: expected bool, a number, a (passed, message) tuple or a dict of those, "
        f"got {type(returned).__name__}"
    )


@register
class PythonCheck(Check[PythonConfig]):
    kind = "python"
    summary = "a function next to the plan decides; it may return named sub-checks"

    def default_name(self) -> str:
        return f"python {self.config.function}"

    def statements(self, dialect: SqlDialect | None = None) -> Sequence[str]:
        return [f"-- python: {self.config.function}(connection)"]

    def validate(self) -> None:
        """The module exists and compiles (read, not run): a typo is a plan error, not a failed check."""
        target = self.config.function
        module_name = target.partition(":")[0] if ":" in target else target.rpartition(".")[0]
        parts = module_name.split(".")
        folder = self.base_dir
        if folder is not None:
            for candidate in (folder.joinpath(*parts).with_suffix(".py"), folder.joinpath(*parts, "__init__.py")):
                if candidate.is_file():
                    try:
                        compile(candidate.read_bytes(), str(candidate), "exec")
                    except (SyntaxError, ValueError) as exc:
                        line = getattr(exc, "lineno", None)
                        where = f"{candidate.name}" + (f" line {line}" if line else "")
                        raise ValueError(f"function: {where}: {getattr(exc, 'msg', exc)}") from None
                    return
        with _importable_from(folder):
            found = importlib.util.find_spec(parts[0]) is not None
        if not found:
            raise ValueError(f"function: no module {module_name!r} beside the plan or on the Python path")

    def measure(self, ctx: CheckContext) -> CheckResult:
        fn = load_function(self.config.function, ctx.base_dir or self.base_dir)
        returned = fn(ctx.conn, ctx) if _wants_context(fn) else fn(ctx.conn)
        expectation = Expectation.parse(self.config.expect)
        if not _is_suite(returned):
            one = judge(self.name, returned, expectation, ctx.snapshot)
            expected = self.config.expect if not isinstance(one.value, bool) else "True"
            return self.result(one.passed, value=one.value, expected=expected, message=one.message, samples=one.samples)
        pairs = returned.items() if isinstance(returned, Mapping) else returned
        outcomes = [judge(str(sub), result, expectation, ctx.snapshot) for sub, result in pairs]
        failed = [o for o in outcomes if not o.passed]
        message = "; ".join(f"{o.name}: {o.message or 'failed'}" for o in failed)
        samples = [f"{o.name}: {s}" for o in failed for s in o.samples][:MAX_SAMPLES]
        return self.result(
            not failed,
            value=len(failed),
            expected=f"all {len(outcomes)} pass (failed == 0)",
            message=message,
            samples=samples,
            details={"checks": [o.to_dict() for o in outcomes]},
        )
