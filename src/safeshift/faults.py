"""Fault injection for the crash-safety suite: die at a named point, like a kill -9.

``SAFESHIFT_FAULT=backup:finished`` ends the process with ``os._exit`` right after that
journal event, so tests can prove that resume/rollback recover from every point. Points:
``<phase>:started``, ``<phase>:finished`` and ``apply:statement:<n>`` (after the n-th SQL
statement the migration sends). A ``:sigint`` suffix sends the process a real SIGINT
there instead (Ctrl-C mid-run). Test-only; unset, it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "SAFESHIFT_FAULT"
EXIT_CODE = 137  # what a SIGKILLed process reports


def hit(point: str) -> None:
    """Die (or be interrupted) here if the environment asks for it."""
    wanted = os.environ.get(ENV)
    if wanted is None:
        return
    if wanted == point:
        os._exit(EXIT_CODE)
    if wanted == f"{point}:sigint":
        os.kill(os.getpid(), signal.SIGINT)
