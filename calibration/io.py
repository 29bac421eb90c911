"""Calibration files: the contract's TOML (shared with anipose, Pose2Sim, FreeMoCap) and Qualisys import.

Pure: numpy, OpenCV, pydantic, defusedxml, the standard library and ``tomli_w``. Conventions are
those of :mod:`calibration.camera`: K in px, OpenCV distortion order (k1, k2, p1, p2[, k3]),
Rodrigues ``rotation`` and ``translation`` (m) mapping world to camera, ``size`` = [width,
height] px.

Files come from outside (an upload, another tool), so every reader is bounded before it parses:
at most :data:`MAX_FILE_BYTES`, arrays and tables nested at most :data:`MAX_DEPTH` deep (checked
by a scan of the text before ``tomllib``, and by the element depth while the XML is read), no
number literal longer than :data:`MAX_NUMBER_CHARS` characters, no DTD or entity in XML
(defusedxml). Values are checked after parsing: numbers are finite floats or integers within
+-2**53 (booleans are not numbers), sizes whole pixels up to :data:`MAX_PX`, camera names
printable text, at most :data:`MAX_CAMERAS` cameras, ``[metadata]`` typed
(:mod:`calibration.metadata`). Every bad input raises :class:`CalibrationFileError`, a one-line
message naming the file and the key, fit to show a technician; never RecursionError,
OverflowError, TypeError or KeyError. All functions are thread-safe.
"""
from __future__ import annotations

import logging
import math
import re
import stat
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import defusedxml
import defusedxml.ElementTree as DET
import numpy as np
import tomli_w

from calibration.camera import Camera, CameraGroup
from calibration.metadata import MAX_CAMERAS, MAX_INT, MAX_NAME, MetadataError, check_metadata, text_problem
from common.files import write_bytes

logger = logging.getLogger(__name__)

CAMERA_KEYS = ("size", "matrix", "distortions", "rotation", "translation")
QCA_UNITS_PER_PX = 64.0  # Qualisys writes focal length and principal point in 1/64 px
MAX_FILE_BYTES = 1024 * 1024  # a calibration file is a few kB (a 64-camera Qualisys export ~100 kB)
MAX_DEPTH = 10  # arrays / tables in one another: the contract needs 2, VSION's metadata 4
MAX_NUMBER_CHARS = 100  # a float64 needs 24 characters; 5,000 digits is an attack on int()
MAX_PX = 100_000  # image width or height


class CalibrationFileError(ValueError):
    """A calibration file cannot be read or written; the message is one line naming the file."""


# --------------------------------------------------------------------------- bounded reading


def _show(value, limit: int = 60) -> str:
    """``value`` for a one-line message, bounded: a long or deep value is described, not printed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) > 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, dict):
        return f"a table of {len(value)} key(s)"
    if isinstance(value, list):
        if len(value) <= 6 and not any(isinstance(v, dict | list) for v in value):
            text = "[" + ", ".join(_show(v, 20) for v in value) + "]"
            return text if len(text) <= limit else f"a list of {len(value)} item(s)"
        shape = "/".join(sorted({str(len(v)) for v in value if isinstance(v, list)}))
        return f"a list of {len(value)} item(s)" + (f" (rows of {shape})" if shape else "")
    text = repr(value)  # repr escapes control characters: the message stays on one line
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, at most :data:`MAX_FILE_BYTES` (a longer file is refused unread)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CalibrationFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CalibrationFileError(f"{path}: is a folder, not a calibration file") from None
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise CalibrationFileError(f"{path}: larger than {MAX_FILE_BYTES // 1024 // 1024} MB; a calibration file "
                                   "is a few kB")
    if not data.strip():
        raise CalibrationFileError(f"{path}: file is empty")
    return data


# Tokens that matter to the scan: strings and comments (skipped whole, so that a "[" inside does
# not count), brackets and braces, number-like runs (not inside a bare key), and a quote that
# opens no complete string (the parser stops there anyway, so the scan may stop too).
_TOML_TOKEN = re.compile(r"""
    (?P<skip> "{3} (?s: [^"\\] | \\. | "(?!"") )* "{3,5}
            | '{3} (?: [^'] | '(?!'') )* '{3,5}
            | " (?: [^"\\\n] | \\. )* "
            | ' [^'\n]* '
            | \# [^\n]* )
  | (?P<open> [\[{] ) | (?P<close> [\]}] )
  | (?P<number> (?<![A-Za-z0-9_.+-]) [0-9] [A-Za-z0-9_.:+-]* )
  | (?P<stop> ["'] )
""", re.VERBOSE)


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def scan_nesting(path: Path, text: str) -> None:
    """Refuse TOML (or JSON) text nested deeper than :data:`MAX_DEPTH` or holding a number
    literal longer than :data:`MAX_NUMBER_CHARS`, before a recursive parser sees it.

    The scan reads strings and comments as the parsers do, so it counts at least the depth
    they would reach; where it cannot follow (an unterminated string) the parser stops too.
    """
    depth = 0
    for match in _TOML_TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                raise CalibrationFileError(f"{path}: line {_line(text, match.start())}: arrays or tables nested "
                                           f"more than {MAX_DEPTH} deep")
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "number" and len(match.group()) > MAX_NUMBER_CHARS:
            raise CalibrationFileError(f"{path}: line {_line(text, match.start())}: a number of "
                                       f"{len(match.group())} characters (at most {MAX_NUMBER_CHARS})")
        elif kind == "stop":
            return


def _check_tree_depth(path: Path, data) -> None:
    """Refuse parsed data nested deeper than :data:`MAX_DEPTH` (dotted keys nest without brackets)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CalibrationFileError(f"{path}: tables or arrays nested more than {MAX_DEPTH} deep")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _parse_toml(path: Path, raw: bytes) -> dict:
    """The TOML document in ``raw``, bounded (see :func:`scan_nesting`)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CalibrationFileError(f"{path}: not a text file (invalid UTF-8 at byte {exc.start})") from None
    scan_nesting(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line N, column M)"
        raise CalibrationFileError(f"{path}: not valid TOML: {' '.join(str(exc).split())[:200]}") from None
    except ValueError as exc:  # int() refusing a long literal the scan let through (cannot happen)
        raise CalibrationFileError(f"{path}: not valid TOML: {' '.join(str(exc).split())[:200]}") from None
    _check_tree_depth(path, data)
    return data


# --------------------------------------------------------------------------- TOML


def _is_number(value) -> bool:
    """A finite float or an integer within +-2**53 (converted to float without loss); not a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_INT  # never float(value): a huge int overflows
    return isinstance(value, float) and math.isfinite(value)


def _numbers(where: str, key: str, value, counts: tuple[int, ...]) -> list[float]:
    """``value`` as a flat list of finite numbers whose length is one of ``counts``."""
    expected = " or ".join(map(str, counts))
    if not isinstance(value, list):
        raise CalibrationFileError(f"{where}: '{key}' must be a list of {expected} numbers, got {_show(value)}")
    if len(value) not in counts or not all(_is_number(v) for v in value):
        raise CalibrationFileError(f"{where}: '{key}' must be {expected} finite numbers, got {_show(value)}")
    return [float(v) for v in value]


def _matrix(where: str, value) -> list[list[float]]:
    """A 3x3 list of finite numbers with positive focal lengths."""
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise CalibrationFileError(f"{where}: 'matrix' must be 3x3 numbers, got {_show(value)}")
    if len(value) != 3 or any(len(row) != 3 for row in value):
        shape = f"{len(value)}x{'/'.join(sorted({str(len(row)) for row in value})) or 0}"
        raise CalibrationFileError(f"{where}: 'matrix' must be 3x3 numbers, got {shape[:40]}")
    if not all(_is_number(v) for row in value for v in row):
        raise CalibrationFileError(f"{where}: 'matrix' must contain only finite numbers, got "
                                   f"{', '.join(_show(row) for row in value)}")
    if value[0][0] <= 0 or value[1][1] <= 0:
        raise CalibrationFileError(f"{where}: 'matrix' focal lengths must be positive, got fx={_show(value[0][0])}, "
                                   f"fy={_show(value[1][1])}")
    return [[float(v) for v in row] for row in value]


def _size(where: str, value) -> tuple[int, int]:
    """[width, height] px: two whole numbers in 1..MAX_PX (Pose2Sim writes them as 1088.0; accepted)."""
    if (not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value)
            or not all(float(v).is_integer() and 0 < v <= MAX_PX for v in value)):
        raise CalibrationFileError(f"{where}: 'size' must be [width, height] in whole pixels from 1 to {MAX_PX}, "
                                   f"got {_show(value)}")
    return int(value[0]), int(value[1])


def _camera_name(where: str, name) -> str:
    """A camera name: printable text (an integer name such as 1 is read as "1")."""
    if isinstance(name, int) and not isinstance(name, bool) and abs(name) <= MAX_INT:
        name = str(name)
    problem = text_problem(name, "'name'", MAX_NAME, allow_empty=False)
    if problem:
        raise CalibrationFileError(f"{where}: {problem}" + (f", got {_show(name)}" if isinstance(name, str) else ""))
    return name


def _camera_from_section(path: Path, section: str, data) -> Camera:
    """One camera table -> Camera, validated; unknown keys are ignored."""
    where = f"{path}: camera [{_show(section, 40)[1:-1]}]"
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{path}: {_show(section, 40)} must be a camera table, got {_show(data)}")
    name = _camera_name(where, data.get("name", section))
    fisheye = data.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise CalibrationFileError(f"{where}: 'fisheye' must be true or false, got {_show(fisheye)}")
    if fisheye:
        raise CalibrationFileError(f"{where}: fisheye camera model is not supported (VSION uses the pinhole model "
                                   "with k1,k2,p1,p2,k3); recalibrate this camera without fisheye")
    missing = [key for key in CAMERA_KEYS if key not in data]
    if missing:
        raise CalibrationFileError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
    return Camera(
        name=name,
        size=_size(where, data["size"]),
        matrix=_matrix(where, data["matrix"]),
        dist=_numbers(where, "distortions", data["distortions"], (4, 5)),
        rvec=_numbers(where, "rotation", data["rotation"], (3,)),
        tvec=_numbers(where, "translation", data["translation"], (3,)),
    )


def _metadata(path: Path, raw, strict: bool) -> dict:
    """``[metadata]`` typed (see :mod:`calibration.metadata`); CalibrationFileError when refused."""
    try:
        return check_metadata(raw, "import" if strict else "read", f"{path}: metadata")
    except MetadataError as exc:
        raise CalibrationFileError(str(exc)) from None


def _group(path: Path, cameras: list[Camera], metadata: dict) -> CameraGroup:
    """The cameras as a group: some, at most MAX_CAMERAS, names unique."""
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera found (expected one table per camera, e.g. [cam1])")
    if len(cameras) > MAX_CAMERAS:
        raise CalibrationFileError(f"{path}: {len(cameras)} cameras, VSION reads at most {MAX_CAMERAS}")
    names = [c.name for c in cameras]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CalibrationFileError(f"{path}: camera names must be unique, repeated: "
                                   f"{', '.join(map(repr, duplicates[:5]))}")
    return CameraGroup(cameras=tuple(cameras), metadata=metadata)


def load_toml(path, strict_metadata: bool = False) -> CameraGroup:
    """Read a calibration TOML (VSION contract, anipose, Pose2Sim or FreeMoCap) into a CameraGroup.

    Every top-level table except ``[metadata]`` is a camera, in file order; its ``name`` key wins
    over the table name (``[cam_0]``, ``[int_cam01_img]``...). Required per camera: ``size``
    [width, height] px, ``matrix`` 3x3 px, ``distortions`` 4 or 5 numbers (OpenCV order),
    ``rotation`` 3 numbers (Rodrigues, world->camera), ``translation`` 3 numbers (m,
    world->camera). ``fisheye = false`` (Pose2Sim) and other unknown keys are ignored;
    ``fisheye = true`` is refused. Top-level keys that are not tables are ignored. Arrays come
    out float64. Bounds and checks: see the module docstring.

    ``[metadata]`` is kept as ``CameraGroup.metadata``, typed by :mod:`calibration.metadata`:
    a known key of the wrong type is refused when ``strict_metadata`` (a file from outside),
    dropped with a warning otherwise (a file VSION stored); unknown keys are kept only when
    they are plain scalars.
    """
    path = Path(path)
    data = _parse_toml(path, _read_bytes(path))
    if not isinstance(data.get("metadata", {}), dict):
        raise CalibrationFileError(f"{path}: 'metadata' must be a table, got {_show(data['metadata'])}")
    metadata = _metadata(path, data.get("metadata", {}), strict_metadata)
    cameras = []
    for section, value in data.items():
        if section == "metadata":
            continue
        if not isinstance(value, dict):
            logger.debug("%s: ignoring top-level key %r", path, section[:40])
            continue
        if len(cameras) == MAX_CAMERAS:
            raise CalibrationFileError(f"{path}: more than {MAX_CAMERAS} camera tables")
        cameras.append(_camera_from_section(path, section, value))
    return _group(path, cameras, metadata)


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


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically, keeping its permissions (0644 for a new file)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
        write_bytes(path, data, mode=mode)
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot write ({exc.strerror or exc})") from None


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
    then ``[metadata]`` if non-empty, typed as :func:`load_toml` reads it back (numpy types are
    converted; a known key of the wrong type, or an unknown key that is not a plain scalar, is
    refused). A crash never leaves a half-written file (:func:`common.files.atomic_write`).
    """
    path = Path(path)
    if not group.cameras:
        raise CalibrationFileError(f"{path}: nothing to save, the camera group is empty")
    chunks = []
    for cam in group.cameras:
        problem = text_problem(cam.name, "the camera name", MAX_NAME, allow_empty=False)
        if problem or cam.name == "metadata":
            raise CalibrationFileError(f"{path}: {problem or 'a camera cannot be named metadata (reserved table name)'}")
        if cam.dist.size not in (4, 5):
            raise CalibrationFileError(f"{path}: camera {cam.name} has {cam.dist.size} distortion coefficients, "
                                       "the file format allows 4 or 5")
        if not all(np.isfinite(a).all() for a in (cam.matrix, cam.dist, cam.rvec, cam.tvec)):
            raise CalibrationFileError(f"{path}: camera {cam.name} has NaN or infinite parameters, not saved")
        chunks.append(_camera_table(cam))
    if group.metadata:
        try:
            metadata = check_metadata(_plain(dict(group.metadata), f"{path}: metadata"), "write", f"{path}: metadata")
            chunks.append(tomli_w.dumps({"metadata": metadata}))
        except MetadataError as exc:
            raise CalibrationFileError(f"{exc}; not saved") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationFileError(f"{path}: metadata cannot be written as TOML ({exc})") from None
    text = "\n".join(chunks)
    if not path.parent.is_dir():
        raise CalibrationFileError(f"{path}: folder {path.parent} does not exist")
    _write(path, text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- Qualisys


# A rotation by pi about the camera x axis: Qualisys' camera frame has y up and looks along -z,
# OpenCV's has y down and looks along +z.
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


class _BoundedTree(ET.TreeBuilder):
    """An ElementTree builder that refuses elements nested more than MAX_DEPTH deep or more
    elements than a calibration can hold, while the file is read (nothing deeper is built)."""

    MAX_ELEMENTS = 100_000

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.depth, self.count = path, 0, 0

    def start(self, tag, attrs):
        self.depth += 1
        self.count += 1
        if self.depth > MAX_DEPTH:
            raise CalibrationFileError(f"{self.path}: XML elements nested more than {MAX_DEPTH} deep")
        if self.count > self.MAX_ELEMENTS:
            raise CalibrationFileError(f"{self.path}: more than {self.MAX_ELEMENTS} XML elements")
        return super().start(tag, attrs)

    def end(self, tag):
        self.depth -= 1
        return super().end(tag)


def _parse_xml(path: Path, raw: bytes) -> ET.Element:
    """The root element of ``raw``, read by defusedxml (no DTD, no entity, no external
    reference) with the depth bounded (:class:`_BoundedTree`)."""
    parser = DET.DefusedXMLParser(target=_BoundedTree(path), forbid_dtd=True)
    try:
        parser.feed(raw)
        return parser.close()
    except CalibrationFileError:  # too deep (:class:`_BoundedTree`): said already
        raise
    except ET.ParseError as exc:
        line, column = exc.position
        raise CalibrationFileError(f"{path}: not valid XML (line {line}, column {column + 1})") from None
    except defusedxml.DefusedXmlException:
        raise CalibrationFileError(f"{path}: XML with a DTD or entities is refused (a Qualisys export has none)") \
            from None
    except LookupError as exc:  # an encoding Python does not know, declared in <?xml encoding=...?>
        raise CalibrationFileError(f"{path}: not valid XML ({_show(str(exc))[1:-1]})") from None
    except ValueError as exc:  # an encoding expat cannot read (UTF-16 or UTF-32 declared in a byte text)
        raise CalibrationFileError(f"{path}: not valid XML ({_show(str(exc))[1:-1]}; a Qualisys export is "
                                   "UTF-8)") from None


def _attr(where: str, element, tag: str, names: tuple[str, ...]) -> list[float]:
    """The float attributes ``names`` of child ``tag`` of ``element``, finite."""
    child = element.find(tag)
    if child is None:
        raise CalibrationFileError(f"{where}: missing <{tag}>")
    values = []
    for name in names:
        text = child.get(name)
        if text is None:
            raise CalibrationFileError(f"{where}: <{tag}> has no '{name}' attribute")
        try:
            value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.nan
        except ValueError:
            raise CalibrationFileError(f"{where}: <{tag} {name}={_show(text)}> is not a number") from None
        if not math.isfinite(value):
            raise CalibrationFileError(f"{where}: <{tag} {name}={_show(text)}> is not a finite number of at most "
                                       f"{MAX_NUMBER_CHARS} characters")
        values.append(value)
    return values


def _qca_size(where: str, element) -> tuple[float, float, int, int]:
    """(left, top, width, height) px of the ``fov_video`` window."""
    left, top, right, bottom = _attr(where, element, "fov_video", ("left", "top", "right", "bottom"))
    width, height = right - left + 1, bottom - top + 1  # may be inf for huge values: compared first
    if not (0 < width <= MAX_PX and 0 < height <= MAX_PX):
        raise CalibrationFileError(f"{where}: <fov_video> gives a {width:g}x{height:g} px image "
                                   f"(1 to {MAX_PX} px each way)")
    return left, top, int(width), int(height)


def _qca_pose(where: str, element) -> tuple[np.ndarray, np.ndarray]:
    """(R, centre): the OpenCV world->camera rotation and the camera centre in world (m)."""
    transform = _attr(where, element, "transform", ("x", "y", "z") + tuple(f"r{i}{j}" for i in "123" for j in "123"))
    centre = np.array(transform[:3]) / 1000.0  # mm -> m, camera centre in world
    rows = np.array(transform[3:]).reshape(3, 3)  # rows = Qualisys camera axes in world coordinates
    if (np.abs(rows).max() > 1.001 or not np.allclose(rows @ rows.T, np.eye(3), atol=1e-4)
            or np.linalg.det(rows) < 0):
        raise CalibrationFileError(f"{where}: <transform> r11..r33 is not a rotation matrix")
    return _QUALISYS_TO_OPENCV @ rows, centre


def _qca_camera(path: Path, index: int, element, name: str) -> Camera:
    where = f"{path}: camera {index + 1} ({name})"
    rotation = element.get("viewrotation", "0").strip()
    if rotation not in ("0", ""):
        raise CalibrationFileError(f"{where}: viewrotation={_show(rotation)} is not supported (only unrotated "
                                   "views); export the calibration with the view rotation set to 0")
    left, top, width, height = _qca_size(where, element)
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
    R, centre = _qca_pose(where, element)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        tvec = -R @ centre
    if not (np.isfinite(matrix).all() and np.isfinite(tvec).all()):
        raise CalibrationFileError(f"{where}: values too large (the camera is not finite)")
    return Camera(name=name, size=(width, height), matrix=matrix, dist=[k1, k2, p1, p2, k3],
                  rvec=cv2.Rodrigues(R)[0].ravel(), tvec=tvec)


def _qca_names(elements: list) -> list[str]:
    """The cameras' ``serial`` attributes when all are present, printable and unique, else cam01..."""
    serials = [(e.get("serial") or "").strip() for e in elements]
    if (all(serials) and len(set(serials)) == len(serials)
            and not any(text_problem(s, "serial", MAX_NAME) for s in serials)):
        return serials
    return [f"cam{i + 1:02d}" for i in range(len(elements))]


def load_qca(path) -> CameraGroup:
    """Import a Qualisys calibration export (``.qca.txt``, XML) as a CameraGroup.

    Conventions (checked on the Pose2Sim demo file, see tests/test_calibration_io.py):

    * cameras are ``<cameras>/<camera>`` elements, kept in file order (none skipped, inactive
      or marker-only ones included); each is named by its ``serial`` attribute
      (``cam01``..``cam04`` in the Pose2Sim demo, the serial number on a real system), or
      ``cam01``, ``cam02``... by position when serials are missing, repeated or not printable;
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
    either. A ``binning_factor`` (Pose2Sim option for 540p video) is not applied. Bounds (size,
    depth, DTD and entities refused, numbers finite): see the module docstring.
    """
    path = Path(path)
    root = _parse_xml(path, _read_bytes(path))
    if root.tag != "calibration":
        raise CalibrationFileError(f"{path}: not a Qualisys calibration (root element <{str(root.tag)[:40]}>, "
                                   "expected <calibration>)")
    elements = root.findall("cameras/camera")
    if not elements:
        raise CalibrationFileError(f"{path}: no <cameras>/<camera> element found")
    if len(elements) > MAX_CAMERAS:
        raise CalibrationFileError(f"{path}: {len(elements)} cameras, VSION reads at most {MAX_CAMERAS}")
    names = _qca_names(elements)
    cameras = [_qca_camera(path, i, e, n) for i, (e, n) in enumerate(zip(elements, names))]
    residuals = {n: float(e.get("avg-residual")) for n, e in zip(names, elements)
                 if _is_float(e.get("avg-residual"))}
    metadata = {"method": "qualisys import", "source_file": path.name}
    if residuals:
        metadata["qualisys_avg_residual_mm"] = residuals
    return _group(path, cameras, _metadata(path, metadata, strict=False))


def _is_float(text) -> bool:
    try:
        return text is not None and len(text) <= MAX_NUMBER_CHARS and math.isfinite(float(text))
    except ValueError:
        return False


# --------------------------------------------------------------------------- dispatch


def load_calibration(path, strict_metadata: bool = False) -> CameraGroup:
    """Load a calibration by file type: ``.toml`` -> :func:`load_toml` (``strict_metadata``
    passed on); ``.qca.txt`` or XML content -> :func:`load_qca`; anything else raises
    CalibrationFileError."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        return load_toml(path, strict_metadata)
    if path.name.lower().endswith(".qca.txt"):
        return load_qca(path)
    head = _read_bytes(path)[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<calibration")):
        return load_qca(path)
    raise CalibrationFileError(f"{path}: unknown calibration format (expected a .toml file or a Qualisys .qca.txt)")
