"""`python app.py calibrate ...` on the real Pose2Sim checkerboard images, and every bad input."""
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from calibration.io import load_toml
from capture import demo
from tests.helpers.paths import ROOT

INTRINSIC_IMAGES = [f"calibration/intrinsics/int_cam{c:02d}_img/cam{c:02d}_{k:02d}_int.jpg"
                    for c in range(1, 5) for k in range(1, 8)]


@pytest.fixture(scope="module")
def pose2sim():
    """The Pose2Sim demo's calibration folder (checkerboard images and Calib.qca.txt), from the cached wheel."""
    try:
        for member in INTRINSIC_IMAGES + ["calibration/Calib.qca.txt"]:
            path = demo.pose2sim_file(member)
    except RuntimeError as exc:  # offline with an empty cache
        pytest.skip(str(exc))
    return path.parent


def vsion(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def test_pose2sim_intrinsics_match_qualisys(pose2sim, tmp_path):
    out = tmp_path / "intrinsics.toml"
    for c in range(1, 5):
        proc = vsion("calibrate", "intrinsics", pose2sim / "intrinsics" / f"int_cam{c:02d}_img", "--camera",
                     f"cam{c:02d}", "--board", "4x7", "--square-mm", "60", "--out", out)
        assert proc.returncode == 0, proc.stderr
    proc = vsion("calibrate", "import", pose2sim / "Calib.qca.txt", "--out", tmp_path / "qualisys.toml")
    assert proc.returncode == 0, proc.stderr
    ours, qualisys = load_toml(out), load_toml(tmp_path / "qualisys.toml")
    summary = ours.metadata["intrinsics"]
    assert sum(summary[n]["used"] for n in ours.names) >= 26  # of 28 images
    for name in ours.names:
        assert summary[name]["rms_px"] <= 0.5
        f_ours, f_qtm = ours[name].matrix[0, 0], qualisys[name].matrix[0, 0]
        assert abs(f_ours / f_qtm - 1) <= 0.01, (name, f_ours, f_qtm)


def test_intrinsics_bad_inputs(tmp_path, pose2sim):
    out = tmp_path / "out.toml"
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = vsion("calibrate", "intrinsics", empty, "--camera", "cam1", "--out", out)
    assert proc.returncode != 0 and "no images" in proc.stderr

    noboard = tmp_path / "noboard"
    noboard.mkdir()
    for k in range(3):
        cv2.imwrite(str(noboard / f"{k}.png"), np.full((120, 160), 100 + k, np.uint8))
    proc = vsion("calibrate", "intrinsics", noboard, "--camera", "cam1", "--out", out)
    assert proc.returncode != 0 and "no 9x6 checkerboard" in proc.stderr

    mixed = tmp_path / "mixed"
    shutil.copytree(pose2sim / "intrinsics" / "int_cam01_img", mixed)
    cv2.imwrite(str(mixed / "zz_small.png"), np.zeros((100, 100), np.uint8))
    proc = vsion("calibrate", "intrinsics", mixed, "--camera", "cam1", "--board", "4x7", "--square-mm", "60",
                 "--out", out)
    assert proc.returncode != 0 and "different sizes" in proc.stderr and "zz_small" in proc.stderr

    proc = vsion("calibrate", "intrinsics", pose2sim / "intrinsics" / "int_cam01_img", "--camera", "bad name",
                 "--out", out)
    assert proc.returncode != 0 and "--camera" in proc.stderr
    proc = vsion("calibrate", "intrinsics", pose2sim / "intrinsics" / "int_cam01_img", "--camera", "cam1",
                 "--board", "9by6", "--out", out)
    assert proc.returncode != 0 and "COLSxROWS" in proc.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[cam1\nname = 'x'\n")
    proc = vsion("calibrate", "intrinsics", pose2sim / "intrinsics" / "int_cam01_img", "--camera", "cam1",
                 "--board", "4x7", "--square-mm", "60", "--out", broken)
    assert proc.returncode != 0 and "not valid TOML" in proc.stderr
    assert broken.read_text() == "[cam1\nname = 'x'\n"  # untouched
    assert not out.exists()
    for proc_output in (proc.stderr,):
        assert "Traceback" not in proc_output


def test_import_bad_files(tmp_path):
    out = tmp_path / "out.toml"
    bad_qca = tmp_path / "bad.qca.txt"
    bad_qca.write_text("<?xml version='1.0'?><calibration><cameras><camera serial='1'>")
    proc = vsion("calibrate", "import", bad_qca, "--out", out)
    assert proc.returncode != 0 and "bad.qca.txt" in proc.stderr and "Traceback" not in proc.stderr
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[cam1]\nname = 'cam1'\nsize = [10, 10]\nmatrix = [[1, 0], [0, 1]]\ndistortions = [0, 0, 0, 0]\n"
                        "rotation = [0, 0, 0]\ntranslation = [0, 0, 0]\n")
    proc = vsion("calibrate", "import", bad_toml, "--out", out)
    assert proc.returncode != 0 and "matrix" in proc.stderr
    assert not out.exists()


def test_extrinsics_bad_inputs(tmp_path, pose2sim):
    intr = tmp_path / "intrinsics.toml"
    proc = vsion("calibrate", "import", pose2sim / "Calib.qca.txt", "--out", intr)
    assert proc.returncode == 0, proc.stderr
    frames = tmp_path / "frames"
    for name in ("cam01", "cam02", "cam03", "cam04", "cam09"):
        shutil.copytree(pose2sim / "intrinsics" / "int_cam01_img", frames / name)
    out = tmp_path / "out.toml"
    proc = vsion("calibrate", "extrinsics", frames, "--intrinsics", intr, "--board", "4x7", "--square-mm", "60",
                 "--out", out)
    assert proc.returncode != 0 and "unknown camera cam09" in proc.stderr
    shutil.rmtree(frames / "cam09")
    shutil.rmtree(frames / "cam04")
    proc = vsion("calibrate", "extrinsics", frames, "--intrinsics", intr, "--board", "4x7", "--square-mm", "60",
                 "--out", out)
    assert proc.returncode != 0 and "no views for camera cam04" in proc.stderr
    assert not out.exists()
