"""The shape of the package, measured: sizes that stay readable, one module per run phase,
and a run's verdict (outcome, message, exit code) written in exactly one place."""

from __future__ import annotations

import ast
from pathlib import Path

import safeshift

PACKAGE = Path(safeshift.__file__).parent
MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 300
PHASES = ["preflight", "validate", "snapshot", "backup", "rehearse", "approve", "maintenance", "apply", "verify",
          "cutover", "rollback", "prove"]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_700_lines_and_no_class_over_300() -> None:
    too_long: list[str] = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE)}: class {node.name} {size} lines")
    assert not too_long, too_long


def test_each_phase_has_a_module_of_its_own() -> None:
    folder = PACKAGE / "run" / "phases"
    for name in PHASES:
        module = folder / f"{name}.py"
        assert module.is_file(), name
        tree = ast.parse(module.read_text(encoding="utf-8"))
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert functions, f"{name}.py defines no phase function"


def test_the_verdict_is_assigned_in_one_place() -> None:
    """``result.outcome``/``.message``/``.exit_code`` are assigned only by ``machine.settle``."""
    writers: list[str] = []
    for path in _modules():
        if path.parent.name == "checks":  # a check's own CheckResult has a message too
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                targets: list[ast.expr] = []
                if isinstance(node, ast.Assign):
                    targets = list(node.targets)
                elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                    targets = [node.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr in ("outcome", "message", "exit_code")
                        and isinstance(target.value, ast.Name | ast.Attribute)
                        and "result" in ast.unparse(target.value)
                    ):
                        writers.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {func.name}")
    assert writers and all(w.startswith("run/machine.py") and w.endswith(" settle") for w in writers), writers
