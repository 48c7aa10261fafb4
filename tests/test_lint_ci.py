"""The lint in CI: no database, no plan, hostile input, SARIF, the GitHub Action and the pre-commit hook.

Every test here runs without a database: `safeshift lint FILE --dialect D` from an empty folder
exits 1 on a hazard and 0 on a safe file, names what it could not read, and never shows a traceback.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from safeshift import api
from safeshift.lint import core as lint_core
from safeshift.lint import lint_statements, split_script, to_sarif

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = ["postgresql", "mysql", "mariadb", "sqlite"]
HAZARD = "ALTER TABLE users DROP COLUMN age;\n"
SAFE = "CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);\n"


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "safeshift.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# -- from an empty folder, no plan, no database -------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_cli_exit_codes_from_an_empty_folder(tmp_path: Path, dialect: str) -> None:
    (tmp_path / "hazard.sql").write_text("CREATE INDEX ix_users_email ON users (email);\n" + HAZARD)
    (tmp_path / "safe.sql").write_text(SAFE)
    hazard = _cli(["lint", "hazard.sql", "--dialect", dialect], tmp_path)
    assert hazard.returncode == 1, hazard.stdout + hazard.stderr
    assert "SS005" in hazard.stdout and "fix:" in hazard.stdout  # the suggestion is in the human table
    safe = _cli(["lint", "safe.sql", "--dialect", dialect], tmp_path)
    assert safe.returncode == 0, safe.stdout + safe.stderr
    for proc in (hazard, safe):
        assert "Traceback" not in proc.stdout + proc.stderr


def test_unknown_size_counts_as_large_and_says_so(tmp_path: Path) -> None:
    sql = tmp_path / "m.sql"
    sql.write_text("ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;\n")
    report = api.lint_plan(None, [sql], "mysql")
    [finding] = [f for f in report.findings if f.code == "SS002"]
    assert finding.severity == "error" and report.exit_code == 1
    assert "[table size unknown: counted as 10,000,000 rows, [lint] assume_rows]" in finding.message


def test_assume_rows_from_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "safeshift.toml").write_text('[database]\nurl = "sqlite:///x.db"\n\n[lint]\nassume_rows = 0\n')
    sql = tmp_path / "m.sql"
    sql.write_text("CREATE INDEX ix ON users (email);\n")
    # files with a plan are linted as given (no database): assume_rows = 0 makes unknown tables small
    report = api.lint_plan(None, [sql], "sqlite")
    assert [(f.code, f.severity) for f in report.findings] == [("SS001", "note")]


# -- bad input: never silent, never a traceback -----------------------------------------------------


def test_invalid_utf8_names_the_file_and_the_others_still_lint(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(HAZARD)
    (tmp_path / "latin1.sql").write_bytes("-- café\nDROP TABLE users;\n".encode("latin-1"))
    (tmp_path / "b.sql").write_text("UPDATE users SET a = 1;\n")
    proc = _cli(["lint", "a.sql", "latin1.sql", "b.sql", "--dialect", "postgresql", "--json"], tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    codes = {f["code"]: f for f in data["findings"]}
    assert "latin1.sql" in codes["SS095"]["message"] and "not UTF-8" in codes["SS095"]["message"]
    assert codes["SS095"]["severity"] == "error"
    assert {"SS005", "SS007"} <= set(codes)  # a.sql and b.sql were linted


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize(
    "script",
    [
        "ALTER TABLE users ADD COLUMN x INT NULL;\n/* the rest\nDROP TABLE users;\n",
        "INSERT INTO notes VALUES ('unclosed);\nDROP TABLE users;\n",
        "/* everything */ DROP TABLE users; /*",
    ],
)
def test_unterminated_comment_or_string_is_an_error(dialect: str, script: str) -> None:
    findings = lint_statements(split_script(script, dialect), dialect)
    unclosed = [f for f in findings if f.code == "SS096"]
    assert unclosed and all(f.severity == "error" for f in unclosed), findings


@pytest.mark.parametrize("dialect", ["mysql", "sqlite", "postgresql"])
def test_bom_is_stripped(tmp_path: Path, dialect: str) -> None:
    sql = tmp_path / "bom.sql"
    sql.write_bytes(b"\xef\xbb\xbfDROP TABLE users;\n")
    report = api.lint_plan(None, [sql], dialect)
    assert [f.code for f in report.findings] == ["SS005"]
    # a BOM inside a string handed to the library is stripped too
    assert [f.code for f in lint_statements(["\ufeffDROP TABLE users;"], dialect)] == ["SS005"]


def test_squawk_runs_once_per_postgresql_lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = lint_core._squawk.run_squawk

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(lint_core._squawk, "run_squawk", counting)
    sql = tmp_path / "m.sql"
    sql.write_text("CREATE INDEX ix ON users (email);\n")
    api.lint_plan(None, [sql], "postgresql")
    assert len(calls) == 1


_HOSTILE_PIECES = [
    "ALTER TABLE", "DROP", "CREATE INDEX", "ON", "users", "(", ")", ";", "'", '"', "`", "$$", "$a$", "/*", "*/",
    "--", "#", "\\", "\x00", "\ufeff", "é", "\u202e", "ALGORITHM=", "LOCK=NONE", "NOT VALID", "DO $$ BEGIN",
    "EXECUTE", "\n", " ", "((((((((((", "1e999", "-- safeshift: allow", "because", "SS001", ",", "TYPE", "RENAME",
]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_fuzz_hostile_input_never_raises(dialect: str) -> None:
    rng = random.Random(17)
    scripts = ["(" * 5000, "'" * 3001, "/*" * 2000, "a" * 100_000 + ";", "\x00;\x00"]
    scripts += ["".join(rng.choice(_HOSTILE_PIECES) + rng.choice(["", " "]) for _ in range(rng.randint(1, 40))) for _ in range(60)]
    for script in scripts:
        statements = split_script(script, dialect)
        # squawk is exercised by the CLI tests; here: our own parser and rules on garbage
        findings, infos = lint_core.lint_and_annotate(statements, dialect, use_squawk=False)
        assert all(f.severity in ("note", "warning", "error") for f in findings)
        json.dumps(to_sarif(findings, "fuzz.sql"))
        assert len(infos) >= 0


def test_fuzz_through_the_cli_shows_no_traceback(tmp_path: Path) -> None:
    rng = random.Random(4)
    paths = []
    for i in range(6):
        data = bytes(rng.randrange(256) for _ in range(300)) if i % 2 else "".join(rng.choice(_HOSTILE_PIECES) for _ in range(50)).encode()
        path = tmp_path / f"f{i}.sql"
        path.write_bytes(data)
        paths.append(path.name)
    for dialect in ("postgresql", "mysql"):
        proc = _cli(["lint", *paths, "--dialect", dialect, "--json"], tmp_path)
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        json.loads(proc.stdout)


# -- SARIF 2.1.0 ------------------------------------------------------------------------------------
#
# The official schema (json.schemastore.org/sarif-2.1.0.json) is not vendored and never downloaded at
# test time; this is the part of it that safeshift's output touches, with the schema's own
# required properties, enums and additionalProperties = false where the schema has them.

_LEVELS = {"none", "note", "warning", "error"}
_SUPPRESSION_KINDS = {"inSource", "external"}
_ALLOWED: dict[str, set[str]] = {
    "log": {"$schema", "version", "runs", "inlineExternalProperties", "properties"},
    "run": {"tool", "results", "invocations", "artifacts", "originalUriBaseIds", "properties", "columnKind", "automationDetails"},
    "tool": {"driver", "extensions", "properties"},
    "driver": {"name", "version", "semanticVersion", "informationUri", "rules", "notifications", "fullName", "properties", "organization"},
    "rule": {"id", "name", "shortDescription", "fullDescription", "help", "helpUri", "defaultConfiguration", "properties", "guid", "deprecatedIds"},
    "result": {"ruleId", "ruleIndex", "rule", "level", "kind", "message", "locations", "suppressions", "properties", "fingerprints", "partialFingerprints", "fixes"},
    "message": {"text", "markdown", "id", "arguments", "properties"},
    "location": {"physicalLocation", "logicalLocations", "message", "id", "properties"},
    "physicalLocation": {"artifactLocation", "region", "contextRegion", "address", "properties"},
    "artifactLocation": {"uri", "uriBaseId", "index", "description", "properties"},
    "region": {"startLine", "startColumn", "endLine", "endColumn", "charOffset", "charLength", "snippet", "message", "properties"},
    "suppression": {"kind", "status", "justification", "location", "guid", "properties"},
}


def _keys(obj: Any, kind: str, where: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: expected an object"]
    extra = set(obj) - _ALLOWED[kind]
    return [f"{where}: unknown properties {sorted(extra)}"] if extra else []


def _text(obj: Any, where: str) -> list[str]:
    errors = _keys(obj, "message", where)
    if not errors and not isinstance(obj.get("text"), str):
        errors.append(f"{where}.text: required string")
    return errors


def sarif_errors(log: Any) -> list[str]:
    """Violations of the SARIF 2.1.0 schema's rules for the objects safeshift writes."""
    errors = _keys(log, "log", "log")
    if errors:
        return errors
    if log.get("version") != "2.1.0":
        errors.append("log.version: must be '2.1.0'")
    if not isinstance(log.get("$schema"), str) or not log["$schema"].startswith("https://"):
        errors.append("log.$schema: a URI")
    runs = log.get("runs")
    if not isinstance(runs, list):
        return [*errors, "log.runs: required array"]
    for r, run in enumerate(runs):
        w = f"runs[{r}]"
        errors += _keys(run, "run", w)
        tool = run.get("tool")
        errors += _keys(tool, "tool", f"{w}.tool")
        driver = (tool or {}).get("driver")
        errors += _keys(driver, "driver", f"{w}.tool.driver")
        if not isinstance((driver or {}).get("name"), str):
            errors.append(f"{w}.tool.driver.name: required string")
        rules = (driver or {}).get("rules", [])
        ids = []
        for i, rule in enumerate(rules):
            rw = f"{w}.rules[{i}]"
            errors += _keys(rule, "rule", rw)
            if not isinstance(rule.get("id"), str):
                errors.append(f"{rw}.id: required string")
            ids.append(rule.get("id"))
            for key in ("shortDescription", "fullDescription", "help"):
                if key in rule:
                    errors += _text(rule[key], f"{rw}.{key}")
        if len(set(ids)) != len(ids):
            errors.append(f"{w}.rules: duplicate ids")
        for i, result in enumerate(run.get("results", [])):
            rw = f"{w}.results[{i}]"
            errors += _keys(result, "result", rw)
            errors += _text(result.get("message"), f"{rw}.message")
            if result.get("level", "warning") not in _LEVELS:
                errors.append(f"{rw}.level: not one of {sorted(_LEVELS)}")
            index = result.get("ruleIndex")
            if index is not None and not (isinstance(index, int) and 0 <= index < len(rules) and rules[index]["id"] == result.get("ruleId")):
                errors.append(f"{rw}.ruleIndex: does not point at ruleId")
            for j, loc in enumerate(result.get("locations", [])):
                lw = f"{rw}.locations[{j}]"
                errors += _keys(loc, "location", lw)
                phys = loc.get("physicalLocation")
                errors += _keys(phys, "physicalLocation", f"{lw}.physicalLocation")
                errors += _keys((phys or {}).get("artifactLocation"), "artifactLocation", f"{lw}.artifactLocation")
                region = (phys or {}).get("region")
                if region is not None:
                    errors += _keys(region, "region", f"{lw}.region")
                    if not (isinstance(region.get("startLine"), int) and region["startLine"] >= 1):
                        errors.append(f"{lw}.region.startLine: integer >= 1")
            for j, sup in enumerate(result.get("suppressions", [])):
                errors += _keys(sup, "suppression", f"{rw}.suppressions[{j}]")
                if sup.get("kind") not in _SUPPRESSION_KINDS:
                    errors.append(f"{rw}.suppressions[{j}].kind: not one of {sorted(_SUPPRESSION_KINDS)}")
            if "properties" in result and not isinstance(result["properties"], dict):
                errors.append(f"{rw}.properties: object")
    return errors


def test_the_sarif_check_catches_violations() -> None:
    assert sarif_errors({"version": "2.0", "runs": [{"tool": {"driver": {}}, "results": [{"level": "fatal", "message": {}}]}]})


def test_sarif_is_valid_2_1_0(tmp_path: Path) -> None:
    sql = tmp_path / "m.sql"
    sql.write_text(
        "CREATE INDEX ix ON users (a);\n"
        "DROP TABLE legacy; -- safeshift: allow SS005 because archived in 0041\n"
        "ALTER TABLE users ADD COLUMN c INT NOT NULL;\n"
        "/* never closed\n"
    )
    out = tmp_path / "lint.sarif"
    for dialect in ("postgresql", "mysql", "sqlite"):
        api.lint_plan(None, [sql], dialect, sarif=out)
        log = json.loads(out.read_text())
        assert sarif_errors(log) == []
        assert log["runs"][0]["results"]


# -- the GitHub Action and the pre-commit hook ---------------------------------------------------------


def test_action_yml_runs_the_lint_and_uploads_sarif() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["name"] and action["description"]
    assert {"files", "dialect", "sarif"} <= set(action["inputs"])
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    lint = next(s for s in steps if s.get("id") == "lint")
    assert "safeshift lint" in lint["run"] and "--sarif" in lint["run"] and "--dialect" in lint["run"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif }}"
    assert steps.index(lint) < steps.index(upload)
    # inputs reach the shell through env, never pasted into the script (injection)
    for step in steps:
        assert "${{ inputs." not in step.get("run", ""), step


def test_action_lint_step_runs(tmp_path: Path) -> None:
    """The action's lint step, run by bash as the runner would, on a hazard and on a safe file."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    lint = next(s for s in action["runs"]["steps"] if s.get("id") == "lint")
    (tmp_path / "hazard.sql").write_text(HAZARD)
    (tmp_path / "safe.sql").write_text(SAFE)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "safeshift").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m safeshift.cli \"$@\"\n")
    (shim / "safeshift").chmod(0o755)
    for name, code in (("hazard.sql", "1"), ("safe.sql", "0")):
        output = tmp_path / f"out-{name}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
            "FILES": name,
            "DIALECT": "mariadb",
            "SARIF": "lint.sarif",
            "GITHUB_OUTPUT": str(output),
        }
        proc = subprocess.run(["bash", "-e", "-c", lint["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr  # the step records the code; a later step fails the job
        assert output.read_text().strip() == f"exit-code={code}"
        assert sarif_errors(json.loads((tmp_path / "lint.sarif").read_text())) == []


def test_pre_commit_hook_entry_on_hazard_and_safe_files(tmp_path: Path) -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "safeshift-lint" and hook["language"] == "python"
    assert hook["entry"].split()[0] == "safeshift" and hook.get("pass_filenames", True)
    (tmp_path / "hazard.sql").write_text(HAZARD)
    (tmp_path / "safe.sql").write_text(SAFE)
    # pre-commit runs: entry + args + the staged file names (entry's console script is safeshift.cli)
    base = hook["entry"].split()[1:] + list(hook.get("args", []))
    hazard = _cli([*base, "hazard.sql"], tmp_path)
    safe = _cli([*base, "safe.sql"], tmp_path)
    assert hazard.returncode == 1 and "SS005" in hazard.stdout
    assert safe.returncode == 0, safe.stdout + safe.stderr
    both = _cli([*base, "safe.sql", "hazard.sql"], tmp_path)
    assert both.returncode == 1
