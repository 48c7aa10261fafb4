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
                    "## 3. Post-checks", "## 4. table_unchanged", "## 5. Backup", "## 6. End to end",
                    "## 7. Rollback"):
        assert heading in text
    raw = json.loads(out.with_suffix(".json").read_text())
    sqlite = raw["results"]["sqlite"]
    assert not [name for name, value in sqlite.items() if isinstance(value, dict) and "error" in value], sqlite
    assert sqlite["online"]["outcome"] == "succeeded" and sqlite["end_to_end"]["outcome"] == "succeeded"
    assert sqlite["end_to_end"]["outcome_scan"] == "succeeded"
    assert sqlite["table_unchanged"]["default"]["named_key"] is True  # one changed cell, named at default leaves
    assert sqlite["backfill"]["backfill_left_null"] == 0
    for strategy in ("downgrade", "restore"):  # rolled back after apply, proven, the hand checksums agree
        rollback = sqlite["rollback"][strategy]
        assert rollback["proven"] is True and rollback["hand_equal"] is True, rollback
        assert rollback["proof_s"] > 0 and rollback["hand_s"] > 0


def test_a_section_run_alone_merges_into_the_full_report(tmp_path: Path) -> None:
    """--render OLD.json --merge NEW.json: NEW's sections replace OLD's, each run is named with its command."""
    old = {"facts": {"date": "day 1"}, "users": 1000, "command_line": "benchmarks/run.py",
           "results": {"sqlite": {"checks": {"ratio": 1.1}, "rollback": {"error": "old"}}}}
    row = {"backup_s": 1.0, "step_s": 2.0, "proof_s": 3.0, "rollback_s": 6.0, "hand_s": 2.0, "proof_ratio": 1.5,
           "proven": True}
    new = {"facts": {"date": "day 2"}, "users": 1000, "command_line": "benchmarks/run.py --only rollback",
           "results": {"sqlite": {"rollback": {"downgrade": row, "restore": row, "hand_method": "sha1"}}}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    out = tmp_path / "merged" / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--render", str(tmp_path / "old.json"),
         "--merge", str(tmp_path / "new.json"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    merged = json.loads(out.with_suffix(".json").read_text())
    assert merged["results"]["sqlite"]["checks"] == {"ratio": 1.1}
    assert merged["results"]["sqlite"]["rollback"]["downgrade"] == row
    assert [r["sections"] for r in merged["runs"]] == ["checks", "rollback"]
    text = out.read_text()
    assert "| rollback | day 2 | `benchmarks/run.py --only rollback` |" in text
    assert "| sqlite | downgrade | 1.00 s | – s | 2.00 s | 3.00 s (– s) | 6.00 s | 2.00 s | 1.50 | – | yes |" in text
