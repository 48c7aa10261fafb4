"""Runs read back from their folders: ``safeshift history`` and ``safeshift report RUN``.

A finished run's ``report.json`` holds everything its report shows; a run whose process died
has only its journal, from which the same data is rebuilt as far as it goes (phases,
revisions, snapshot, backup), so any run can be rendered again in any format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from safeshift.errors import ConfigError
from safeshift.run.recovery import RunRecord, all_runs, load_run
from safeshift.run.report import maintenance_window, render_markdown
from safeshift.run.report_svg import parse_time
from safeshift.secrets import redact_data

Format = Literal["html", "md", "json", "junit"]


@dataclass
class History:
    """The runs of this plan's database, newest first: outcome, revision change, duration, downtime."""

    database: str | None
    runs: list[dict[str, Any]]
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "runs": self.runs}


@dataclass
class RunReport:
    """One run's report rendered anew (``text``) from its report.json or its journal (``data``)."""

    run_id: str
    format: str
    text: str
    data: dict[str, Any]
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.data


def report_data(record: RunRecord) -> dict[str, Any]:
    """The run's report data: its report.json, or what its journal tells."""
    saved = record.folder / "report.json"
    if saved.is_file():
        try:
            data: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            pass  # a torn report: the journal still tells the story
    return journal_data(record)


def journal_data(record: RunRecord) -> dict[str, Any]:
    """Report data rebuilt from a journal alone (a run that died, or lost its report)."""
    revisions, snapshot, backup = record.revisions, record.snapshot, record.backup
    outcome = record.outcome if record.finished else "interrupted"
    message = (
        f"interrupted in {record.last_phase or 'its start'}; next: {record.next_step}"
        if record.interrupted else f"{outcome} (rebuilt from the journal: the run wrote no report)"
    )
    return {
        "run_id": record.run_id, "outcome": outcome, "exit_code": None, "message": message,
        "plan": record.plan or "", "database": record.database or "", "started": record.started or "", "finished": "",
        "seconds": round(sum(float(p.get("seconds") or 0) for p in record.phases), 3),
        "start_revision": revisions.start_revision if revisions else None,
        "target_revision": revisions.target_revision if revisions else None,
        "digest": revisions.digest if revisions else None, "pending": [],
        "phases": [
            {"name": p.get("phase"), "status": p.get("status", "failed"), "started": p.get("started", ""),
             "seconds": p.get("seconds", 0.0), "detail": p.get("detail") or {}}
            for p in record.phases
        ],
        "checks": [], "snapshot": dict(snapshot.counts) if snapshot else {},
        "schema_before": dict(snapshot.schema) if snapshot else {},
        "backup": backup.backup.to_dict() if backup else None,
        "rollback": {}, "facts": None, "statements": [], "lint": [], "smoke": [], "watch": {}, "approval": {},
        "rehearsal": {}, "journal": str(record.folder / "journal.jsonl"),
    }


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """One line of ``safeshift history``: outcome, revision change, duration, downtime."""
    start, end = parse_time(data.get("started")), parse_time(data.get("finished"))
    seconds = (end - start).total_seconds() if start and end else data.get("seconds")
    window = maintenance_window(data.get("phases", []), data.get("finished") or "")
    return {
        "run_id": data.get("run_id"),
        "started": data.get("started"),
        "outcome": data.get("outcome"),
        "exit_code": data.get("exit_code"),
        "start_revision": data.get("start_revision"),
        "target_revision": data.get("target_revision"),
        "revision": f"{data.get('start_revision') or 'base'} → {data.get('target_revision') or '?'}",
        "seconds": None if seconds is None else round(float(seconds), 3),
        "downtime_seconds": round(window[0], 3) if window else 0.0,
        "message": data.get("message"),
        "report": data.get("report_html") or data.get("report_md"),
    }


def run_history(workdir: Path, *, database: str | None, plan: str | None, limit: int | None = None) -> list[dict[str, Any]]:
    """The runs under ``workdir`` against ``database`` (or, when it is not known, of ``plan``), newest first."""
    rows = []
    for record in all_runs(workdir):
        if database is not None and record.database != database:
            continue
        if database is None and plan is not None and record.plan != plan:
            continue
        rows.append(summary(report_data(record)))
        if limit is not None and len(rows) >= limit:
            break
    return rows


def render(workdir: Path, run_id: str, fmt: Format) -> tuple[dict[str, Any], str]:
    """The run's report data and its text in ``fmt``, rendered anew."""
    from safeshift.run.executed import annotate_locks
    from safeshift.run.junit import render_junit
    from safeshift.run.report_html import render_html

    data = redact_data(report_data(load_run(workdir, run_id)))  # masked values; the renderers mask again
    annotate_locks(data)  # a report written before the locks were read gets them now
    if fmt == "html":
        return data, render_html(data)
    if fmt == "md":
        return data, render_markdown(_complete(data))
    if fmt == "junit":
        return data, render_junit(data)
    if fmt == "json":
        return data, json.dumps(data, indent=2, default=str) + "\n"
    raise ConfigError(f"report format: expected html, md, json or junit, got {fmt!r}")


def _complete(data: dict[str, Any]) -> dict[str, Any]:
    """report.md reads its keys directly: give a rebuilt (or older) report every one of them."""
    defaults: dict[str, Any] = {
        "outcome": "interrupted", "exit_code": None, "message": "", "database": "", "plan": "",
        "start_revision": None, "target_revision": None, "started": "", "finished": "", "phases": [],
        "checks": [], "snapshot": {},
    }
    phases = [{"started": "", "status": "?", "seconds": 0.0, "detail": {}, **p} for p in data.get("phases", [])]
    return {**defaults, **data, "phases": phases}
