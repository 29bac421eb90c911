"""The architecture holds: import-linter's contracts (``.importlinter``: pure packages, layers,
no circles) and no application function over 60 lines."""
import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import ROOT

MAX_FUNCTION_LINES = 60
NOT_APPLICATION = {"tests", "migrations", "bench", "build", "dist", ".venv", "static", "templates"}


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def application_functions():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in NOT_APPLICATION or relative.name == "setup.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{relative}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1


def test_no_application_function_is_over_60_lines():
    long = {name: lines for name, lines in application_functions() if lines > MAX_FUNCTION_LINES}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
