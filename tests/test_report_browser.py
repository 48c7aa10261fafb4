"""report.html in a real browser: headless Chromium renders the report of a succeeded, a
rolled-back and a blocked family cutover (SQLite), and of a success on PostgreSQL and MariaDB.

A test fails on a blank page (one colour nearly everywhere), a JavaScript console message or
error, a request for anything but the file itself, or a missing section. Screenshots and DOMs
are kept in tests/artifacts/ (ignored by git; the path is printed). Without Chromium the
tests skip, except in CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import Browser, PageLoad, chromium_path, dominant_colour_share, save
from helpers import IN_CI, REPO, require_server, server_url
from safeshift.demo import demo_family
from safeshift.dialects import get_dialect
from safeshift.run.report_html import SECTIONS

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "tests" / "artifacts"
USERS = 1500
BLANK = 0.97  # a page whose most common colour covers more than this share of its pixels is blank


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with Browser(executable) as b:
        yield b


def rendered(browser: Browser, report_html: str | None, name: str) -> PageLoad:
    """Load the report, keep its screenshot, and fail on every sign of a broken page."""
    assert report_html, "the run wrote no report.html"
    path = Path(report_html)
    page = browser.load(path.as_uri())
    png = save(page, ARTIFACTS, name)
    print(f"screenshot: {png}")
    assert not page.errors, f"JavaScript errors: {page.errors}"
    assert not page.console, f"console messages: {page.console}"
    assert page.requests == [path.as_uri()], f"the page asked for more than itself: {page.requests}"
    share = dominant_colour_share(page.thumbnail)
    assert share < BLANK, f"blank page: {share:.1%} of it is one colour ({png})"
    for section in SECTIONS:
        assert f'id="{section}"' in page.dom, f"section {section} is missing ({png})"
    return page


def section(page: PageLoad, name: str) -> str:
    return page.dom.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]


def test_succeeded_run(browser: Browser, tmp_path: Path) -> None:
    result = demo_family(users=USERS, workdir=tmp_path)
    assert result.run.outcome == "succeeded", result.run.message
    page = rendered(browser, result.run.report_html, "report-sqlite-succeeded")
    assert "Succeeded" in section(page, "verdict")
    assert "maintenance window" in section(page, "timeline")
    assert section(page, "watch").count("<svg") >= 2 and "No trigger fired" in page.dom
    assert "CREATE TABLE families" in section(page, "sql")
    assert "new table" in section(page, "schema")
    assert "All 16 checks passed" in section(page, "checks")


def test_rolled_back_run(browser: Browser, tmp_path: Path) -> None:
    result = demo_family(users=USERS, workdir=tmp_path, break_mode="app")
    assert result.run.outcome == "rolled_back", result.run.message
    page = rendered(browser, result.run.report_html, "report-sqlite-rolled-back")
    assert "Rolled back" in section(page, "verdict")
    watch = section(page, "watch")
    assert ">fired<" in watch and "error_rate &gt; 1%" in watch
    rollback = section(page, "rollback")
    assert "proven equal to the snapshot" in rollback and "before-rollback" in rollback
    assert "rollback:downgrade" in section(page, "timeline")


def test_blocked_run(browser: Browser, tmp_path: Path) -> None:
    result = demo_family(users=USERS, workdir=tmp_path, edge_cases=True)
    assert result.run.outcome == "blocked", result.run.message
    page = rendered(browser, result.run.report_html, "report-sqlite-blocked")
    assert "Blocked before any change" in section(page, "verdict")
    checks = section(page, "checks")
    assert 'class="fail"' in checks and 'class="keys"' in checks  # the failed pre-check with its offending keys
    assert "No rollback" in section(page, "rollback")


@pytest.fixture
def demo_db(db_kind: str) -> Iterator[str]:
    require_server(db_kind)
    name = f"ss_html_{uuid.uuid4().hex[:8]}"
    yield name
    get_dialect(server_url(db_kind)).drop_database(name)


@pytest.mark.parametrize("db_kind", ["postgresql", "mysql"])
def test_succeeded_run_on_a_server(browser: Browser, tmp_path: Path, db_kind: str, demo_db: Any) -> None:
    result = demo_family(db=db_kind, users=USERS, workdir=tmp_path, database=demo_db)  # type: ignore[arg-type]
    assert result.run.outcome == "succeeded", result.run.message
    page = rendered(browser, result.run.report_html, f"report-{db_kind}-succeeded")
    assert "Succeeded" in section(page, "verdict")
    assert "families" in section(page, "sql") and "new table" in section(page, "schema")
