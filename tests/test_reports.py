"""The report files every run leaves: report.html (self-contained, every user string escaped,
every section present) and junit.xml (a test case per phase and per check), on all three
databases. The browser renders them in test_report_browser.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from helpers import ItemsDb, items_plan
from safeshift.loading import load_plan
from safeshift.run import run_plan
from safeshift.run.junit import render_junit
from safeshift.run.report_html import SECTIONS, render_html
from safeshift.secrets import register_secret

POST = """
[[checks.post]]
name = "items kept"
kind = "row_count"
table = "items"
expect = "== snapshot"
"""

# qty = id % 97, so ids 91..96 and 188..193 have qty > 90
HIGH = """
[[checks.pre]]
name = 'qty <b>"high"</b> & co'
kind = "sql"
query = "SELECT COUNT(*) FROM items WHERE qty > 90"
expect = "== 0"
sample = "SELECT id FROM items WHERE qty > 90 ORDER BY id"
"""


def _files(result: Any) -> tuple[str, ET.Element, dict[str, Any]]:
    folder = Path(result.report).parent
    assert Path(result.report_html) == folder / "report.html"
    assert Path(result.junit) == folder / "junit.xml"
    page = (folder / "report.html").read_text(encoding="utf-8")
    junit = ET.fromstring((folder / "junit.xml").read_text(encoding="utf-8"))
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return page, junit, data


def _cases(junit: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname", ""), c.get("name", "")): c for c in junit.iter("testcase")}


def test_a_succeeded_run_leaves_html_and_junit(items_db: ItemsDb, tmp_path: Path) -> None:
    result = run_plan(load_plan(items_plan(tmp_path / "plan", POST)), workdir=tmp_path / "w")
    assert result.outcome == "succeeded", result.message
    page, junit, data = _files(result)
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert "<script" not in page and "http://" not in page.split("</head>")[1].replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Content-Security-Policy" in page  # nothing may be fetched
    # the SQL that really ran, with its duration and the lock the lint reads
    ran = next(p for p in data["phases"] if p["name"] == "apply")["detail"]["statements"]
    create = next(s for s in ran if s["sql"].startswith("CREATE TABLE extra"))
    assert create["count"] == 1 and create["seconds"] >= 0 and create.get("lock")
    assert "CREATE TABLE extra" in page
    # schema before → after and the rows after
    assert "extra" in data["schema_after"] and "extra" not in data["schema_before"]
    assert data["rows_after"]["items"] == 200 and data["snapshot"]["items"] == 200
    assert "new table" in page
    assert data["environment"]["safeshift"] and data["environment"]["host"]
    assert "<svg" in page  # the timeline
    # JUnit: a case per phase and per check, none failing
    cases = _cases(junit)
    for phase in data["phases"]:
        assert ("safeshift.phase", phase["name"]) in cases
    assert ("safeshift.checks.post", "items kept") in cases
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(data["phases"]) + len(data["checks"])


def test_a_blocked_run_names_the_offending_keys_escaped(items_db: ItemsDb, tmp_path: Path) -> None:
    result = run_plan(load_plan(items_plan(tmp_path / "plan", HIGH)), workdir=tmp_path / "w")
    assert result.outcome == "blocked" and int(result.exit_code) == 1, result.message
    page, junit, _data = _files(result)
    assert '<b>"high"</b>' not in page
    assert "qty &lt;b&gt;&quot;high&quot;&lt;/b&gt; &amp; co" in page
    assert "91, 92, 93, 94, 95, 96, 188, 189, 190, 191" in page
    assert "Blocked before any change" in page
    case = _cases(junit)[("safeshift.checks.pre", 'qty <b>"high"</b> & co')]
    failure = case.find("failure")
    assert failure is not None
    assert "offending: 91, 92" in failure.get("message", "") and "offending key: 188" in (failure.text or "")
    preflight = _cases(junit)[("safeshift.phase", "preflight")].find("failure")
    assert preflight is not None and preflight.get("type") == "blocked"


def test_the_statement_that_failed_is_in_the_report(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "plan")
    (plan.parent / "migrations" / "0001_extra.up.sql").write_text(
        "CREATE TABLE extra (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table (id) VALUES (1);\n"
    )
    result = run_plan(load_plan(plan), workdir=tmp_path / "w")
    assert result.outcome == "rolled_back", result.message
    page, junit, data = _files(result)
    ran = next(p for p in data["phases"] if p["name"] == "apply")["detail"]["statements"]
    failed = [s for s in ran if s.get("error")]
    assert failed and "no_such_table" in failed[-1]["sql"]
    assert "Rolled back" in page and "proven equal to the snapshot" in page
    apply_case = _cases(junit)[("safeshift.phase", "apply")]
    assert apply_case.find("failure") is not None


def test_every_user_string_is_escaped_and_masked() -> None:
    register_secret("s3cret-t0ken-value")
    hostile = '<script>alert("x")</script>'
    data: dict[str, Any] = {
        "run_id": "r1", "outcome": "failed", "exit_code": 4, "message": f"{hostile} s3cret-t0ken-value",
        "database": hostile, "plan": hostile, "started": "2026-01-01T00:00:00.000Z", "finished": "2026-01-01T00:00:02.000Z",
        "phases": [{"name": hostile, "status": "failed", "started": "2026-01-01T00:00:00.500Z", "seconds": 1.0,
                    "detail": {"error": hostile, "statements": [{"sql": hostile, "count": 1, "seconds": 0.1, "max_seconds": 0.1}]}}],
        "checks": [{"name": hostile, "phase": "post", "passed": False, "value": hostile, "expected": hostile,
                    "message": hostile, "samples": [hostile], "kind": "sql"}],
        "smoke": [{"name": hostile, "passed": False, "status": 500, "latency_ms": 1.0, "message": hostile,
                   "request": hostile, "body": hostile}],
        "lint": [{"code": hostile, "severity": "error", "message": hostile, "table": hostile}],
        "snapshot": {hostile: 1}, "rows_after": {hostile: 2},
        "schema_before": {hostile: [hostile]}, "schema_after": {hostile: [hostile, "x"]},
        "environment": {"safeshift": hostile, "host": hostile, "user": hostile},
        "rollback": {"reason": hostile, "strategy": hostile, "steps": [{"step": hostile, "ok": False, "error": hostile}],
                     "proof": {"equal": False, "differences": [hostile]}},
        "watch": {"triggers": [hostile, "error_rate > 1%"], "triggered": hostile, "ticks": 1,
                  "samples": [{"tick": 1, "at_s": 0, "error_rate": 0.5, "p95_ms": 3.0, "problems": [hostile]}]},
    }
    page = render_html(data)
    assert "<script" not in page and "s3cret-t0ken-value" not in page
    assert "&lt;script&gt;" in page
    junit = render_junit(data)
    ET.fromstring(junit)  # well-formed whatever the names hold
    assert "s3cret-t0ken-value" not in junit


def test_any_report_data_renders_even_an_old_or_partial_one() -> None:
    page = render_html({"run_id": "old"})
    for section in SECTIONS:
        assert f'id="{section}"' in page
    ET.fromstring(render_junit({"run_id": "old"}))


def test_the_watch_chart_draws_thresholds_and_marks_the_ticks_that_fired() -> None:
    samples = [{"tick": i, "at_s": i, "error_rate": 0.0 if i < 4 else 0.02, "p95_ms": 100.0 * i} for i in range(1, 7)]
    data = {"run_id": "w", "watch": {
        "triggers": ["error_rate > 1%", "p95_ms > 500 for 2 ticks"], "ticks": 6, "samples": samples,
        "triggered": "p95_ms > 500 for 2 ticks: p95_ms was 500, 600 on ticks 5-6", "error_rate": 0.02,
    }}
    page = render_html(data)
    watch = page.split('id="watch"')[1].split("</section>")[0]
    assert watch.count("<svg") == 2
    assert "error_rate &gt; 1%" in watch and "p95_ms &gt; 500 for 2 ticks" in watch
    assert watch.count(">fired<") == 2  # both charts mark it
    assert "2.0%" in watch and "600.0 ms" in watch  # formatted as the plan writes them
    assert 'fill="#ffcecb"' in watch


@pytest.mark.slow
def test_the_family_demo_leaves_html_and_junit_in_its_run_folder(tmp_path: Path) -> None:
    from safeshift.api import demo_family

    result = demo_family(users=300, workdir=tmp_path)
    assert result.run.outcome == "succeeded", result.run.message
    folder = Path(result.run.journal or "").parent
    assert {"report.html", "junit.xml", "report.json", "report.md"} <= {p.name for p in folder.iterdir()}
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "## SQL that ran (apply)" in md and "| families | – | " in md and "**Ran by:**" in md


def test_writes_kept_or_saved_by_a_rollback_are_listed() -> None:
    from safeshift.run.writes import TableWrites, Writes

    writes = Writes(tables=[TableWrites(table="items", inserted=[(201,), (202,)], updated=[(7,)], deleted=[])],
                    policy="restore-and-save", fate="saved", saved_to="/runs/x/discarded-writes.sql", created={"extra": 3})
    data = {"run_id": "w", "outcome": "writes_saved", "rollback": {
        "reason": "post-check failed", "strategy": "restore", "steps": [{"step": "restore", "ok": True}],
        "proof": {"equal": True, "revision": None, "tables_compared": 1}, "writes": writes.to_dict(),
    }}
    rollback = render_html(data).split('id="rollback"')[1].split("</section>")[0]
    assert "DISCARDED by the restore and saved to /runs/x/discarded-writes.sql" in rollback
    assert "inserted: 201, 202; updated: 7" in rollback and "extra (3)" in rollback
    assert "proven equal" not in rollback
    assert "DISCARDED the application's writes" in rollback
