"""The delivered folder (``make dist``): what a site gets must work like the source.

The bundle is built (or found up to date) by ``make dist``, then its executable is run as a
technician would: the demo on a free port with its data in a temporary per-user folder (health,
a camera preview, live pose and a take processed in the background, both of which start worker
processes with ``spawn``), the ``calibrate import``, ``triangulate`` and ``process`` commands on
the fixtures, and a clean stop on SIGTERM. The compiled core (``build/core``) is checked against
the core unit tests in a copy of the project where the compiled modules replace the sources.

Slow: about 3 minutes to build from scratch (nothing to do when up to date), 2 to run.
"""
from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration.camera import CameraGroup
from calibration.io import load_qca, load_toml, save_toml
from capture import demo
from reconstruction import exports
from reconstruction.landmarks import N_JOINTS
from setup import core_sources, module_name
from tests.helpers.motion import joint_errors, observe, person_motion
from tests.helpers.paths import ROOT
from tests.helpers.servers import DemoServer, EventClient, wait_until
from tests.helpers.synthetic import camera_ring

DIST = ROOT / "dist" / "vsion"
EXE = DIST / ("vsion.exe" if sys.platform == "win32" else "vsion")
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
CORE_TESTS = ["tests/unit/test_reconstruction.py", "tests/unit/test_calibration_synthetic.py",
              "tests/unit/test_exports.py", "tests/unit/test_comparison.py"]
POSE_MODELS = {"pose_landmark_cpu.binarypb", "pose_landmark_full.tflite", "pose_detection.tflite"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


@pytest.fixture(scope="module")
def dist() -> Path:
    """``dist/vsion``, built by ``make dist`` (which does nothing when it is up to date)."""
    t0 = time.monotonic()
    done = subprocess.run(["make", "dist"], cwd=ROOT, capture_output=True, text=True, timeout=1400)
    assert done.returncode == 0, f"make dist failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    print(f"make dist: {time.monotonic() - t0:.0f} s; dist/vsion is {_size_mb(DIST):.0f} MB")
    assert EXE.is_file() and os.access(EXE, os.X_OK)
    return DIST


def vsion(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the built executable (never the sources) from a neutral folder."""
    kwargs.setdefault("cwd", "/")
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs)


# --------------------------------------------------------------------------- what is in the folder
def test_the_folder_holds_the_compiled_core_and_leaves_out_the_unused(dist):
    from PyInstaller.archive.readers import CArchiveReader

    internal = dist / "_internal"
    modules = set(CArchiveReader(str(EXE)).open_embedded_archive("PYZ.pyz").toc)
    for source in core_sources(ROOT):
        assert (internal / (source.removesuffix(".py") + SUFFIX)).is_file(), f"{source} is not compiled in the folder"
        assert module_name(source) not in modules, f"{source} is shipped as Python too"
    assert {"web.pages", "engineio.async_drivers.threading", "sqlalchemy.dialects.sqlite.pysqlite",
            "sqlalchemy.dialects.postgresql.psycopg", "psycopg_binary"} <= modules
    assert not {m.split(".")[0] for m in modules} & {"matplotlib", "tkinter", "celery", "jax", "PIL", "tests",
                                                     "pytest", "Cython"}
    assert (internal / "psycopg_binary").is_dir() and list((internal / "ezc3d").glob("*ezc3d*.so"))
    shipped = {p.name for p in (internal / "mediapipe" / "modules").rglob("*") if p.is_file()}
    assert shipped == POSE_MODELS  # MediaPipe Pose only, without the other solutions' models
    for name in ("templates/base.html", "static/vendor/socket.io-client/socket.io.min.js", "migrations/env.py",
                 "migrations/alembic.ini"):
        assert (internal / name).is_file(), name
    assert list((internal / "migrations" / "versions").glob("*.py"))


# --------------------------------------------------------------------------- the compiled core
def _compiled_tree(dest: Path) -> Path:
    """A copy of the project in which every compiled module replaces its source (nothing to shadow)."""
    skip = shutil.ignore_patterns(".venv", ".git", "build", "dist", "data", "test-artifacts", "__pycache__",
                                  ".pytest_cache", ".ruff_cache", "*.so", "node_modules")
    shutil.copytree(ROOT, dest, ignore=skip)
    for source in core_sources(ROOT):
        (dest / source).unlink()
        compiled = source.removesuffix(".py") + SUFFIX
        shutil.copy2(ROOT / "build" / "core" / compiled, dest / compiled)
    return dest


def test_the_compiled_core_passes_the_core_unit_tests(dist, tmp_path):
    tree = _compiled_tree(tmp_path / "vsion")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    names = [module_name(source) for source in core_sources(ROOT)]
    where = subprocess.run([sys.executable, "-c", f"import importlib; [print(importlib.import_module(m).__file__) "
                            f"for m in {names!r}]"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr[-3000:]
    files = where.stdout.split()
    assert len(files) == len(names) and all(f.endswith(SUFFIX) and f.startswith(str(tree)) for f in files), files
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *CORE_TESTS],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    print(done.stdout[-600:])
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"


# --------------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def qualisys():
    return demo.pose2sim_file("calibration/Calib.qca.txt")


def test_calibrate_import_from_the_executable(dist, qualisys, tmp_path):
    out = tmp_path / "calibration.toml"
    done = vsion("calibrate", "import", qualisys, "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported 4 camera(s)" in done.stdout
    imported, source = load_toml(out), load_qca(qualisys)
    assert imported.names == source.names
    for a, b in zip(imported.cameras, source.cameras):
        np.testing.assert_allclose(a.matrix, b.matrix, rtol=1e-9)
        np.testing.assert_allclose(a.tvec, b.tvec, rtol=1e-9, atol=1e-12)
    bad = vsion("calibrate", "import", tmp_path / "missing.qca.txt", "--out", tmp_path / "x.toml")
    assert bad.returncode != 0 and not (tmp_path / "x.toml").exists()


def test_triangulate_from_the_executable(dist, tmp_path):
    group = CameraGroup(camera_ring(6))
    truth = person_motion(120, 30.0, seed=1)
    obs = observe(list(group.cameras), truth, seed=7)
    npz = tmp_path / "keypoints2d.npz"
    exports.save_keypoints(npz, exports.Keypoints2D(points=obs.points, scores=obs.scores, cameras=tuple(group.names),
                                                    fps=30.0, offsets=np.zeros(len(group.names), np.int64)))
    calibration = save_toml(group, tmp_path / "calibration.toml")
    out = tmp_path / "out"
    done = vsion("triangulate", npz, "--calibration", calibration, "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["pose3d.c3d", "pose3d.csv", "pose3d.trc", "report.json"]
    points, _ = exports.read_pose3d_csv(out / "pose3d.csv")
    assert points.shape == (120, N_JOINTS, 3)
    assert np.nanmean(joint_errors(points, truth)) < 0.015


def test_users_on_postgresql_from_the_executable(dist, tmp_path):
    import sqlalchemy as sa

    from tests.helpers.postgres import PostgresServer, find_bindir

    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries missing: install Debian's postgresql package (make apt-test)")
    config = tmp_path / "config.yaml"
    config.write_text("cameras:\n  - {name: cam1, url: 'demo:0'}\ndata_dir: data\n")
    server = PostgresServer().start()
    try:
        url = server.database()
        done = vsion("users", "create", "alice", "--role", "admin", "--config", config, input="alice-password-123\n",
                     env={**os.environ, "DATABASE_URL": url})
        assert done.returncode == 0, done.stderr[-3000:]
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT role FROM users WHERE username = 'alice'")).scalar() == "admin"
        engine.dispose()
    finally:
        server.stop()


def test_the_server_reads_its_configuration_from_the_data_folder(dist, tmp_path):
    done = vsion("serve", env={**os.environ, "VSION_DATA": str(tmp_path)}, timeout=60)
    assert done.returncode != 0 and f"{tmp_path / 'config.yaml'}: no such configuration file" in done.stderr


# --------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def server(dist, qualisys, tmp_path_factory):
    """The executable's demo, its data in a temporary per-user folder ($VSION_DATA)."""
    data = tmp_path_factory.mktemp("vsion-data")
    server = DemoServer(data, command=[str(EXE)])
    try:
        t0 = time.monotonic()
        server.start()
        print(f"the executable's demo answered with 4 cameras after {time.monotonic() - t0:.1f} s")
        yield server
    finally:
        server.kill()


def _first_jpeg(response, timeout: float = 30.0) -> bytes:
    buffer, deadline = b"", time.monotonic() + timeout
    for chunk in response.iter_content(8192):
        buffer += chunk
        start = buffer.find(b"\xff\xd8")
        end = buffer.find(b"\xff\xd9", start + 2) if start >= 0 else -1
        if end >= 0:
            return buffer[start:end + 2]
        assert time.monotonic() < deadline, "no JPEG frame in time"
    raise AssertionError("the preview stream ended without a frame")


def test_demo_health_and_preview(server):
    import requests

    health = requests.get(server.url + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["connected"] == 4
    session = server.login("technician")
    with session.get(server.url + "/video_feed/0", stream=True, timeout=10) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        frame = cv2.imdecode(np.frombuffer(_first_jpeg(reply), np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None and frame.ndim == 3 and frame.shape[0] > 100 and frame.shape[1] > 100
    assert session.get(server.url + "/video_feed/9", timeout=10).status_code == 404
    # What VSION makes lives in the data folder, never in the delivered one.
    assert (server.data / "demo" / "vsion.db").is_file() and (server.data / "demo" / "config.yaml").is_file()
    assert not [p for p in DIST.rglob("*") if p.name in ("vsion.db", "config.yaml", "secret_key", "demo-logins.txt")]


def test_live_pose_from_the_executable(server):
    client = EventClient(server.url, server.login("technician"))
    try:
        ack = client.call("live pose", {"enabled": True})
        assert ack["ok"] and ack["calibrated"], ack
        # Worker processes started by the executable: a skeleton in 3D with the worker seen in 2D by
        # three cameras or more (a frame set may place them from two views only).
        client.wait_for("pose3d", lambda e: sum(p is not None for p in e.get("points3d") or []) >= 25
                        and sum(cam["points"] is not None for cam in e["cameras"]) >= 3, timeout=90)
        assert client.call("live pose", {"enabled": False})["ok"]
    finally:
        client.close()


@pytest.fixture(scope="module")
def take(server):
    """A 3 s take recorded by the executable, and its background processing's last job event."""
    client = EventClient(server.url, server.login("technician"))
    try:
        started = client.call("start recording", {"label": "delivery test"})
        assert started["ok"], started
        time.sleep(3)
        stopped = client.call("stop recording", {})
        assert stopped["ok"] and stopped["take"]["status"] == "complete", stopped
        job = client.wait_for("job status", lambda j: j["take_id"] == started["take_id"]
                              and j["status"] in ("done", "failed"), timeout=240)
    finally:
        client.close()
    return server.data / "demo" / "takes" / stopped["take_id"], job


def test_a_take_is_processed_in_the_background(take):
    folder, job = take
    assert job["status"] == "done", job
    assert job["report"]["reconstructed_pct"] > 75 and job["report"]["frames"] >= 60, job
    for name in ("keypoints2d.npz", "pose3d.csv", "pose3d.trc", "pose3d.c3d", "report.json"):
        assert (folder / "processed" / name).stat().st_size > 0, name


def test_process_from_the_executable(take, tmp_path):
    folder, _ = take
    out = tmp_path / "out"
    done = vsion("process", folder, "--calibration", folder / "calibration.toml", "--out", out, "--workers", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "% of joints reconstructed" in done.stdout
    points, _ = exports.read_pose3d_csv(out / "pose3d.csv")
    assert np.isfinite(points).all(axis=2).mean() > 0.75


def test_it_stops_cleanly_on_sigterm(server):
    import psutil

    children = psutil.Process(server.proc.pid).children(recursive=True)  # pose workers, resource tracker
    code = server.terminate()
    assert code == 0, f"exit code {code} on SIGTERM:\n{server.log()}"
    assert "shutting down" in server.log()
    assert wait_until(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
                      timeout=15), f"processes left behind: {[c for c in children if c.is_running()]}"
