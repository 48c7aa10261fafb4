"""Row estimates (issue 16): exact COUNT(*) when statistics are missing or small, the source shown."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from helpers import ItemsDb, items_plan
from safeshift import api
from safeshift.cli.app import app
from safeshift.dialects import get_dialect
from safeshift.dialects.base import ServerFacts, TableFacts
from safeshift.lint import TableSize, table_sizes_from_facts


def test_small_and_unanalyzed_tables_are_counted_exactly(items_db: ItemsDb) -> None:
    """200 rows, never analyzed: no longer "~0 rows" or a guess from the size on disk."""
    dialect = get_dialect(items_db.url)
    engine = dialect.create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE three (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO three (id) VALUES (1), (2), (3)"))
        with engine.connect() as conn:
            facts = {t.name: t for t in dialect.server_facts(conn).tables}
            assert (facts["items"].row_estimate, facts["items"].estimate_source) == (200, "exact")
            assert (facts["three"].row_estimate, facts["three"].estimate_source) == (3, "exact")

            big = TableFacts("items", row_estimate=150_000, bytes=1, estimate_source="pg_class.reltuples")
            huge = TableFacts("items", row_estimate=None, bytes=10**10)  # no statistics, ~100M rows by size
            dialect.settle_estimates(conn, [big, huge])
            assert (big.row_estimate, big.estimate_source) == (150_000, "pg_class.reltuples")  # large: trusted
            assert (huge.row_estimate, huge.estimate_source) == (None, None)  # not counted in preflight
    finally:
        engine.dispose()
    sizes = table_sizes_from_facts(ServerFacts("x", "x", "x", None, [facts["items"]]))
    assert sizes["items"].describe().startswith("200 rows (exact)")
    huge_size = TableSize(rows=huge.row_estimate, bytes=huge.bytes, source=huge.estimate_source)
    assert huge_size.describe().startswith("~100,000,000 rows (from size)")
    big_size = TableSize(rows=big.row_estimate, bytes=big.bytes, source=big.estimate_source)
    assert big_size.describe().startswith("~150,000 rows (pg_class.reltuples)")


def test_dry_run_and_lint_show_the_estimate_and_its_source(items_db: ItemsDb, tmp_path: Path) -> None:
    plan = items_plan(tmp_path / "p")
    (tmp_path / "p" / "migrations" / "0001_extra.up.sql").write_text(
        "CREATE TABLE extra (id INTEGER PRIMARY KEY);\nALTER TABLE items ADD COLUMN note VARCHAR(20) NULL;\n"
    )
    dry = api.run_plan(plan, dry_run=True)
    altered = next(s for s in dry.statements if s.phase == "apply" and s.table == "items")
    assert altered.table_size is not None
    assert (altered.table_size["estimated_rows"], altered.table_size["source"]) == (200, "exact")
    runner = CliRunner()
    shown = runner.invoke(app, ["run", "--dry-run", "--plan", str(plan)])
    assert shown.exit_code == 0, shown.output
    assert "on items, 200 rows (exact)" in shown.stdout
    linted = api.lint_plan(plan)
    info = next(s for s in linted.statements if s.table == "items")
    assert info.table_size is not None and info.table_size.describe().startswith("200 rows (exact)")
