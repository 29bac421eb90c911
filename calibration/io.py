"""Calibration files: the contract's TOML (shared with anipose, Pose2Sim, FreeMoCap) and Qualisys import.

Pure: numpy, OpenCV, the standard library and ``tomli_w``. Every bad input raises
:class:`CalibrationFileError`, a one-line message naming the file and the problem, fit to show
a technician. Conventions are those of :mod:`calibration.camera`: K in px, OpenCV distortion
order (k1, k2, p1, p2[, k3]), Rodrigues ``rotation`` and ``translation`` (m) mapping world to
camera, ``size`` = [width, height] px.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import tomli_w

from calibration.camera import Camera, CameraGroup

logger = logging.getLogger(__name__)

CAMERA_KEYS = ("size", "matrix", "distortions", "rotation", "translation")
QCA_UNITS_PER_PX = 64.0  # Qualisys writes focal length and principal point in 1/64 px


class CalibrationFileError(ValueError):
    """A calibration file cannot be read or written; the message is one line naming the file."""


# --------------------------------------------------------------------------- TOML


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(where: str, key: str, value, counts: tuple[int, ...]) -> list[float]:
    """``value`` as a flat list of finite numbers whose length is one of ``counts``."""
    expected = " or ".join(map(str, counts))
    if not isinstance(value, list):
        raise CalibrationFileError(f"{where}: '{key}' must be a list of {expected} numbers, got {value!r}")
    if len(value) not in counts or not all(_is_number(v) for v in value):
        raise CalibrationFileError(f"{where}: '{key}' must be {expected} numbers, got {value!r}")
    return [float(v) for v in value]


def _matrix(where: str, value) -> list[list[float]]:
    """A 3x3 list of finite numbers with positive focal lengths."""
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise CalibrationFileError(f"{where}: 'matrix' must be 3x3 numbers, got {value!r}")
    shape = f"{len(value)}x{'/'.join(sorted({str(len(row)) for row in value})) or 0}"
    if len(value) != 3 or any(len(row) != 3 for row in value):
        raise CalibrationFileError(f"{where}: 'matrix' must be 3x3 numbers, got {shape}")
    if not all(_is_number(v) for row in value for v in row):
        raise CalibrationFileError(f"{where}: 'matrix' must contain only finite numbers, got {value!r}")
    if value[0][0] <= 0 or value[1][1] <= 0:
        raise CalibrationFileError(f"{where}: 'matrix' focal lengths must be positive, got fx={value[0][0]}, "
                                   f"fy={value[1][1]}")
    return [[float(v) for v in row] for row in value]


def _size(where: str, value) -> tuple[int, int]:
    """[width, height] px: two positive integers (Pose2Sim writes them as 1088.0; accepted)."""
    if (not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value)
            or not all(float(v).is_integer() and v > 0 for v in value)):
        raise CalibrationFileError(f"{where}: 'size' must be [width, height] in positive whole pixels, got {value!r}")
    return int(value[0]), int(value[1])


def _camera_from_section(path: Path, section: str, data) -> Camera:
    """One camera table -> Camera, validated; unknown keys are ignored."""
    where = f"{path}: camera [{section}]"
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{path}: '{section}' must be a camera table, got {data!r}")
    name = data.get("name", section)
    if not isinstance(name, str | int) or isinstance(name, bool) or not str(name).strip():
        raise CalibrationFileError(f"{where}: 'name' must be a non-empty string, got {name!r}")
    fisheye = data.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise CalibrationFileError(f"{where}: 'fisheye' must be true or false, got {fisheye!r}")
    if fisheye:
        raise CalibrationFileError(f"{where}: fisheye camera model is not supported (VSION uses the pinhole model "
                                   "with k1,k2,p1,p2,k3); recalibrate this camera without fisheye")
    missing = [key for key in CAMERA_KEYS if key not in data]
    if missing:
        raise CalibrationFileError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
    return Camera(
        name=str(name),
        size=_size(where, data["size"]),
        matrix=_matrix(where, data["matrix"]),
        dist=_numbers(where, "distortions", data["distortions"], (4, 5)),
        rvec=_numbers(where, "rotation", data["rotation"], (3,)),
        tvec=_numbers(where, "translation", data["translation"], (3,)),
    )


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CalibrationFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CalibrationFileError(f"{path}: is a folder, not a calibration file") from None
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise CalibrationFileError(f"{path}: file is empty")
    return data


def load_toml(path) -> CameraGroup:
    """Read a calibration TOML (VSION contract, anipose, Pose2Sim or FreeMoCap) into a CameraGroup.

    Every top-level table except ``[metadata]`` is a camera, in file order; its ``name`` key wins
    over the table name (``[cam_0]``, ``[int_cam01_img]``...). Required per camera: ``size``
    [width, height] px, ``matrix`` 3x3 px, ``distortions`` 4 or 5 numbers (OpenCV order),
    ``rotation`` 3 numbers (Rodrigues, world->camera), ``translation`` 3 numbers (m,
    world->camera). ``fisheye = false`` (Pose2Sim) and other unknown keys are ignored;
    ``fisheye = true`` is refused. ``[metadata]`` is kept as ``CameraGroup.metadata``.
    Top-level keys that are not tables are ignored. Arrays come out float64.
    """
    path = Path(path)
    raw = _read_bytes(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CalibrationFileError(f"{path}: not a text file (invalid UTF-8 at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line N, column M)"
        raise CalibrationFileError(f"{path}: not valid TOML: {exc}") from None
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise CalibrationFileError(f"{path}: 'metadata' must be a table, got {metadata!r}")
    cameras = []
    for section, value in data.items():
        if section == "metadata":
            continue
        if not isinstance(value, dict):
            logger.debug("%s: ignoring top-level key %r", path, section)
            continue
        cameras.append(_camera_from_section(path, section, value))
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera found (expected one table per camera, e.g. [cam1])")
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CalibrationFileError(f"{path}: camera names must be unique, repeated: {', '.join(duplicates)}")
    return CameraGroup(cameras=tuple(cameras), metadata=metadata)


def _plain(value, where: str):
    """Metadata value -> TOML-serialisable Python (numpy scalars and arrays, tuples converted)."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, np.generic):
        return _plain(value.item(), where)
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    if value is None:
        raise CalibrationFileError(f"{where} is None, which TOML cannot store")
    return value


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise CalibrationFileError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


def _inline(value) -> str:
    """A number or (nested) list of numbers as one TOML line; repr keeps every float64 bit."""
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return repr(value)  # int, or float: repr gives e.g. 0.1, 1e-17, nan, inf, all valid TOML


def _camera_table(cam: Camera) -> str:
    """The camera's table, one line per key like the contract (tomli_w would split every array)."""
    data = cam.to_dict()
    header = tomli_w.dumps({cam.name: {"name": cam.name}})  # tomli_w quotes the table name if needed
    return header + "".join(f"{key} = {_inline(data[key])}\n" for key in CAMERA_KEYS)


def save_toml(group: CameraGroup, path) -> Path:
    """Write ``group`` in the contract's TOML layout, atomically; returns the path.

    One table per camera, named by the camera name, with keys name, size, matrix, distortions,
    rotation, translation (float64 written exactly, so ``load_toml`` gives identical numbers),
    then ``[metadata]`` if non-empty (nested dicts / lists of numbers and strings; numpy types
    are converted). A crash never leaves a half-written file: the data go to a temporary file
    in the same folder, which then replaces ``path``.
    """
    path = Path(path)
    if not group.cameras:
        raise CalibrationFileError(f"{path}: nothing to save, the camera group is empty")
    chunks = []
    for cam in group.cameras:
        if cam.name == "metadata":
            raise CalibrationFileError(f"{path}: a camera cannot be named 'metadata' (reserved table name)")
        if cam.dist.size not in (4, 5):
            raise CalibrationFileError(f"{path}: camera {cam.name} has {cam.dist.size} distortion coefficients, "
                                       "the file format allows 4 or 5")
        if not all(np.isfinite(a).all() for a in (cam.matrix, cam.dist, cam.rvec, cam.tvec)):
            raise CalibrationFileError(f"{path}: camera {cam.name} has NaN or infinite parameters, not saved")
        chunks.append(_camera_table(cam))
    if group.metadata:
        try:
            chunks.append(tomli_w.dumps({"metadata": _plain(dict(group.metadata), f"{path}: metadata")}))
        except (TypeError, ValueError) as exc:
            raise CalibrationFileError(f"{path}: metadata cannot be written as TOML ({exc})") from None
    text = "\n".join(chunks)
    if not path.parent.is_dir():
        raise CalibrationFileError(f"{path}: folder {path.parent} does not exist")
    _atomic_write(path, text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- Qualisys


# A rotation by pi about the camera x axis: Qualisys' camera frame has y up and looks along -z,
# OpenCV's has y down and looks along +z.
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


def _attr(where: str, element, tag: str, names: tuple[str, ...]) -> list[float]:
    """The float attributes ``names`` of child ``tag`` of ``element``."""
    child = element.find(tag)
    if child is None:
        raise CalibrationFileError(f"{where}: missing <{tag}>")
    values = []
    for name in names:
        text = child.get(name)
        if text is None:
            raise CalibrationFileError(f"{where}: <{tag}> has no '{name}' attribute")
        try:
            value = float(text)
        except ValueError:
            raise CalibrationFileError(f"{where}: <{tag} {name}=\"{text}\"> is not a number") from None
        if not math.isfinite(value):
            raise CalibrationFileError(f"{where}: <{tag} {name}=\"{text}\"> is not a finite number")
        values.append(value)
    return values


def _qca_camera(path: Path, index: int, element, name: str) -> Camera:
    where = f"{path}: camera {index + 1} ({name})"
    rotation = element.get("viewrotation", "0").strip()
    if rotation not in ("0", ""):
        raise CalibrationFileError(f"{where}: viewrotation={rotation} is not supported (only unrotated views); "
                                   "export the calibration with the view rotation set to 0")
    left, top, right, bottom = _attr(where, element, "fov_video", ("left", "top", "right", "bottom"))
    width, height = int(right - left + 1), int(bottom - top + 1)
    if width <= 0 or height <= 0:
        raise CalibrationFileError(f"{where}: <fov_video> gives an empty image ({width}x{height} px)")
    fu, fv, cu, cv = (v / QCA_UNITS_PER_PX for v in _attr(
        where, element, "intrinsic", ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV")))
    has_skew = element.find("intrinsic").get("skew") is not None
    skew = _attr(where, element, "intrinsic", ("skew",))[0] / QCA_UNITS_PER_PX if has_skew else 0.0
    if fu <= 0 or fv <= 0:
        raise CalibrationFileError(f"{where}: focal length must be positive, got {fu:g} x {fv:g} px")
    # the principal point is in sensor pixels; the video is the fov_video window of the sensor
    matrix = np.array([[fu, skew, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]])
    k1, k2, k3, p1, p2 = _attr(where, element, "intrinsic", (
        "radialDistortion1", "radialDistortion2", "radialDistortion3", "tangentalDistortion1", "tangentalDistortion2"))
    transform = _attr(where, element, "transform", ("x", "y", "z") + tuple(f"r{i}{j}" for i in "123" for j in "123"))
    centre = np.array(transform[:3]) / 1000.0  # mm -> m, camera centre in world
    rows = np.array(transform[3:]).reshape(3, 3)  # rows = Qualisys camera axes in world coordinates
    if not np.allclose(rows @ rows.T, np.eye(3), atol=1e-4) or np.linalg.det(rows) < 0:
        raise CalibrationFileError(f"{where}: <transform> r11..r33 is not a rotation matrix")
    R = _QUALISYS_TO_OPENCV @ rows
    rvec = cv2.Rodrigues(R)[0].ravel()
    return Camera(name=name, size=(width, height), matrix=matrix, dist=[k1, k2, p1, p2, k3],
                  rvec=rvec, tvec=-R @ centre)


def load_qca(path) -> CameraGroup:
    """Import a Qualisys calibration export (``.qca.txt``, XML) as a CameraGroup.

    Conventions (checked on the Pose2Sim demo file, see tests/test_calibration_io.py):

    * cameras are ``<cameras>/<camera>`` elements, kept in file order (none skipped, inactive
      or marker-only ones included); each is named by its ``serial`` attribute
      (``cam01``..``cam04`` in the Pose2Sim demo, the serial number on a real system), or
      ``cam01``, ``cam02``... by position when serials are missing or repeated;
    * image size [width, height] px = ``fov_video`` right - left + 1, bottom - top + 1;
    * ``intrinsic`` focal lengths and principal point are in 1/64 px of the sensor; the
      principal point is shifted by the fov_video ``left``/``top`` corner; skew (0 in practice,
      its unit unverified) is also divided by 64. Distortions are not scaled: OpenCV (k1, k2,
      p1, p2, k3) = radialDistortion1, 2, tangentalDistortion1, 2, radialDistortion3. (Pose2Sim
      divides them by 64 too; checkerboard images of the demo fit better unscaled.)
    * ``transform`` x, y, z is the camera centre in world (mm); r11..r33 read row by row form a
      world->camera rotation in Qualisys' camera frame (x right, y up, looking along -z), so the
      OpenCV pose is R = diag(1, -1, -1) @ r, t = -R @ centre / 1000 (m).

    No image rotation is applied: ``viewrotation`` other than 0 is refused. The Pose2Sim demo
    file (``source="calibration_qca_rotated..."``) is already in portrait (1088x1920, sensor
    max 69568/64 x 122816/64 px), like its videos, and Pose2Sim's converter does not rotate
    either. A ``binning_factor`` (Pose2Sim option for 540p video) is not applied.
    """
    path = Path(path)
    raw = _read_bytes(path)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line, column = exc.position
        raise CalibrationFileError(f"{path}: not valid XML (line {line}, column {column + 1})") from None
    if root.tag != "calibration":
        raise CalibrationFileError(f"{path}: not a Qualisys calibration (root element <{root.tag}>, "
                                   "expected <calibration>)")
    elements = root.findall("cameras/camera")
    if not elements:
        raise CalibrationFileError(f"{path}: no <cameras>/<camera> element found")
    serials = [(e.get("serial") or "").strip() for e in elements]
    if all(serials) and len(set(serials)) == len(serials):
        names = serials
    else:
        names = [f"cam{i + 1:02d}" for i in range(len(elements))]
    cameras = tuple(_qca_camera(path, i, e, n) for i, (e, n) in enumerate(zip(elements, names)))
    residuals = {n: float(e.get("avg-residual")) for n, e in zip(names, elements)
                 if _is_float(e.get("avg-residual"))}
    metadata = {"method": "qualisys import", "source_file": path.name}
    if residuals:
        metadata["qualisys_avg_residual_mm"] = residuals
    return CameraGroup(cameras=cameras, metadata=metadata)


def _is_float(text) -> bool:
    try:
        return text is not None and math.isfinite(float(text))
    except ValueError:
        return False


# --------------------------------------------------------------------------- dispatch


def load_calibration(path) -> CameraGroup:
    """Load a calibration by file type: ``.toml`` -> :func:`load_toml`; ``.qca.txt`` or XML
    content -> :func:`load_qca`; anything else raises CalibrationFileError."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        return load_toml(path)
    if path.name.lower().endswith(".qca.txt"):
        return load_qca(path)
    head = _read_bytes(path)[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<calibration")):
        return load_qca(path)
    raise CalibrationFileError(f"{path}: unknown calibration format (expected a .toml file or a Qualisys .qca.txt)")
