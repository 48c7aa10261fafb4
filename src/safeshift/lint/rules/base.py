"""Rule base class, hit data and the rule registry.

A rule is one small class per file: a code, a name, the dialects it judges, and a
docstring with *Anti-pattern* and *Best practice* sections (shown in SARIF and ``--json``).
It returns hits; the linter (lint/core.py) turns them into findings with a severity (scaled by the
table's size unless the hit fixes it), applies suppressions and de-duplicates with squawk.
"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from safeshift.lint.context import LintContext
from safeshift.lint.model import Severity
from safeshift.lint.statement import Statement
from safeshift.registry import Registry

ALL_DIALECTS = frozenset({"postgresql", "mysql", "sqlite"})


@dataclass(frozen=True)
class Hit:
    """A rule's verdict on one statement; ``severity=None`` means "scale with the table's size"."""

    message: str
    table: str | None = None
    severity: Severity | None = None
    suggestion: str | None = None  # overrides the rule's default best practice


class Rule(ABC):
    """One lock or safety hazard. Subclasses set the class attributes and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    dialects: ClassVar[frozenset[str]] = ALL_DIALECTS
    suggestion: ClassVar[str] = ""
    # squawk rules that report the same hazard on PostgreSQL: when squawk reports one of
    # them on a statement, this rule's finding there is dropped (squawk's wins).
    squawk_rules: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def check(self, stmt: Statement, ctx: LintContext) -> Iterable[Hit]:
        """Hits for this statement (none when it is fine)."""

    @classmethod
    def section(cls, title: str) -> str:
        """A docstring section such as ``Anti-pattern`` or ``Best practice``, unwrapped."""
        doc = inspect.getdoc(cls) or ""
        m = re.search(rf"\*{re.escape(title)}\*:?\s*(.*?)(?:\n\s*\n|\Z)", doc, re.S)
        # the docstring's ``literal`` markup is for Python readers, not for the finding
        return " ".join(m.group(1).replace("``", "").split()) if m else ""

    @classmethod
    def summary(cls) -> str:
        doc = inspect.getdoc(cls) or cls.name
        return doc.split("\n", 1)[0].strip()


LINT_RULES: Registry[type[Rule]] = Registry("lint rule", key="code")

R = TypeVar("R", bound=type[Rule])


def register(cls: R) -> R:
    """Class decorator: make a rule part of every lint."""
    LINT_RULES.register(cls)
    return cls


def rule_classes() -> dict[str, type[Rule]]:
    """Code → rule class, in code order."""
    return LINT_RULES.as_dict()
