"""The run's durable state: typed journal events, written and read by the same code.

A run journals ``state`` events as it learns what recovery needs (revisions, snapshot,
backup, maintenance). Each is a class here with ``write`` and ``read``, so the journal's
schema lives in one place. The checks' before-states (the baseline) go to
``baseline.json`` beside the journal, in a tagged JSON that keeps tuples, dates, decimals
and bytes as they were and rebuilds only the state classes listed here (no pickle: a
journal folder must never be able to run code).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from safeshift.checks.base import CaptureFailed
from safeshift.checks.table_unchanged import Leaf, TableState
from safeshift.checks.violations import Offenders
from safeshift.dialects.base import BackupInfo, SchemaShape
from safeshift.journal import Journal

STATE = "state"  # the journal "phase" of state events


@dataclass(frozen=True)
class Revisions:
    """Where the run starts and where it goes, and the plan digest it ran under."""

    kind: ClassVar[str] = "revisions"
    start_revision: str | None
    target_revision: str | None
    digest: str | None

    def write(self, journal: Journal) -> None:
        journal.event(
            STATE, self.kind,
            start_revision=self.start_revision, target_revision=self.target_revision, digest=self.digest,
        )

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Revisions:
        return cls(event.get("start_revision"), event.get("target_revision"), event.get("digest"))


@dataclass(frozen=True)
class Snapshot:
    """Row counts and columns of every table before anything changed."""

    kind: ClassVar[str] = "snapshot"
    counts: dict[str, int] = field(default_factory=dict)
    schema: SchemaShape = field(default_factory=dict)

    def write(self, journal: Journal) -> None:
        journal.event(STATE, self.kind, counts=self.counts, schema=self.schema)

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Snapshot:
        counts = {str(k): int(v) for k, v in dict(event.get("counts", {})).items()}
        schema = {str(k): [str(c) for c in v] for k, v in dict(event.get("schema", {})).items()}
        return cls(counts, schema)


@dataclass(frozen=True)
class Backup:
    """The verified backup a restore would use."""

    kind: ClassVar[str] = "backup"
    backup: BackupInfo

    def write(self, journal: Journal) -> None:
        journal.event(STATE, self.kind, backup=self.backup.to_dict())

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Backup:
        return cls(BackupInfo(**event["backup"]))


@dataclass(frozen=True)
class Maintenance:
    """Maintenance mode switched; journaled before switching on (a crash must switch it off)."""

    kind: ClassVar[str] = "maintenance"
    on: bool

    def write(self, journal: Journal) -> None:
        journal.event(STATE, self.kind, on=self.on)

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Maintenance:
        return cls(bool(event.get("on")))


@dataclass(frozen=True)
class Decision:
    """The run decided to roll back, and why: journaled before the rollback acts, so a
    recovery continues the rollback and never completes a migration the run rejected."""

    kind: ClassVar[str] = "decision"
    rollback: bool
    reason: str

    def write(self, journal: Journal) -> None:
        journal.event(STATE, self.kind, rollback=self.rollback, reason=self.reason)

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Decision:
        return cls(bool(event.get("rollback")), str(event.get("reason", "")))


# -- the checks' baseline ---------------------------------------------------------------

BASELINE_FILE = "baseline.json"

# the only classes a baseline file may rebuild
_STATE_CLASSES: dict[str, type[Any]] = {cls.__name__: cls for cls in (TableState, Leaf, Offenders, CaptureFailed)}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {"$float": repr(value)}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"$dict": {k: _encode(v) for k, v in value.items()}}
        return {"$items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if is_dataclass(value) and not isinstance(value, type) and type(value).__name__ in _STATE_CLASSES:
        return {"$state": type(value).__name__, "fields": {f.name: _encode(getattr(value, f.name)) for f in fields(value)}}
    raise TypeError(f"cannot keep a {type(value).__name__} in the baseline")


_DECODERS: dict[str, Any] = {
    "$float": float,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$timedelta": lambda s: dt.timedelta(seconds=s),
    "$decimal": Decimal,
    "$uuid": uuid.UUID,
    "$bytes": lambda s: base64.b64decode(s),
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$state" in value:
        cls = _STATE_CLASSES[value["$state"]]  # KeyError: not a class a baseline may hold
        return cls(**{k: _decode(v) for k, v in value["fields"].items()})
    (tag, inner), = value.items()
    if tag == "$tuple":
        return tuple(_decode(v) for v in inner)
    if tag == "$dict":
        return {k: _decode(v) for k, v in inner.items()}
    if tag == "$items":
        return {_decode(k): _decode(v) for k, v in inner}
    return _DECODERS[tag](inner)


def save_baseline(run_dir: Path, baseline: Mapping[str, Any]) -> None:
    """The checks' before-states, fsynced beside the journal so a resumed run can still compare."""
    if not baseline:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / BASELINE_FILE
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({name: _encode(state) for name, state in baseline.items()}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_baseline(run_dir: Path) -> dict[str, Any]:
    path = run_dir / BASELINE_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(name): _decode(state) for name, state in data.items()} if isinstance(data, dict) else {}
