"""Calibration file I/O: contract TOML round trip, anipose / Pose2Sim files, errors, Qualisys import."""
from __future__ import annotations

import tomllib

import cv2
import numpy as np
import pytest

from calibration.camera import Camera, CameraGroup
from calibration.io import CalibrationFileError, load_calibration, load_qca, load_toml, save_toml

# ---------------------------------------------------------------------------- helpers


def synthetic_group() -> CameraGroup:
    """Three cameras on a 3 m circle, 2 m high, looking at the origin; awkward float values on purpose."""
    cameras = []
    for i, angle in enumerate(np.deg2rad([0.0, 120.0, 240.0])):
        centre = np.array([3 * np.cos(angle), 3 * np.sin(angle), 2.0])
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])
        K = np.array([[1400.0 + np.pi, 0.0, 640.1 / 3], [0.0, 1401.0 / 7, 360.0 + 1e-9], [0.0, 0.0, 1.0]])
        dist = [0.1 / 3, -0.02, 1e-4, -2e-4] + ([1e-17] if i != 1 else [])
        cameras.append(Camera(f"cam{i + 1}", (1280, 720), K, dist, cv2.Rodrigues(R)[0], -R @ centre))
    metadata = {"error": np.float64(0.123456789), "board": "5x7 ChArUco board, 40 mm squares", "method": "charuco",
                "reprojection_rms_px": {"cam1": np.float64(0.1), "cam2": np.float32(0.25), "cam3": 0.3},
                "views": {"cam1": np.int64(12), "cam2": 9, "cam3": 10}, "frames_per_view": np.int64(3)}
    return CameraGroup(tuple(cameras), metadata)


def assert_one_line_error(exc: pytest.ExceptionInfo, path, *words: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message, message
    for word in words:
        assert word in message, message


ANIPOSE_TOML = """\
[cam_0]
name = "left"
size = [1920, 1080]
matrix = [[1500.5, 0.0, 959.5], [0.0, 1500.5, 539.5], [0.0, 0.0, 1.0]]
distortions = [-0.1, 0.05, 0.0, 0.0, 0.01]
rotation = [0.1, -0.2, 0.3]
translation = [0.5, 1.0, 3.0]

[cam_1]
name = "right"
size = [1920, 1080]
matrix = [[1490, 0, 960], [0, 1490, 540], [0, 0, 1]]
distortions = [-0.1, 0.05, 0.0, 0.0, 0.0]
rotation = [0.0, 0.5, 0.0]
translation = [-0.5, 1.0, 3.0]

[metadata]
adjusted = true
error = 0.42
"""

POSE2SIM_TOML = """\
[int_cam01_img]
name = "cam01"
size = [ 1088.0, 1920.0]
matrix = [ [ 1681.2, 0.0, 533.0], [ 0.0, 1681.1, 948.1], [ 0.0, 0.0, 1.0]]
distortions = [ -0.046, 0.14, 0.0006, 0.0007]
rotation = [ 1.2, -0.3, 0.1]
translation = [ 0.2, 1.1, 2.9]
fisheye = false

[int_cam02_img]
size = [ 1088.0, 1920.0]
matrix = [ [ 1673.7, 0.0, 534.5], [ 0.0, 1673.8, 963.2], [ 0.0, 0.0, 1.0]]
distortions = [ -0.047, 0.13, 0.0009, 0.0002]
rotation = [ 1.1, 0.4, -0.2]
translation = [ -0.1, 0.9, 3.1]
fisheye = false
some_future_key = "ignored"

[metadata]
adjusted = false
error = 0.0
"""

CAMERA = """\
[cam1]
name = "cam1"
size = [1280, 720]
matrix = [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]
distortions = [0.0, 0.0, 0.0, 0.0]
rotation = [0.0, 0.0, 0.0]
translation = [0.0, 0.0, 2.0]
"""


# ---------------------------------------------------------------------------- TOML


def test_round_trip_is_exact(tmp_path):
    group = synthetic_group()
    path = save_toml(group, tmp_path / "calib.toml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calib.toml"]  # no temporary file left behind

    raw = tomllib.loads(path.read_text())
    assert list(raw) == ["cam1", "cam2", "cam3", "metadata"]
    assert list(raw["cam1"]) == ["name", "size", "matrix", "distortions", "rotation", "translation"]

    loaded = load_toml(path)
    assert loaded.names == group.names
    for a, b in zip(group.cameras, loaded.cameras):
        assert b.size == a.size and isinstance(b.size[0], int)
        for attr in ("matrix", "dist", "rvec", "tvec"):
            got, want = getattr(b, attr), getattr(a, attr)
            assert got.dtype == np.float64 and np.array_equal(got, want), attr
    assert loaded.cameras[1].dist.size == 4 and loaded.cameras[0].dist.size == 5
    assert loaded.metadata == {"method": "charuco", "board": "5x7 ChArUco board, 40 mm squares",
                               "reprojection_rms_px": {"cam1": 0.1, "cam2": 0.25, "cam3": 0.3},
                               "views": {"cam1": 12, "cam2": 9, "cam3": 10}, "error": 0.123456789,
                               "frames_per_view": 3}
    # a second save over the first one gives the same bytes
    text = path.read_bytes()
    save_toml(loaded, path)
    assert path.read_bytes() == text


def test_save_without_metadata_writes_no_metadata_table(tmp_path):
    group = CameraGroup(synthetic_group().cameras[:1])
    path = save_toml(group, tmp_path / "one.toml")
    assert "metadata" not in path.read_text()
    assert load_toml(path).metadata == {}


def test_save_quotes_odd_names_and_refuses_nan(tmp_path):
    cam = synthetic_group().cameras[0]
    odd = CameraGroup((Camera('Hall "A" 1.2', cam.size, cam.matrix, cam.dist, cam.rvec, cam.tvec),))
    path = save_toml(odd, tmp_path / "odd.toml")
    assert "matrix = [[" in path.read_text()  # one line per key, as in the contract
    assert load_toml(path).names == ['Hall "A" 1.2']
    broken = CameraGroup((Camera("cam1", cam.size, cam.matrix, [np.nan, 0, 0, 0], cam.rvec, cam.tvec),))
    with pytest.raises(CalibrationFileError) as exc:
        save_toml(broken, tmp_path / "broken.toml")
    assert_one_line_error(exc, tmp_path / "broken.toml", "cam1", "NaN")
    assert not (tmp_path / "broken.toml").exists()


def test_failed_save_keeps_previous_file(tmp_path):
    path = save_toml(synthetic_group(), tmp_path / "calib.toml")
    before = path.read_bytes()
    bad = CameraGroup(synthetic_group().cameras, {"note": None})
    with pytest.raises(CalibrationFileError) as exc:
        save_toml(bad, path)
    assert_one_line_error(exc, path, "note", "None")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calib.toml"]


def test_reads_anipose_style_file(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_text(ANIPOSE_TOML)
    group = load_toml(path)
    assert group.names == ["left", "right"]  # the name key wins over [cam_0]
    left, right = group.cameras
    assert left.size == (1920, 1080)
    assert np.array_equal(left.matrix, [[1500.5, 0, 959.5], [0, 1500.5, 539.5], [0, 0, 1]])
    assert np.array_equal(left.dist, [-0.1, 0.05, 0.0, 0.0, 0.01])
    assert np.array_equal(right.rvec, [0.0, 0.5, 0.0]) and np.array_equal(right.tvec, [-0.5, 1.0, 3.0])
    assert right.matrix.dtype == np.float64
    assert group.metadata == {"adjusted": True, "error": 0.42}
    assert load_calibration(path).names == ["left", "right"]


def test_reads_pose2sim_style_file(tmp_path):
    path = tmp_path / "Calib_qualisys.toml"
    path.write_text(POSE2SIM_TOML)
    group = load_toml(path)
    # [int_cam01_img] has name = "cam01"; [int_cam02_img] has no name key, so the section name is used
    assert group.names == ["cam01", "int_cam02_img"]
    assert group["cam01"].size == (1088, 1920)  # Pose2Sim writes the size as floats
    assert np.array_equal(group["cam01"].dist, [-0.046, 0.14, 0.0006, 0.0007])
    assert group.metadata == {"adjusted": False, "error": 0.0}


BAD_TOML = {
    "malformed": (CAMERA.replace('name = "cam1"', "name = cam1"), ("not valid TOML", "line 2")),
    "missing_matrix": (CAMERA.replace("matrix = [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]\n", ""),
                       ("[cam1]", "missing 'matrix'")),
    "matrix_2x3": (CAMERA.replace("[[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]",
                                  "[[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0]]"), ("'matrix'", "3x3", "got 2x3")),
    "distortion_count": (CAMERA.replace("distortions = [0.0, 0.0, 0.0, 0.0]", "distortions = [0.0, 0.0, 0.0]"),
                         ("'distortions'", "4 or 5")),
    "fisheye": (CAMERA + "fisheye = true\n", ("[cam1]", "fisheye", "pinhole")),
    "empty": ("", ("empty",)),
    "no_camera": ("[metadata]\nerror = 1.0\n", ("no camera",)),
    "bad_size": (CAMERA.replace("size = [1280, 720]", "size = [1280, -720]"), ("'size'",)),
    "text_matrix": (CAMERA.replace("[0.0, 0.0, 1.0]]", '[0.0, 0.0, "one"]]'), ("'matrix'", "numbers")),
}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_bad_toml_raises_clear_error_and_writes_nothing(tmp_path, case):
    text, words = BAD_TOML[case]
    path = tmp_path / "calib.toml"
    path.write_text(text)
    for loader in (load_toml, load_calibration):
        with pytest.raises(CalibrationFileError) as exc:
            loader(path)
        assert_one_line_error(exc, path, *words)
    assert isinstance(exc.value, ValueError)
    assert [p.name for p in tmp_path.iterdir()] == ["calib.toml"] and path.read_text() == text


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(CalibrationFileError) as exc:
        load_calibration(tmp_path / "nope.toml")
    assert_one_line_error(exc, tmp_path / "nope.toml", "not found")
    other = tmp_path / "calib.json"
    other.write_text('{"cam1": {}}')
    with pytest.raises(CalibrationFileError) as exc:
        load_calibration(other)
    assert_one_line_error(exc, other, "unknown calibration format")


# ---------------------------------------------------------------------------- Qualisys


@pytest.fixture(scope="module")
def demo_qca():
    """The real Qualisys export shipped with the Pose2Sim demo (wheel downloaded once into the cache)."""
    from capture import demo
    try:
        return demo.pose2sim_file("calibration/Calib.qca.txt")
    except RuntimeError as exc:  # offline and not cached
        pytest.skip(str(exc))


@pytest.mark.parametrize("case", ["truncated", "not_xml", "wrong_root", "no_cameras", "bad_number"])
def test_bad_qca_raises_clear_error_and_writes_nothing(tmp_path, demo_qca, case):
    real = demo_qca.read_text()
    text, words = {
        "truncated": (real[: len(real) // 2], ("not valid XML", "line")),
        "not_xml": ("cam01 1681.2 533.0 948.1\n", ("not valid XML",)),
        "wrong_root": ('<?xml version="1.0"?><settings/>', ("not a Qualisys calibration", "<settings>")),
        "no_cameras": ('<?xml version="1.0"?><calibration><cameras/></calibration>', ("no <cameras>/<camera>",)),
        "bad_number": (real.replace('focalLengthU="107599.671875"', 'focalLengthU="abc"'),
                       ("camera 1 (cam01)", "focalLengthU", "not a number")),
    }[case]
    path = tmp_path / "Calib.qca.txt"
    path.write_text(text)
    for loader in (load_qca, load_calibration):
        with pytest.raises(CalibrationFileError) as exc:
            loader(path)
        assert_one_line_error(exc, path, *words)
    assert [p.name for p in tmp_path.iterdir()] == ["Calib.qca.txt"]


def test_qca_import_of_pose2sim_demo(demo_qca, tmp_path):
    group = load_calibration(demo_qca)
    assert group.names == ["cam01", "cam02", "cam03", "cam04"]  # the serial attributes, in file order
    cam01 = group["cam01"]
    # focal length and principal point are stored in 1/64 px, distortion unscaled
    assert cam01.matrix[0, 0] == 107599.671875 / 64 and cam01.matrix[1, 2] == 60680.792969 / 64
    assert np.array_equal(cam01.dist, [-0.046183, 0.139983, 0.000608, 0.00069, 0.0])
    assert np.allclose(cam01.center, [1.4602323709212087, -1.9091590482454608, 1.8965058524092062])
    assert group.metadata["qualisys_avg_residual_mm"]["cam04"] == 0.504772

    for cam in group.cameras:
        width, height = cam.size
        # fov_video 0..1087 x 0..1919: portrait like the demo videos (1088 or 1080 wide), no rotation needed
        assert (width, height) == (1088, 1920)
        # ~1675 px for a 1920 px tall image: a ~60 deg vertical field of view, a phone-like lens
        assert 1000 < cam.matrix[0, 0] < 3000 and 1000 < cam.matrix[1, 1] < 3000
        assert 0.3 * width < cam.matrix[0, 2] < 0.7 * width and 0.3 * height < cam.matrix[1, 2] < 0.7 * height
        assert np.isclose(np.linalg.det(cam.R), 1.0)
        # geometry: cameras 1-6 m from the origin, above the floor (Z up), looking at the capture volume
        assert 1.0 < np.linalg.norm(cam.center) < 6.0 and cam.center[2] > 1.0
        origin_cam = cam.tvec  # the world origin in camera coordinates
        assert origin_cam[2] > 0, f"{cam.name}: origin behind the camera"
        u, v = cam.project(np.zeros((1, 3)))[0]
        assert 0 <= u < width and 0 <= v < height, (cam.name, u, v)
        # world up (+Z) is image up (smaller v): the y/z flip from Qualisys' camera frame is right
        above = cam.project(np.array([[0.0, 0.0, 1.0]]))[0]
        assert above[1] < v - 100, (cam.name, above, v)

    # the cameras stand around the volume: their optical axes pass near the origin
    for cam in group.cameras:
        axis = cam.R[2]  # viewing direction in world
        to_origin = -cam.center
        miss = np.linalg.norm(to_origin - axis * (to_origin @ axis))
        assert miss < 1.5, (cam.name, miss)

    # survives conversion to the contract TOML unchanged
    back = load_toml(save_toml(group, tmp_path / "Calib_qualisys.toml"))
    for a, b in zip(group.cameras, back.cameras):
        assert a.name == b.name and a.size == b.size
        assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("matrix", "dist", "rvec", "tvec"))

    # XML content is recognised whatever the file name
    renamed = tmp_path / "qualisys_export.xml"
    renamed.write_bytes(demo_qca.read_bytes())
    assert load_calibration(renamed).names == group.names


def test_qca_distortion_is_unscaled_on_demo_checkerboard(demo_qca):
    """Evidence for the distortion unit: the demo's own checkerboard images (cam02, 4x7 corners,
    60 mm) reproject better with the QCA coefficients as stored than divided by 64 (Pose2Sim's reading)."""
    from capture import demo
    cam = load_qca(demo_qca)["cam02"]
    board = np.zeros((28, 3))
    board[:, :2] = np.mgrid[0:4, 0:7].T.reshape(-1, 2) * 0.06
    rms = {"stored": [], "divided_by_64": []}
    for k in range(1, 8):
        try:
            image = cv2.imread(str(demo.pose2sim_file(f"calibration/intrinsics/int_cam02_img/cam02_0{k}_int.jpg")),
                               cv2.IMREAD_GRAYSCALE)
        except KeyError:  # not every index exists in the wheel
            continue
        assert image.shape == (cam.size[1], cam.size[0])  # the intrinsics images are portrait too
        found, corners = cv2.findChessboardCorners(image, (4, 7))
        if not found:
            continue
        corners = cv2.cornerSubPix(image, corners, (11, 11), (-1, -1),
                                   (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3))
        for label, dist in (("stored", cam.dist), ("divided_by_64", cam.dist / 64)):
            _, rvec, tvec = cv2.solvePnP(board, corners, cam.matrix, dist)
            rvec, tvec = cv2.solvePnPRefineLM(board, corners, cam.matrix, dist, rvec, tvec)
            projected, _ = cv2.projectPoints(board, rvec, tvec, cam.matrix, dist)
            rms[label].append(((projected - corners) ** 2).sum(-1).ravel())
    assert len(rms["stored"]) >= 4
    stored, scaled = (float(np.sqrt(np.mean(np.concatenate(v)))) for v in rms.values())
    assert stored < 0.5 and stored < scaled, (stored, scaled)
