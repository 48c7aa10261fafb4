"""Fault injection for the crash-safety suite: die at a named point, like a kill -9.

``SAFESHIFT_FAULT=backup:finished`` ends the process with ``os._exit`` right after that
journal event, so tests can prove that resume/rollback recover from every point. Points:
``<phase>:started``, ``<phase>:finished`` and ``apply:statement:<n>`` (after the n-th SQL
statement the migration sends). Test-only; unset, it costs one dictionary lookup.
"""

from __future__ import annotations

import os

ENV = "SAFESHIFT_FAULT"
EXIT_CODE = 137  # what a SIGKILLed process reports


def hit(point: str) -> None:
    """Die here if the environment asks for it."""
    if os.environ.get(ENV) == point:
        os._exit(EXIT_CODE)
