"""The test suite's own layout: one folder per concern, shared code only in ``tests/helpers/``.

A test module that imports another one (or ``tests.conftest``) makes a hidden fixture library:
what it shares belongs in ``tests.helpers``, and fixtures in a ``conftest.py``.
"""
from __future__ import annotations

import ast

import pytest

from tests.helpers.paths import ROOT

TESTS = ROOT / "tests"
ROOMS = ("unit", "integration", "e2e")


def forbidden_imports(source: str) -> list[tuple[int, str]]:
    """(line, imported name) of every import of the test suite other than ``tests.helpers...``.

    Relative imports, ``conftest`` and ``test_*`` modules imported by their bare name count too."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names = ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.ImportFrom) and node.module == "tests":
            names = [f"tests.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module]
        else:
            continue
        problems += [(node.lineno, name) for name in names if not allowed(name)]
    return problems


def allowed(name: str) -> bool:
    if name.startswith("."):
        return False
    top = name.split(".")[0]
    if top == "tests":
        return name == "tests.helpers" or name.startswith("tests.helpers.")
    return top != "conftest" and not top.startswith("test_")


def suite_files() -> list:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("source, bad", [
    ("from tests.test_web import wait_connected", ["tests.test_web"]),
    ("from tests.conftest import PASSWORDS, login", ["tests.conftest"]),
    ("import tests.integration.test_authz_matrix as matrix", ["tests.integration.test_authz_matrix"]),
    ("from tests import test_ui, helpers", ["tests.test_ui"]),
    ("from tests.unit import test_comparison", ["tests.unit"]),
    ("def f():\n    from .test_workcards_api import fake_take", [".test_workcards_api"]),
    ("import conftest\nimport test_ui", ["conftest", "test_ui"]),
    ("from tests.helpers.world import fake_take\nfrom tests.helpers import faults\nimport tests.helpers.motion", []),
    ("import numpy as np\nfrom calibration.camera import Camera\nfrom testing import x", []),
])
def test_the_check_tells_helpers_from_test_modules(source, bad):
    assert [name for _, name in forbidden_imports(source)] == bad


def test_no_module_of_the_suite_imports_a_test_module():
    problems = [f"{path.relative_to(ROOT)}:{line}: imports {name}"
                for path in suite_files() for line, name in forbidden_imports(path.read_text())]
    assert not problems, "import shared code from tests.helpers only:\n" + "\n".join(problems)


def test_test_modules_live_in_a_room_and_helpers_hold_no_tests():
    misplaced = [str(p.relative_to(ROOT)) for p in suite_files()
                 if p.name.startswith("test_") and p.relative_to(TESTS).parts[0] not in ROOMS]
    assert not misplaced, f"move these into tests/{{{','.join(ROOMS)}}}/: {misplaced}"
    for folder in (TESTS, TESTS / "helpers", *(TESTS / room for room in ROOMS)):
        assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} is not a package"


def test_the_benchmarks_import_only_the_helpers_and_modules_that_exist():
    """The benchmarks borrow the suite's helpers: a helper moved or renamed must not leave a
    benchmark that fails on its first import (they run by hand, outside the suite)."""
    import importlib.util

    problems = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        for line, name in forbidden_imports(path.read_text()):
            problems.append(f"{path.relative_to(ROOT)}:{line}: imports {name} (not tests.helpers)")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
                if importlib.util.find_spec(node.module) is None:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: no module {node.module}")
    assert not problems, "\n".join(problems)
