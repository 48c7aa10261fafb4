"""Expectations such as ``== 0``, ``>= 1`` or ``== 2 * snapshot.couples``.

A tiny grammar of our own instead of ``eval``: an operator, then a sum of terms, each
term a number, ``snapshot`` (the check's own table) or ``snapshot.TABLE``, optionally
multiplied by a number. Anything else is a config error at load time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from safeshift.config.compare import OPERATOR_PATTERN, OPERATORS

_HEAD = re.compile(rf"^\s*({OPERATOR_PATTERN})\s*(.+?)\s*$")
_TERM = re.compile(
    r"^(?:(?P<coef>\d+(?:\.\d+)?)\s*\*\s*)?"
    r"(?:(?P<num>\d+(?:\.\d+)?)|snapshot(?:\.(?P<table>[A-Za-z_][A-Za-z0-9_$]*))?)$"
)


_HINT = "expected an expectation like '== 0', '>= 1' or '== snapshot.users', got {text!r}"


class ExpectationError(ValueError):
    """Raised for text that is not an expectation."""


class SnapshotMissing(LookupError):
    """The expectation needs a snapshot value that is not there."""


@dataclass(frozen=True)
class Term:
    sign: int
    coef: float
    number: float | None  # a literal number, or None for a snapshot reference
    table: str | None  # None with number None: the check's own table

    def value(self, snapshot: Mapping[str, int] | None, own_table: str | None) -> float:
        if self.number is not None:
            return self.sign * self.coef * self.number
        table = self.table or own_table
        if table is None:
            raise SnapshotMissing("bare 'snapshot' needs a check with a table; write snapshot.TABLE")
        if snapshot is None:
            raise SnapshotMissing("no snapshot has been taken yet")
        if table not in snapshot:
            raise SnapshotMissing(f"the snapshot has no table {table!r}")
        return self.sign * self.coef * snapshot[table]


@dataclass(frozen=True)
class Expectation:
    text: str
    op: str
    terms: tuple[Term, ...]

    @classmethod
    def parse(cls, text: str) -> Expectation:
        head = _HEAD.match(text)
        if not head:
            raise ExpectationError(_HINT.format(text=text))
        op, rest = head.groups()
        parts = re.split(r"\s*([+-])\s*", rest.strip())
        if parts[0] == "":  # a leading sign: "== -1"
            parts = parts[1:]
        else:
            parts = ["+", *parts]
        terms: list[Term] = []
        for sign_text, chunk in zip(parts[0::2], parts[1::2], strict=False):
            match = _TERM.match(chunk)
            if not match:
                raise ExpectationError(_HINT.format(text=text))
            number = match.group("num")
            terms.append(
                Term(
                    sign=-1 if sign_text == "-" else 1,
                    coef=float(match.group("coef") or 1),
                    number=float(number) if number is not None else None,
                    table=match.group("table"),
                )
            )
        if not terms or len(parts) % 2:
            raise ExpectationError(_HINT.format(text=text))
        return cls(text=text.strip(), op=op, terms=tuple(terms))

    @property
    def uses_snapshot(self) -> bool:
        return any(t.number is None for t in self.terms)

    def target(self, snapshot: Mapping[str, int] | None, own_table: str | None = None) -> float:
        return sum(t.value(snapshot, own_table) for t in self.terms)

    def holds(
        self, value: float, snapshot: Mapping[str, int] | None, own_table: str | None = None
    ) -> bool:
        return OPERATORS[self.op](value, self.target(snapshot, own_table))

    def resolved(self, snapshot: Mapping[str, int] | None, own_table: str | None = None) -> str:
        """The expectation with snapshot values filled in, for reports: ``== 100000``."""
        if not self.uses_snapshot:
            return self.text
        try:
            target = self.target(snapshot, own_table)
        except SnapshotMissing:
            return self.text
        shown = int(target) if float(target).is_integer() else target
        return f"{self.op} {shown} ({self.text[len(self.op):].strip()})"
