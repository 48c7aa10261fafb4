"""``safeshift history`` (the runs of a plan's database) and ``safeshift report RUN`` (any run's
report rendered again, from its report.json or, for a run that died, from its journal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.cli.app import app
from safeshift.run.report_html import SECTIONS

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])  # folders and journals: the database does not matter

BLOCK = """
[[checks.pre]]
kind = "sql"
query = "SELECT COUNT(*) FROM items WHERE qty > 90"
expect = "== 0"
"""


def test_history_lists_the_runs_newest_first(items_db: ItemsDb, tmp_path: Path) -> None:
    work = tmp_path / "w"
    blocked_plan = items_plan(tmp_path / "blocked", BLOCK)
    plan = items_plan(tmp_path / "plan")
    first = api.run_plan(blocked_plan, workdir=work)
    second = api.run_plan(plan, workdir=work)
    third = api.run_plan(plan, workdir=work)
    assert (first.outcome, second.outcome, third.outcome) == ("blocked", "succeeded", "noop")
    runs = api.history(plan, workdir=work).runs
    assert [r["run_id"] for r in runs] == [third.run_id, second.run_id, first.run_id]
    assert [r["outcome"] for r in runs] == ["noop", "succeeded", "blocked"]
    done = runs[1]
    assert done["revision"] == "base → 0001" and done["seconds"] > 0 and done["downtime_seconds"] == 0.0
    assert done["report"] == second.report_html
    assert len(api.history(plan, workdir=work, limit=2).runs) == 2
    cli = CliRunner().invoke(app, ["history", "--plan", str(plan), "--workdir", str(work), "--json"])
    assert cli.exit_code == 0, cli.output
    assert [r["outcome"] for r in json.loads(cli.stdout)["runs"]] == ["noop", "succeeded", "blocked"]
    human = CliRunner().invoke(app, ["history", "--plan", str(plan), "--workdir", str(work)])
    assert human.exit_code == 0 and second.run_id in human.output and "base → 0001" in human.output


def test_report_renders_a_run_again_in_every_format(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, work = items_plan(tmp_path / "plan"), tmp_path / "w"
    result = api.run_plan(plan, workdir=work)
    again = api.report(plan, result.run_id, workdir=work, fmt="html")
    assert again.text == Path(result.report_html or "").read_text(encoding="utf-8")
    assert api.report(plan, result.run_id, workdir=work, fmt="md").text == Path(result.report_md or "").read_text(encoding="utf-8")
    assert api.report(plan, result.run_id, workdir=work, fmt="junit").text == Path(result.junit or "").read_text(encoding="utf-8")
    cli = CliRunner().invoke(app, ["report", result.run_id, "--plan", str(plan), "--workdir", str(work), "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["run_id"] == result.run_id
    out = tmp_path / "again.html"
    cli = CliRunner().invoke(app, ["report", result.run_id, "--plan", str(plan), "--workdir", str(work), "--html", "-o", str(out)])
    assert cli.exit_code == 0 and out.read_text(encoding="utf-8") == again.text
    both = CliRunner().invoke(app, ["report", result.run_id, "--plan", str(plan), "--workdir", str(work), "--html", "--md"])
    assert both.exit_code == 2 and "choose one format" in both.output
    missing = CliRunner().invoke(app, ["report", "no-such-run", "--plan", str(plan), "--workdir", str(work)])
    assert missing.exit_code == 2 and "no run 'no-such-run'" in missing.output


def test_a_run_that_died_is_rendered_from_its_journal(items_db: ItemsDb, tmp_path: Path) -> None:
    plan, work = items_plan(tmp_path / "plan"), tmp_path / "w"
    result = api.run_plan(plan, workdir=work)
    folder = Path(result.report or "").parent
    for name in ("report.json", "report.md", "report.html", "junit.xml"):
        (folder / name).unlink()
    journal = folder / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"phase": "verify", "event": "started"' in line)
    journal.write_text("\n".join(lines[: cut + 1]) + "\n", encoding="utf-8")  # the process died in verify
    page = api.report(plan, result.run_id, workdir=work, fmt="html").text
    for section in SECTIONS:
        assert f'id="{section}"' in page
    assert "Interrupted" in page and "interrupted in verify" in page and "apply" in page
    md = api.report(plan, result.run_id, workdir=work, fmt="md").text
    assert "interrupted" in md and "| apply |" in md
    runs = api.history(plan, workdir=work).runs
    assert runs[0]["outcome"] == "interrupted" and runs[0]["revision"] == "base → 0001"
