"""Maintenance hooks of kind file and command: on, off, idempotent off, is_on, describe, errors.

The http kind is tested against a local server in test_app_http.py.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from safeshift.app.maintenance import (
    CommandHook,
    FileHook,
    MaintenanceError,
    MaintenanceHook,
    build_maintenance,
)
from safeshift.config.models import MaintenanceSpec
from safeshift.errors import ConfigError, SafeshiftError


def hook(base_dir: Path | None = None, **spec: Any) -> MaintenanceHook:
    built = build_maintenance(MaintenanceSpec.model_validate(spec), base_dir=base_dir)
    assert built is not None
    return built


def test_file_hook_creates_and_removes_the_file(tmp_path: Path) -> None:
    flag = tmp_path / "maintenance_mode"
    h = hook(kind="file", path=str(flag))
    assert isinstance(h, FileHook)
    assert h.is_on() is False
    h.on()
    assert flag.exists() and h.is_on() is True
    h.on()  # on twice is harmless too
    h.off()
    assert not flag.exists() and h.is_on() is False
    h.off()  # idempotent: after a crash, or after a rollback already switched it off
    assert h.describe() == [f"maintenance on: create {flag}", f"maintenance off: remove {flag} (if present)"]


def test_file_hook_path_from_env_and_relative_to_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_MAINT_DIR", str(tmp_path))
    h = hook(kind="file", path="${SS_MAINT_DIR}/m")
    h.on()
    assert (tmp_path / "m").exists()
    h.off()
    rel = hook(tmp_path, kind="file", path="flags/m")
    (tmp_path / "flags").mkdir()
    rel.on()
    assert (tmp_path / "flags" / "m").exists()
    rel.off()


def test_file_hook_error_is_one_line(tmp_path: Path) -> None:
    h = hook(kind="file", path=str(tmp_path / "missing-dir" / "m"))
    with pytest.raises(MaintenanceError) as info:
        h.on()
    assert isinstance(info.value, SafeshiftError)
    assert str(info.value).startswith(f"maintenance on: cannot create {tmp_path / 'missing-dir' / 'm'}: ")
    assert "\n" not in str(info.value)
    h.off()  # nothing to remove is not an error


def test_command_hook_runs_without_a_shell(tmp_path: Path) -> None:
    flag = tmp_path / "flag file"
    quoted = shlex.quote(str(flag))
    h = hook(kind="command", on=f"touch {quoted}", off=["rm", "-f", str(flag)], status=f"test -e {quoted}")
    assert isinstance(h, CommandHook)
    assert h.is_on() is False
    h.on()
    assert flag.exists() and h.is_on() is True
    h.off()
    h.off()
    assert not flag.exists() and h.is_on() is False
    assert h.describe() == [
        f"maintenance on: run `touch {quoted}`",
        f"maintenance off: run `rm -f {quoted}`",
        f"maintenance status: run `test -e {quoted}` (exit 0 = on)",
    ]
    # a shell would expand this; without one it is a literal argument
    literal = hook(kind="command", on=["touch", str(tmp_path / "$(whoami)")], off="true")
    literal.on()
    assert (tmp_path / "$(whoami)").exists()
    assert literal.is_on() is None  # no status command: cannot be known


def test_command_hook_failures(tmp_path: Path) -> None:
    script = "import sys; print('first'); print('switch refused: lb busy', file=sys.stderr); sys.exit(3)"
    failing = hook(kind="command", on=[sys.executable, "-c", script], off="true")
    with pytest.raises(MaintenanceError, match=r"^maintenance on: `.*` exited with 3: switch refused: lb busy$"):
        failing.on()
    missing = hook(kind="command", on="no-such-tool-ss on", off="no-such-tool-ss off")
    with pytest.raises(MaintenanceError, match=r"^maintenance off: command not found: no-such-tool-ss$"):
        missing.off()
    slow = hook(kind="command", on=[sys.executable, "-c", "import time; time.sleep(10)"], off="true", timeout=0.3)
    with pytest.raises(MaintenanceError, match=r"did not finish within 0.3s$"):
        slow.on()


def test_command_hook_runs_in_the_plan_folder(tmp_path: Path) -> None:
    h = hook(tmp_path, kind="command", on="touch here", off="rm -f here")
    h.on()
    assert (tmp_path / "here").exists()
    h.off()
    assert not (tmp_path / "here").exists()


def test_build_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"^safeshift.toml: maintenance.timeout: input should be greater than 0$"):
        hook(kind="command", on="a", off="b", timeout=0)
    with pytest.raises(ConfigError, match=r"^plan.toml: maintenance.kind: unknown kind 'x'"):
        build_maintenance(MaintenanceSpec(kind="x"), source="plan.toml")
