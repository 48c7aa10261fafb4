"""The comparison operators a plan may write: ``==``, ``!=``, ``>=``, ``<=``, ``>``, ``<``.

One table for every place that compares (check expectations, ``count_matches``, watch
triggers), so an operator means the same everywhere and a new one is added once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Literal

Operator = Literal["==", "!=", ">=", "<=", ">", "<"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}

# A regular-expression alternative matching one operator (two-character ones first).
OPERATOR_PATTERN = "|".join(sorted(OPERATORS, key=len, reverse=True))
