"""The command line's shell: a cheap start, -h/--version, the demo extra, escaped output, the examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import safeshift
from safeshift import api
from safeshift.checks import CheckResult
from safeshift.cli import render
from safeshift.cli.app import DEFAULT_PLAN, app
from safeshift.errors import ConfigError

# What `import safeshift.cli.app` must not pull in: the heavy subsystems load when a command runs.
HEAVY = (
    "sqlglot",
    "httpx",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "pydantic",
    "safeshift.lint",
    "safeshift.run",
    "safeshift.run",
    "safeshift.config",
    "safeshift.migrators",
)


@pytest.mark.parametrize("module", ["safeshift.cli.app", "safeshift.api"])
def test_importing_the_cli_loads_no_heavy_module(module: str) -> None:
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == [], heavy


def test_the_default_plan_name_matches_the_plan_module() -> None:
    from safeshift.config.models import DEFAULT_PLAN as PLAN_DEFAULT

    assert DEFAULT_PLAN == PLAN_DEFAULT


def test_version_and_short_help() -> None:
    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.strip() == f"safeshift {safeshift.__version__}"
    for args in (["-h"], ["run", "-h"], ["demo", "family", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.stdout
    # help texts are Rich markup: the bracketed words must survive
    assert "[rehearse]" in runner.invoke(app, ["run", "--help"]).stdout


def test_demo_family_without_the_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    result = CliRunner().invoke(app, ["demo", "family", "--users", "10", "--workdir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'safeshift[demo]'" in lines[0] and "fastapi" in lines[0], result.stderr
    assert result.stdout == ""  # refused before the banner
    assert not list(tmp_path.iterdir())  # and before building anything


def test_user_text_is_printed_as_is_not_as_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(record=True, width=200, highlight=False)
    monkeypatch.setattr(render, "out", console)
    result = CheckResult(
        name="[bold]rows[/bold]", kind="sql", phase="post", passed=False, value="[red]3", message="[x] broke"
    )
    render.check_report(api.CheckReport("post", [result]))
    text = console.export_text()
    assert "[bold]rows[/bold]" in text and "[red]3" in text and "[x] broke" in text


def test_errors_are_printed_as_is_not_as_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["check", "--plan", "/no/such/[dir]/safeshift.toml"])
    assert result.exit_code == 2, result.output
    assert "[dir]" in result.stderr


def _example_tree(root: Path) -> Path:
    (root / "family").mkdir(parents=True)
    (root / "family" / "safeshift.toml").write_text("")
    return root


def test_examples_prefer_the_packaged_copy_then_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safeshift.demo as demo

    monkeypatch.delenv("SAFESHIFT_EXAMPLES", raising=False)
    packaged, checkout = tmp_path / "packaged", _example_tree(tmp_path / "checkout")
    monkeypatch.setattr(demo, "PACKAGED_EXAMPLES", packaged)
    monkeypatch.setattr(demo, "CHECKOUT_EXAMPLES", checkout)
    assert demo.examples_dir() == checkout  # no packaged copy (a checkout, an editable install)
    _example_tree(packaged)
    assert demo.examples_dir() == packaged  # an installed wheel
    env = _example_tree(tmp_path / "env")
    monkeypatch.setenv("SAFESHIFT_EXAMPLES", str(env))
    assert demo.examples_dir() == env  # the override wins
    monkeypatch.setenv("SAFESHIFT_EXAMPLES", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="SAFESHIFT_EXAMPLES"):
        demo.examples_dir()


def test_this_checkout_finds_its_examples() -> None:
    from safeshift.demo import examples_dir

    assert (examples_dir() / "relationships" / "safeshift.toml").is_file()
