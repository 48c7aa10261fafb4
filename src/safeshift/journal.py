"""The run journal: one JSON line per event, flushed and fsynced before the run moves on.

After a crash the journal says how far a run got, which is what resume and rollback read.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safeshift.secrets import redact_data


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    """Append-only event log of one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        self._lock = threading.Lock()  # a notification's thread journals its fate while the run goes on

    def event(self, phase: str, event: str, **data: Any) -> None:
        record = {"ts": now_iso(), "phase": phase, "event": event, **data}
        line = json.dumps(redact_data(record), default=str, sort_keys=False) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """All complete events of a journal (a torn last line from a crash is ignored)."""
    events: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                events.append(json.loads(line))
            except ValueError:
                break
    return events
