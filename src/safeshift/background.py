"""A function run in a thread of its own, its outcome handed back in the caller's thread.

For work that mostly waits on something else (a dump tool, a file), overlapped with what the
caller does meanwhile: :meth:`Background.result` waits, then returns what the function returned
or raises what it raised, so an error is never lost in the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``fn`` started at once in a daemon thread named ``name``."""

    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self._fn = fn
        self._out: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._out = self._fn()
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc

    def wait(self) -> None:
        """Until the function is done, whatever its outcome."""
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out  # type: ignore[return-value]  # set by _run when no error
