"""Cython build of VSION's core, for the delivered executable (see ``app.spec``).

    python setup.py build_ext --inplace                  # compiled modules next to the sources
    python setup.py build_ext -b build/core -t build/tmp  # or in a folder of their own (``make dist``)

Compiled: every module of the core packages in :data:`PACKAGES` (a module added later is picked
up by itself). The web layer, the command line, ``app.py`` and the other facades, the
configuration, the job runner, the system's wiring and the packages' ``__init__.py`` stay plain
Python.

Compiled modules must behave exactly as the source: annotations stay annotations (no C typing,
so a NumPy integer is still accepted where ``int`` is written) and functions stay picklable by
name (the 2D pose and live pose worker processes are started with ``spawn``).

In-place ``.so`` files shadow the ``.py`` files next to them: ``make clean`` removes them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent
PACKAGES = ("calibration", "reconstruction", "scoring", "capture", "live", "database", "accounts", "workcards",
            "takes")
# Stay plain Python: payload schemas (pydantic reads their annotations at run time) and the demo
# cameras' preparation (it runs pip).
PLAIN = ("schemas.py", "demo.py")
# Where the generated C files go (``--inplace`` included), so the source folders hold only .py files.
C_DIR = os.environ.get("VSION_CYTHON_C_DIR", "build/cython")

DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,   # `x: int` must not become a C type check that refuses numpy.int64
    "binding": True,              # cyfunctions: picklable by name, introspectable, with __wrapped__ etc.
    "always_allow_keywords": True,
}


def core_sources(root: Path = ROOT) -> list[str]:
    """The modules to compile, as paths relative to ``root`` (sorted, stable)."""
    found = [f"{pkg}/{path.name}" for pkg in PACKAGES for path in sorted((root / pkg).glob("*.py"))
             if path.name != "__init__.py" and path.name not in PLAIN]
    return found


def module_name(source: str) -> str:
    """``reconstruction/triangulate.py`` -> ``reconstruction.triangulate``."""
    return source.removesuffix(".py").replace("/", ".")


def extensions() -> list[Extension]:
    from Cython.Build import cythonize

    # -O1: GCC's -O2 passes are slow on Cython's large generated files (reconstruction/sync.c:
    # 54.7 s at -O2, 9.4 s at -O1; the whole core 4.4 min at -O1 on two busy cores), which made
    # most of the build's time. The cost at run time is small next to the 2D pose: triangulating
    # and filtering 10,000 frames x 6 cameras took 5.35 s CPU at -O1 against 4.70 s at -O2
    # (medians of 4, alternated), where their 2D pose takes about 25 min.
    compile_args = [] if sys.platform == "win32" else ["-O1", "-g0", "-Wno-unused-function"]
    link_args = [] if sys.platform in ("win32", "darwin") else ["-Wl,--strip-all"]
    exts = [Extension(module_name(src), [src], extra_compile_args=compile_args, extra_link_args=link_args)
            for src in core_sources()]
    return cythonize(exts, compiler_directives=DIRECTIVES, build_dir=C_DIR, nthreads=os.cpu_count() or 1,
                     quiet=True)


if __name__ == "__main__":
    os.chdir(ROOT)  # the sources are named relative to the project folder
    setup(
        name="vsion-core",
        version="1.0",
        description="VSION's compiled core (calibration, reconstruction, scoring, capture, live work, services)",
        packages=[],
        py_modules=[],
        ext_modules=extensions(),
        zip_safe=False,
    )
