"""Where a backfill remembers how far it got, so a crashed run resumes at the next batch.

A checkpoint is saved after each batch has committed. A crash between the commit and the
save redoes at most that one batch on resume, which is why batch updates must be
idempotent (``SET col = <expression of the row>`` is). Three stores: in memory (tests),
a JSON file (standalone use) and the run journal (inside ``safeshift run``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from safeshift.journal import Journal, now_iso

JOURNAL_PREFIX = "backfill:"  # journal ``state`` events are named ``backfill:<name>``

Key = int | float | str


@dataclass
class Checkpoint:
    """How far backfill ``name`` got: every key ``<= last_key`` is done."""

    name: str
    last_key: Key | None
    rows_done: int = 0
    batches: int = 0
    first_key: Key | None = None  # where the walk started, for progress after a resume
    done: bool = False
    updated: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            name=str(data["name"]),
            last_key=data.get("last_key"),
            rows_done=int(data.get("rows_done", 0)),
            batches=int(data.get("batches", 0)),
            first_key=data.get("first_key"),
            done=bool(data.get("done", False)),
            updated=str(data.get("updated", "")),
        )


class CheckpointStore(Protocol):
    """Loads and saves checkpoints by backfill name."""

    def load(self, name: str) -> Checkpoint | None: ...
    def save(self, checkpoint: Checkpoint) -> None: ...


class MemoryCheckpoints:
    """Checkpoints in a dict: for tests and for callers that persist them themselves."""

    def __init__(self) -> None:
        self.saved: dict[str, Checkpoint] = {}
        self.history: list[Checkpoint] = []

    def load(self, name: str) -> Checkpoint | None:
        return self.saved.get(name)

    def save(self, checkpoint: Checkpoint) -> None:
        self.saved[checkpoint.name] = checkpoint
        self.history.append(checkpoint)


class CallbackCheckpoints:
    """Adapts a plain ``save(checkpoint)`` callback (and an optional ``load(name)``)."""

    def __init__(
        self,
        save: Callable[[Checkpoint], None],
        load: Callable[[str], Checkpoint | None] | None = None,
    ) -> None:
        self._save = save
        self._load = load

    def load(self, name: str) -> Checkpoint | None:
        return self._load(name) if self._load else None

    def save(self, checkpoint: Checkpoint) -> None:
        self._save(checkpoint)


class FileCheckpoints:
    """All checkpoints of a job in one JSON file, replaced atomically (write, fsync, rename).

    A torn write can never leave a half file: the old checkpoint stays until the new one
    is complete on disk.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, name: str) -> Checkpoint | None:
        entry = self._read().get(name)
        return Checkpoint.from_dict(entry) if isinstance(entry, dict) else None

    def save(self, checkpoint: Checkpoint) -> None:
        data = self._read()
        data[checkpoint.name] = checkpoint.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class JournalCheckpoints:
    """Checkpoints as ``state`` events of a run journal (``backfill:<name>``).

    ``previous`` is what an interrupted run's journal already holds
    (:attr:`safeshift.run.recovery.RunRecord.checkpoints`), so a resumed run continues where the
    dead one stopped. Journal events are fsynced, like the file store.
    """

    def __init__(self, journal: Journal, previous: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.journal = journal
        self._latest: dict[str, Checkpoint] = {}
        for kind, event in (previous or {}).items():
            if kind.startswith(JOURNAL_PREFIX):
                cp = Checkpoint.from_dict(event)
                self._latest[cp.name] = cp

    def load(self, name: str) -> Checkpoint | None:
        return self._latest.get(name)

    def save(self, checkpoint: Checkpoint) -> None:
        self._latest[checkpoint.name] = checkpoint
        self.journal.event("state", JOURNAL_PREFIX + checkpoint.name, **checkpoint.to_dict())


def stamp(checkpoint: Checkpoint) -> Checkpoint:
    checkpoint.updated = now_iso()
    return checkpoint
