"""The pure packages import without Flask, threads' owners, the database or the config file."""
import subprocess
import sys

import pytest

from tests.support import ROOT

BLOCKED = ["flask", "flask_socketio", "flask_sqlalchemy", "sqlalchemy", "settings", "VideoProcessor", "CameraHandler",
           "web", "training", "app"]


@pytest.mark.parametrize("package", ["calibration", "reconstruction", "scoring"])
def test_pure_package_imports_without_the_app(package):
    code = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import {package}
for mod in pkgutil.walk_packages({package}.__path__, '{package}.'):
    importlib.import_module(mod.name)
print('ok')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
