#!/usr/bin/env python
"""Delivery benchmark (``make dist``). Prints one JSON object:

- ``build``: time of ``make dist`` from scratch (``--rebuild``) or as found, and the bundle's size;
- ``cold_start``: seconds from launch to the first JPEG of camera 0's preview, for the executable
  and for ``python app.py demo``, alternated ``--rounds`` times, each with a fresh data folder;
- ``triangulation``: triangulation + filtering of 10,000 frames x 33 joints x 6 cameras with the
  compiled core (``build/core``) and with the plain Python sources, alternated, in subprocesses
  limited to one BLAS thread.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXE = ROOT / "dist" / "vsion" / "vsion"
SPEED = """
import time
from calibration.camera import CameraGroup
from reconstruction import filtering, triangulate
from tests.helpers.motion import observe, person_motion
from tests.helpers.synthetic import camera_ring
group = CameraGroup(camera_ring(6))
obs = observe(list(group.cameras), person_motion(10000, 30.0, seed=3), seed=4)
t0 = time.process_time()
tri = triangulate.triangulate(group, obs.points, obs.scores)
filtering.smooth(tri.points, 30.0)
print(time.process_time() - t0, triangulate.__file__)
"""


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def build(rebuild: bool) -> dict:
    if rebuild:
        subprocess.run(["make", "clean-dist"], cwd=ROOT, check=True, capture_output=True)
    t0 = time.monotonic()
    subprocess.run(["make", "dist"], cwd=ROOT, check=True, capture_output=True)
    return {"from_scratch": rebuild, "seconds": round(time.monotonic() - t0, 1),
            "bundle_mb": round(_size_mb(EXE.parent), 1), "files": sum(1 for p in EXE.parent.rglob("*") if p.is_file())}


def _first_frame_s(command: list[str]) -> float:
    """Launch ``command`` (a demo server) and time the first JPEG of camera 0's preview."""
    from tests.helpers.servers import DemoServer

    with tempfile.TemporaryDirectory(prefix="vsion-start-") as data:
        server = DemoServer(Path(data), command=command)
        port = server.port
        t0 = time.monotonic()
        try:
            server.start(timeout=300)
            session = server.login("technician")
            with session.get(f"http://127.0.0.1:{port}/video_feed/0", stream=True, timeout=60) as feed:
                seen = b""
                for chunk in feed.iter_content(4096):
                    seen += chunk
                    if b"\xff\xd9" in seen:  # end of the first JPEG
                        break
            return time.monotonic() - t0
        finally:
            server.kill()


def cold_start(rounds: int) -> dict:
    exe, source = [], []
    for k in range(rounds):
        for which in (("exe", "source") if k % 2 == 0 else ("source", "exe")):
            if which == "exe":
                exe.append(_first_frame_s([str(EXE)]))
            else:
                source.append(_first_frame_s([sys.executable, str(ROOT / "app.py")]))
    return {"rounds": rounds, "executable_s": [round(v, 2) for v in exe], "python_s": [round(v, 2) for v in source],
            "executable_median_s": round(statistics.median(exe), 2), "python_median_s": round(statistics.median(source), 2)}


def _compiled_tree(dest: Path) -> Path:
    """A copy of the sources where the compiled core replaces the ``.py`` files."""
    import importlib.machinery

    from setup import core_sources

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "dist", "build", "data", "test-artifacts", ".git"))
    for source in core_sources(ROOT):
        (dest / source).unlink()
        shutil.copy2(ROOT / "build" / "core" / (source.removesuffix(".py") + suffix), dest / (source.removesuffix(".py") + suffix))
    return dest


def triangulation(rounds: int) -> dict:
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    times = {"compiled": [], "python": []}
    with tempfile.TemporaryDirectory(prefix="vsion-core-") as tmp:
        tree = _compiled_tree(Path(tmp) / "vsion")
        for k in range(rounds):
            for which in (("compiled", "python") if k % 2 == 0 else ("python", "compiled")):
                cwd = tree if which == "compiled" else ROOT
                out = subprocess.run([sys.executable, "-c", SPEED], cwd=cwd, env=env, check=True, capture_output=True,
                                     text=True).stdout.split()
                assert out[1].endswith(".py") == (which == "python"), out
                times[which].append(float(out[0]))
    compiled, plain = statistics.median(times["compiled"]), statistics.median(times["python"])
    return {"frames": 10000, "cameras": 6, "cpu_s_compiled": [round(v, 2) for v in times["compiled"]],
            "cpu_s_python": [round(v, 2) for v in times["python"]], "compiled_median_s": round(compiled, 2),
            "python_median_s": round(plain, 2), "speedup": round(plain / compiled, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="time a build from scratch (make clean-dist first)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["build", "start", "speed"], action="append")
    args = parser.parse_args()
    parts = set(args.only or ["build", "start", "speed"])
    out: dict = {"cpu_count": os.cpu_count()}
    if "build" in parts or not EXE.is_file():
        out["build"] = build(args.rebuild)
    if "start" in parts:
        out["cold_start"] = cold_start(args.rounds)
    if "speed" in parts:
        out["triangulation"] = triangulation(args.rounds)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
