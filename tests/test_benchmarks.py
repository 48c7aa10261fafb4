"""benchmarks/run.py runs end to end (small, SQLite only) and writes its report where told."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO


@pytest.mark.slow
def test_quick_benchmark_on_sqlite_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--db", "sqlite", "--users", "20000",
         "--out", str(out), "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = out.read_text()
    for heading in ("## Machine", "## 1. Set-based UPDATE vs safeshift backfill", "## 2. Whole online run",
                    "## 3. Post-checks", "## 4. table_unchanged", "## 5. Backup", "## 6. End to end"):
        assert heading in text
    raw = json.loads(out.with_suffix(".json").read_text())
    sqlite = raw["results"]["sqlite"]
    assert not [name for name, value in sqlite.items() if isinstance(value, dict) and "error" in value], sqlite
    assert sqlite["online"]["outcome"] == "succeeded" and sqlite["end_to_end"]["outcome"] == "succeeded"
    assert sqlite["end_to_end"]["outcome_scan"] == "succeeded"
    assert sqlite["table_unchanged"]["default"]["named_key"] is True  # one changed cell, named at default leaves
    assert sqlite["backfill"]["backfill_left_null"] == 0
