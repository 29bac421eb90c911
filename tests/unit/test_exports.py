"""Processing outputs: keypoints .npz, pose CSV, OpenSim TRC, C3D and JSON: round trips, layouts, errors, atomicity."""
from __future__ import annotations

import json
import math

import ezc3d
import numpy as np
import pytest

from reconstruction.exports import (
    ExportError,
    Keypoints2D,
    load_keypoints,
    read_pose3d_csv,
    read_trc,
    save_keypoints,
    write_c3d,
    write_json,
    write_pose3d_csv,
    write_trc,
)
from reconstruction.landmarks import INDEX, JOINTS, N_JOINTS

FPS = 30.0

# ---------------------------------------------------------------------------- helpers


def pose(n_frames: int = 12, seed: int = 0) -> np.ndarray:
    """(F, 33, 3) metres with awkward values and missing joints (the last joint in frame 1, everyone in frame 5)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.5, 1.5, (n_frames, N_JOINTS, 3)) + [0.0, 0.0, 1.0]
    points[0, INDEX["nose"]] = np.nan
    points[1, N_JOINTS - 1] = np.nan
    if n_frames > 5:
        points[3, INDEX["left_wrist"], 1] = np.nan  # one NaN coordinate: the whole joint is missing
        points[5, :] = np.nan  # a frame with nobody
    return points


def expected(points: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[np.isnan(out).any(axis=2)] = np.nan
    return out


def keypoints(n_cams: int = 3, n_frames: int = 7, seed: int = 1) -> Keypoints2D:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1280, (n_cams, n_frames, N_JOINTS, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, (n_cams, n_frames, N_JOINTS)).astype(np.float32)
    points[0, 2, 5] = np.nan
    scores[0, 2, 5] = 0.0
    points[1, :, 10:] = np.nan
    return Keypoints2D(points=points, scores=scores, cameras=tuple(f"cam{i + 1}" for i in range(n_cams)),
                       fps=29.97, offsets=np.arange(n_cams) - 1)


def good_arrays(n_cams: int = 2, n_frames: int = 4) -> dict:
    return {"points": np.zeros((n_cams, n_frames, N_JOINTS, 2), np.float32),
            "scores": np.full((n_cams, n_frames, N_JOINTS), 0.5, np.float32),
            "cameras": np.array([f"cam{i + 1}" for i in range(n_cams)]),
            "fps": np.float64(FPS), "offsets": np.zeros(n_cams, np.int64)}


def assert_one_line_error(exc: pytest.ExceptionInfo, path, *words: str) -> None:
    message = str(exc.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------------------- keypoints .npz


def test_keypoints_round_trip_keeps_nan_names_fps_and_offsets(tmp_path):
    kp = keypoints()
    path = tmp_path / "keypoints2d.npz"
    save_keypoints(path, kp)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(["points", "scores", "cameras", "fps", "offsets"])
        assert npz["cameras"].dtype.kind == "U" and npz["fps"].shape == () and npz["offsets"].dtype == np.int64
        assert npz["points"].dtype == np.float32 and npz["scores"].dtype == np.float32
    back = load_keypoints(path)
    np.testing.assert_array_equal(back.points, kp.points)  # NaN compares equal here
    np.testing.assert_array_equal(back.scores, kp.scores)
    assert back.cameras == ("cam1", "cam2", "cam3")
    assert back.fps == pytest.approx(29.97)
    assert back.offsets.dtype == np.int64 and back.offsets.tolist() == [-1, 0, 1]
    assert back.n_frames == 7 and back.points.shape == (3, 7, N_JOINTS, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["keypoints2d.npz"]


def test_keypoints2d_converts_dtypes_and_refuses_bad_values():
    arrays = good_arrays()
    kp = Keypoints2D(points=arrays["points"].astype(np.float64), scores=arrays["scores"], cameras=["a", "b"],
                     fps=np.float32(25), offsets=np.array([0, 3], np.int32))
    assert kp.points.dtype == np.float32 and kp.offsets.dtype == np.int64
    assert kp.cameras == ("a", "b") and isinstance(kp.fps, float) and kp.n_frames == 4
    with pytest.raises(ExportError, match=r"scores must lie in \[0, 1\]"):
        Keypoints2D(points=arrays["points"], scores=arrays["scores"] * 3, cameras=("a", "b"), fps=30, offsets=[0, 0])
    with pytest.raises(ExportError, match="duplicate camera names: 'a'"):
        Keypoints2D(points=arrays["points"], scores=arrays["scores"], cameras=("a", "a"), fps=30, offsets=[0, 0])


def test_save_keypoints_checks_arrays_changed_in_place(tmp_path):
    kp = keypoints()
    kp.scores[0, 0, 0] = np.nan
    path = tmp_path / "keypoints2d.npz"
    with pytest.raises(ExportError) as exc:
        save_keypoints(path, kp)
    assert_one_line_error(exc, path, "scores contain NaN")
    assert list(tmp_path.iterdir()) == []


def _set(**changes):
    def make(arrays: dict) -> dict:
        arrays.update(changes)
        return arrays
    return make


def _drop(key):
    def make(arrays: dict) -> dict:
        del arrays[key]
        return arrays
    return make


def _with(key, fn):
    def make(arrays: dict) -> dict:
        arrays[key] = fn(arrays[key])
        return arrays
    return make


BAD_NPZ = {
    "missing key": (_drop("scores"), "missing key 'scores'"),
    "missing keys": (lambda a: {"points": a["points"]}, "missing keys 'scores', 'cameras', 'fps', 'offsets'"),
    "points ndim": (_with("points", lambda p: p[0]), "points must have shape (C, F, 33, 2), got (4, 33, 2)"),
    "points last dims": (_with("points", lambda p: np.zeros(p.shape[:3] + (3,), np.float32)),
                         "points must have shape (C, F, 33, 2), got (2, 4, 33, 3)"),
    "points 17 joints": (_with("points", lambda p: p[:, :, :17]), "got (2, 4, 17, 2)"),
    "scores last dim": (_with("scores", lambda s: s[..., :32]), "scores must have shape (C, F, 33), got (2, 4, 32)"),
    "scores ndim": (_with("scores", lambda s: s[0]), "scores must have shape (C, F, 33), got (4, 33)"),
    "cameras disagree": (_with("scores", lambda s: np.concatenate([s, s])), "points have 2 cameras x 4 frames but scores have 4 x 4"),
    "frames disagree": (_with("scores", lambda s: s[:, :3]), "points have 2 cameras x 4 frames but scores have 2 x 3"),
    "no cameras": (lambda a: {**a, "points": a["points"][:0], "scores": a["scores"][:0], "cameras": a["cameras"][:0],
                              "offsets": a["offsets"][:0]}, "no cameras"),
    "no frames": (lambda a: {**a, "points": a["points"][:, :0], "scores": a["scores"][:, :0]}, "no frames"),
    "cameras length": (_with("cameras", lambda c: c[:1]), "cameras must have shape (2,) to match points, got (1,)"),
    "cameras 2d": (_with("cameras", lambda c: c[None]), "cameras must have shape (2,)"),
    "offsets length": (_with("offsets", lambda o: np.zeros(3, np.int64)), "offsets must have shape (2,) to match points, got (3,)"),
    "fps nan": (_set(fps=np.float64(np.nan)), "fps must be a finite number > 0, got nan"),
    "fps inf": (_set(fps=np.float64(np.inf)), "fps must be a finite number > 0, got inf"),
    "fps zero": (_set(fps=np.float64(0)), "fps must be a finite number > 0, got 0.0"),
    "fps negative": (_set(fps=np.int64(-30)), "fps must be a finite number > 0, got -30"),
    "fps not scalar": (_set(fps=np.array([30.0])), "fps must be a scalar, got shape (1,)"),
    "fps text": (_set(fps=np.array("30")), "fps must be a number, got dtype <U2"),
    "duplicate cameras": (_set(cameras=np.array(["cam1", "cam1"])), "duplicate camera names: 'cam1'"),
    "empty camera name": (_set(cameras=np.array(["cam1", " "])), "a camera name is empty"),
    "cameras as bytes": (_set(cameras=np.array([b"cam1", b"cam2"])), "cameras must be unicode strings, got dtype |S4"),
    "cameras as objects": (_set(cameras=np.array(["cam1", "cam2"], dtype=object)), "key 'cameras' cannot be read"),
    "points as objects": (_with("points", lambda p: p.astype(object)), "key 'points' cannot be read"),
    "points as integers": (_with("points", lambda p: p.astype(np.int32)), "points must be floats, got dtype int32"),
    "scores as booleans": (_with("scores", lambda s: s > 0), "scores must be floats, got dtype bool"),
    "offsets as floats": (_with("offsets", lambda o: o.astype(float)), "offsets must be integers, got dtype float64"),
    "points infinite": (_with("points", lambda p: np.where(np.arange(N_JOINTS)[:, None] == 3, np.inf, p).astype(np.float32)),
                        "points contain infinite values"),
    "scores nan": (_with("scores", lambda s: np.where(np.arange(N_JOINTS) == 3, np.nan, s).astype(np.float32)),
                   "scores contain NaN"),
    "scores above one": (_with("scores", lambda s: s + 0.75), "scores must lie in [0, 1], found values in [1.25, 1.25]"),
    "scores below zero": (_with("scores", lambda s: s - 0.75), "scores must lie in [0, 1], found values in [-0.25, -0.25]"),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_load_keypoints_refuses_bad_archives(tmp_path, case):
    make, words = BAD_NPZ[case]
    path = tmp_path / "keypoints2d.npz"
    np.savez(path, **make(good_arrays()))
    with pytest.raises(ExportError) as exc:
        load_keypoints(path)
    assert_one_line_error(exc, path, words)


def test_load_keypoints_accepts_points_with_nan_and_ignores_extra_keys(tmp_path):
    arrays = good_arrays()
    arrays["points"][0, 1] = np.nan
    path = tmp_path / "keypoints2d.npz"
    np.savez(path, **arrays, note=np.array("made by hand"))
    kp = load_keypoints(path)
    assert np.isnan(kp.points[0, 1]).all() and kp.cameras == ("cam1", "cam2")


def test_load_keypoints_refuses_what_is_not_an_archive(tmp_path):
    missing = tmp_path / "nothing.npz"
    with pytest.raises(ExportError) as exc:
        load_keypoints(missing)
    assert_one_line_error(exc, missing, "not a file")

    with pytest.raises(ExportError) as exc:
        load_keypoints(tmp_path)
    assert_one_line_error(exc, tmp_path, "not a file")

    text = tmp_path / "text.npz"
    text.write_text("frame,time\n0,0.0\n")
    with pytest.raises(ExportError) as exc:
        load_keypoints(text)
    assert_one_line_error(exc, text, "not a keypoints .npz archive (not a zip file)")

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ExportError) as exc:
        load_keypoints(empty)
    assert_one_line_error(exc, empty, "not a keypoints .npz archive (not a zip file)")

    good = tmp_path / "good.npz"
    save_keypoints(good, keypoints())
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ExportError) as exc:
        load_keypoints(truncated)
    assert_one_line_error(exc, truncated, "damaged .npz archive")

    bad_zip = tmp_path / "bad.npz"
    bad_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(ExportError) as exc:
        load_keypoints(bad_zip)
    assert_one_line_error(exc, bad_zip, "damaged .npz archive")

    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ExportError) as exc:
        load_keypoints(single)
    assert_one_line_error(exc, single, "a single .npy array")


# ---------------------------------------------------------------------------- pose CSV


def test_csv_header_and_cells(tmp_path):
    points = pose()
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, points, FPS)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert lines[0].startswith("frame,time,nose_x,nose_y,nose_z,left_eye_inner_x,")
    assert len(header) == 2 + 3 * N_JOINTS and header[-1] == "right_foot_index_z"
    assert header[2::3] == [f"{joint}_x" for joint in JOINTS]
    assert len(lines) == 1 + len(points)
    first = lines[1].split(",")
    assert first[:5] == ["0", "0.000000", "", "", ""]  # nose missing in frame 0: empty cells
    assert first[5] == f"{points[0, 1, 0]:.6f}"
    assert lines[2].split(",")[:2] == ["1", "0.033333"] and lines[2].endswith(",,,")
    assert lines[6].split(",")[2:] == [""] * (3 * N_JOINTS)
    assert lines[4].split(",")[2 + 3 * INDEX["left_wrist"]:5 + 3 * INDEX["left_wrist"]] == ["", "", ""]
    assert "nan" not in path.read_text().lower()


def test_csv_round_trip(tmp_path):
    points = pose(n_frames=40)
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, points, 50.0)
    back, times = read_pose3d_csv(path)
    assert back.shape == (40, N_JOINTS, 3) and times.shape == (40,)
    np.testing.assert_allclose(back, expected(points), atol=6e-7)
    assert np.array_equal(np.isnan(back), np.isnan(expected(points)))
    np.testing.assert_allclose(times, np.arange(40) / 50.0, atol=1e-6)


@pytest.mark.parametrize(("edit", "words"), [
    (lambda h: h.replace("nose_y", "nose_q"), ["column 4 is 'nose_q', expected 'nose_y'"]),
    (lambda h: h.replace("frame,", "Frame,"), ["column 1 is 'Frame', expected 'frame'"]),
    (lambda h: h.rsplit(",", 1)[0], ["header stops after column 100, expected column 101 'right_foot_index_z'"]),
    (lambda h: h + ",extra", ["unexpected header column 102 'extra'"]),
])
def test_csv_header_errors_name_the_first_bad_column(tmp_path, edit, words):
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, pose(), FPS)
    header, rest = path.read_text().split("\n", 1)
    path.write_text(edit(header) + "\n" + rest)
    with pytest.raises(ExportError) as exc:
        read_pose3d_csv(path)
    assert_one_line_error(exc, path, *words)


def test_csv_body_errors(tmp_path):
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, pose(n_frames=3), FPS)
    lines = path.read_text().splitlines()

    def read_with(line_3: str, *words: str) -> None:
        path.write_text("\n".join([*lines[:2], line_3, *lines[3:]]) + "\n")
        with pytest.raises(ExportError) as exc:
            read_pose3d_csv(path)
        assert_one_line_error(exc, path, *words)

    cells = lines[2].split(",")
    read_with(",".join(cells[:-1]), "line 3 has 100 cells, expected 101")
    read_with(",".join([*cells[:2], "abc", *cells[3:]]), "line 3, column 'nose_x': 'abc' is not a number")
    read_with(",".join([*cells[:2], "inf", *cells[3:]]), "column 'nose_x'", "not finite")
    read_with(",".join(["x", *cells[1:]]), "column 'frame': 'x' is not an integer")
    read_with(",".join(["0", *cells[1:]]), "line 3: frame 0 does not follow frame 0")

    path.write_text(lines[0] + "\n")
    with pytest.raises(ExportError) as exc:
        read_pose3d_csv(path)
    assert_one_line_error(exc, path, "no frames")
    path.write_text("")
    with pytest.raises(ExportError) as exc:
        read_pose3d_csv(path)
    assert_one_line_error(exc, path, "empty")


# ---------------------------------------------------------------------------- OpenSim TRC


def opensim_tokens(line: str) -> list[str]:
    """Fields as OpenSim's TRC reader splits a data row on tabs: a trailing tab opens no field."""
    fields = line.split("\t")
    return fields[:-1] if fields and fields[-1] == "" else fields


def test_trc_header_layout(tmp_path):
    points = pose(n_frames=9)
    path = tmp_path / "pose3d.trc"
    write_trc(path, points, 60.0)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\tpose3d.trc"
    assert lines[1].split("\t") == ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
                                    "OrigDataStartFrame", "OrigNumFrames"]
    meta = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    assert meta == {"DataRate": "60.0", "CameraRate": "60.0", "NumFrames": "9", "NumMarkers": "33", "Units": "mm",
                    "OrigDataRate": "60.0", "OrigDataStartFrame": "1", "OrigNumFrames": "9"}
    names = lines[3].split("\t")
    coords = lines[4].split("\t")
    assert names[:2] == ["Frame#", "Time"] and coords[:2] == ["", ""]
    for j, joint in enumerate(JOINTS):  # each name sits above its X column, followed by two empty cells
        assert names[2 + 3 * j: 5 + 3 * j] == [joint, "", ""]
        assert coords[2 + 3 * j: 5 + 3 * j] == [f"X{j + 1}", f"Y{j + 1}", f"Z{j + 1}"]
    assert [n for n in names[2:] if n] == list(JOINTS)
    assert lines[5] == ""
    data = lines[6:-1]
    assert len(data) == 9 and lines[-1] == ""
    for f, row in enumerate(data):
        fields = opensim_tokens(row)
        assert len(fields) == 2 + 3 * N_JOINTS, f"row {f + 1}"
        assert fields[0] == str(f + 1) and float(fields[1]) == pytest.approx(f / 60.0, abs=1e-6)
    assert opensim_tokens(data[0])[2:5] == ["", "", ""]  # nose missing
    assert opensim_tokens(data[1])[-3:] == ["", "", ""]  # last marker missing, row still full length


def test_trc_axes_are_opensim_y_up_in_millimetres(tmp_path):
    points = np.zeros((2, N_JOINTS, 3))
    points[:, INDEX["nose"]] = [0.1, 0.2, 1.7]  # world: x right, y forward, z up (m)
    points[:, INDEX["left_heel"]] = [-0.25, -0.5, 0.0]
    path = tmp_path / "pose3d.trc"
    write_trc(path, points, FPS)
    row = opensim_tokens(path.read_text().split("\n")[6])
    nose, heel = 2 + 3 * INDEX["nose"], 2 + 3 * INDEX["left_heel"]
    assert [float(v) for v in row[nose:nose + 3]] == [100.0, 1700.0, -200.0]  # (x, z, -y) in mm
    assert row[heel:heel + 3] == ["-250.000", "0.000", "500.000"]


def test_trc_round_trip(tmp_path):
    points = pose(n_frames=25)
    path = tmp_path / "pose3d.trc"
    write_trc(path, points, 100.0)
    back, fps = read_trc(path)
    assert fps == 100.0 and back.shape == (25, N_JOINTS, 3)
    assert np.array_equal(np.isnan(back), np.isnan(expected(points)))
    np.testing.assert_allclose(back, expected(points), atol=6e-7)


def test_trc_read_errors(tmp_path):
    path = tmp_path / "pose3d.trc"
    write_trc(path, pose(n_frames=3), FPS)
    lines = path.read_text().split("\n")

    def read_with(index: int, line: str, *words: str) -> None:
        path.write_text("\n".join([*lines[:index], line, *lines[index + 1:]]))
        with pytest.raises(ExportError) as exc:
            read_trc(path)
        assert_one_line_error(exc, path, *words)

    read_with(0, "Frame#\tTime", "not a TRC file")
    read_with(2, lines[2].replace("\tmm\t", "\tinch\t"), "Units 'inch'")
    read_with(2, lines[2].replace("\t33\t", "\t32\t"), "NumMarkers is 32, expected 33")
    read_with(3, lines[3].replace("left_eye\t", "eye\t"), "marker 3 is 'eye', expected 'left_eye'")
    read_with(6, lines[6].rsplit("\t", 3)[0], "line 7 has 99 fields, expected 101")
    read_with(2, lines[2].replace("\t3\t", "\t4\t", 1), "NumFrames is 4 but 3 data rows")


def test_trc_reads_centimetres_and_files_without_the_blank_line(tmp_path):
    points = pose(n_frames=4)
    path = tmp_path / "pose3d.trc"
    write_trc(path, points, FPS)
    lines = path.read_text().split("\n")
    del lines[5]
    lines[2] = lines[2].replace("\tmm\t", "\tcm\t")
    path.write_text("\n".join(lines))
    back, _ = read_trc(path)
    np.testing.assert_allclose(back, expected(points) * 10, atol=1e-5)


# ---------------------------------------------------------------------------- C3D


def test_c3d_round_trip_in_millimetres_with_residuals(tmp_path):
    points = pose(n_frames=20)
    path = tmp_path / "pose3d.c3d"
    write_c3d(path, points, 120.0)
    assert [p.name for p in tmp_path.iterdir()] == ["pose3d.c3d"]
    c3d = ezc3d.c3d(str(path))
    assert list(c3d["parameters"]["POINT"]["LABELS"]["value"]) == list(JOINTS)
    assert list(c3d["parameters"]["POINT"]["UNITS"]["value"]) == ["mm"]
    assert c3d["parameters"]["POINT"]["RATE"]["value"][0] == pytest.approx(120.0)
    assert c3d["header"]["points"]["frame_rate"] == pytest.approx(120.0)
    data = c3d["data"]["points"]  # (4, 33, F), ezc3d gives NaN where the residual is negative
    assert data.shape == (4, N_JOINTS, 20)
    truth_mm = expected(points).transpose(2, 1, 0) * 1000.0
    missing = np.isnan(truth_mm[0])
    np.testing.assert_allclose(data[:3], truth_mm, atol=1e-3)  # float32 storage
    assert np.array_equal(np.isnan(data[0]), missing)
    residuals = c3d["data"]["meta_points"]["residuals"][0]
    assert np.all(residuals[missing] == -1) and np.all(residuals[~missing] == 0)
    assert missing[INDEX["nose"], 0] and missing[INDEX["left_wrist"], 3] and missing[:, 5].all()


# ---------------------------------------------------------------------------- JSON


def test_json_nan_becomes_null_and_numpy_becomes_python(tmp_path):
    data = {"cameras": {"cam1": {"median_reprojection_px": np.float32(0.5), "offset_frames": np.int64(-2)}},
            "cv": np.array([0.1, np.nan, np.inf]), "nested": [(1, np.nan), {"ok": np.bool_(True)}],
            "missing": math.nan, 3: "three", "path": tmp_path / "x"}
    path = tmp_path / "report.json"
    write_json(path, data)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text and text.startswith('{\n  "cameras": {\n    "cam1"')
    assert json.loads(text) == {"cameras": {"cam1": {"median_reprojection_px": 0.5, "offset_frames": -2}},
                                "cv": [0.1, None, None], "nested": [[1, None], {"ok": True}], "missing": None,
                                "3": "three", "path": str(tmp_path / "x")}


def test_json_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "report.json"
    with pytest.raises(ExportError) as exc:
        write_json(path, {"timings": {"total": {1, 2}}})
    assert_one_line_error(exc, path, "a set at timings.total cannot be stored in JSON")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- atomic writes

WRITERS = {
    "csv": (lambda p, pts, fps: write_pose3d_csv(p, pts, fps), "pose3d.csv"),
    "trc": (lambda p, pts, fps: write_trc(p, pts, fps), "pose3d.trc"),
    "c3d": (lambda p, pts, fps: write_c3d(p, pts, fps), "pose3d.c3d"),
}


@pytest.mark.parametrize("kind", list(WRITERS))
@pytest.mark.parametrize(("points", "fps", "words"), [
    (np.zeros((5, 17, 3)), FPS, "points must have shape (F, 33, 3), got (5, 17, 3)"),
    (np.zeros((5, N_JOINTS, 2)), FPS, "got (5, 33, 2)"),
    (np.zeros((0, N_JOINTS, 3)), FPS, "no frames"),
    (np.full((2, N_JOINTS, 3), np.inf), FPS, "infinite"),
    (np.full((2, N_JOINTS, 3), "a"), FPS, "must be numbers"),
    (np.zeros((2, N_JOINTS, 3)), 0, "fps must be a finite number > 0, got 0"),
    (np.zeros((2, N_JOINTS, 3)), -30.0, "got -30.0"),
    (np.zeros((2, N_JOINTS, 3)), math.nan, "got nan"),
    (np.zeros((2, N_JOINTS, 3)), True, "got True"),
])
def test_a_refused_write_leaves_nothing_behind(tmp_path, kind, points, fps, words):
    write, name = WRITERS[kind]
    path = tmp_path / name
    with pytest.raises(ExportError) as exc:
        write(path, points, fps)
    assert_one_line_error(exc, path, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_failed_write_keeps_the_previous_file_and_removes_the_part(tmp_path, kind):
    write, name = WRITERS[kind]
    path = tmp_path / name
    write(path, pose(n_frames=3), FPS)
    before = path.read_bytes()
    with pytest.raises(ExportError):
        write(path, np.zeros((3, N_JOINTS, 4)), FPS)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [name]

    write(path, pose(n_frames=6), FPS)  # a good write replaces it
    assert path.read_bytes() != before and [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_write_that_fails_on_disk_removes_the_part(tmp_path, kind):
    write, name = WRITERS[kind]
    target = tmp_path / name
    target.mkdir()  # the part file is written, the final rename fails
    with pytest.raises(ExportError) as exc:
        write(target, pose(n_frames=3), FPS)
    assert_one_line_error(exc, target, "cannot write")
    assert [p.name for p in tmp_path.iterdir()] == [name] and list(target.iterdir()) == []

    nowhere = tmp_path / "missing-folder" / name
    with pytest.raises(ExportError) as exc:
        write(nowhere, pose(n_frames=3), FPS)
    assert_one_line_error(exc, nowhere, "cannot write")
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_npz_and_json_writes_that_fail_on_disk_remove_the_part(tmp_path):
    for name, write in (("keypoints2d.npz", lambda p: save_keypoints(p, keypoints())),
                        ("report.json", lambda p: write_json(p, {"a": 1}))):
        target = tmp_path / name
        target.mkdir()
        with pytest.raises(ExportError) as exc:
            write(target)
        assert_one_line_error(exc, target, "cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keypoints2d.npz", "report.json"]
