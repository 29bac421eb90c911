"""Processing outputs: 2D keypoints (.npz), 3D pose (.csv, OpenSim .trc, .c3d) and the JSON report.

The files and their content are those of ``../shared/CONTRACT.md`` ("Processing outputs").
Pure: numpy, ezc3d and the standard library. Every writer checks its input first, then writes
through :func:`common.files.atomic_write` (a temporary file in the destination folder, flushed to
disk and renamed over ``<name>``), so a reader never sees half a file and a failed write leaves
nothing behind.
Every problem raises :class:`ExportError`, a one-line message naming the file.

Conventions: 3D points are (F, 33, 3) float arrays in metres in VSION's world frame (Z up),
joints in :data:`reconstruction.landmarks.JOINTS` order, NaN where a joint could not be
reconstructed (a joint with any NaN coordinate is missing as a whole). Frame ``f`` is at
``f / fps`` seconds. The functions hold no state and may be called from any thread; two calls
writing the same path at once race on the final rename (the last one wins, neither is torn).
"""
from __future__ import annotations

import collections
import contextlib
import csv
import json
import logging
import math
import numbers
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ezc3d
import numpy as np

from common.files import atomic_write
from reconstruction.landmarks import JOINTS, N_JOINTS

logger = logging.getLogger(__name__)

NPZ_KEYS = ("points", "scores", "cameras", "fps", "offsets")
NPZ_PEOPLE_KEYS = ("points_people", "scores_people")
CSV_HEADER: tuple[str, ...] = ("frame", "time", *(f"{joint}_{axis}" for joint in JOINTS for axis in "xyz"))
TRC_KEYS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate", "OrigDataStartFrame",
            "OrigNumFrames")
TRC_UNITS_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
MAX_ARRAY_BYTES = 2 * 1024**3  # one array of a keypoints .npz


class ExportError(ValueError):
    """An output file cannot be written or read back; the message is one line naming the file."""


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def _atomic_open(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """Yield a file whose content replaces ``path`` when the block ends (:func:`common.files.atomic_write`);
    a failed write leaves ``path`` as it was and raises :class:`ExportError`."""
    try:
        with atomic_write(path, binary=binary) as fh:
            yield fh
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({_one_line(exc)})") from None


# --------------------------------------------------------------------------- checks


def _check_fps(fps: Any, where: Path | str) -> float:
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0:
        raise ExportError(f"{where}: fps must be a finite number > 0, got {fps!r}")
    return float(fps)


def _check_points3d(points: Any, where: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """(F, 33, 3) float64 metres with whole joints NaN where missing, and the (F, 33) missing mask."""
    try:
        arr = np.asarray(points)
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{where}: points are not an array ({_one_line(exc)})") from None
    if arr.dtype.kind not in "fiu":
        raise ExportError(f"{where}: points must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise ExportError(f"{where}: points must have shape (F, {N_JOINTS}, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ExportError(f"{where}: points have no frames")
    arr = arr.astype(np.float64)  # always a copy: the caller's array is not touched
    if np.isinf(arr).any():
        raise ExportError(f"{where}: points contain infinite values (use NaN for a missing joint)")
    missing = np.isnan(arr).any(axis=2)
    arr[missing] = np.nan
    return arr, missing


# --------------------------------------------------------------------------- 2D keypoints (.npz)


def _keypoints_problem(points: np.ndarray, scores: np.ndarray, cameras: np.ndarray, fps: np.ndarray,
                       offsets: np.ndarray) -> str | None:
    """What is wrong with these arrays (as read from an .npz or given to Keypoints2D), or None."""
    for name, arr, kinds, wanted in (("points", points, "f", "floats"), ("scores", scores, "f", "floats"),
                                     ("cameras", cameras, "U", "unicode strings"), ("fps", fps, "fiu", "a number"),
                                     ("offsets", offsets, "iu", "integers")):
        if arr.dtype.kind not in kinds:
            return f"{name} must be {wanted}, got dtype {arr.dtype}"
    if points.ndim != 4 or points.shape[2:] != (N_JOINTS, 2):
        return f"points must have shape (C, F, {N_JOINTS}, 2), got {points.shape}"
    if scores.ndim != 3 or scores.shape[2] != N_JOINTS:
        return f"scores must have shape (C, F, {N_JOINTS}), got {scores.shape}"
    n_cams, n_frames = points.shape[:2]
    if scores.shape[:2] != (n_cams, n_frames):
        return (f"points have {n_cams} cameras x {n_frames} frames but scores have "
                f"{scores.shape[0]} x {scores.shape[1]}")
    if n_cams < 1:
        return "there are no cameras (C = 0)"
    if n_frames < 1:
        return "there are no frames (F = 0)"
    if cameras.ndim != 1 or cameras.shape[0] != n_cams:
        return f"cameras must have shape ({n_cams},) to match points, got {cameras.shape}"
    if offsets.ndim != 1 or offsets.shape[0] != n_cams:
        return f"offsets must have shape ({n_cams},) to match points, got {offsets.shape}"
    if fps.ndim != 0:
        return f"fps must be a scalar, got shape {fps.shape}"
    if not math.isfinite(float(fps)) or float(fps) <= 0:
        return f"fps must be a finite number > 0, got {fps.item()!r}"
    names = [str(c) for c in cameras.tolist()]
    if any(not name.strip() for name in names):
        return "a camera name is empty"
    duplicates = sorted(name for name, n in collections.Counter(names).items() if n > 1)
    if duplicates:
        return f"duplicate camera names: {', '.join(repr(d) for d in duplicates)}"
    if np.isinf(points).any():
        return "points contain infinite values (NaN marks a missing joint)"
    if np.isnan(scores).any():
        return "scores contain NaN"
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        return f"scores must lie in [0, 1], found values in [{float(scores.min()):g}, {float(scores.max()):g}]"
    return None


def _people_problem(points_people: np.ndarray | None, scores_people: np.ndarray | None,
                    n_cams: int, n_frames: int) -> str | None:
    """What is wrong with the optional person axis (``points_people``, ``scores_people``), or None."""
    if points_people is None and scores_people is None:
        return None
    if points_people is None or scores_people is None:
        return "points_people and scores_people go together: one of them is missing"
    for name, arr in (("points_people", points_people), ("scores_people", scores_people)):
        if arr.dtype.kind != "f":
            return f"{name} must be floats, got dtype {arr.dtype}"
    if points_people.ndim != 5 or points_people.shape[3:] != (N_JOINTS, 2) or points_people.shape[0] != n_cams \
            or points_people.shape[2] != n_frames or points_people.shape[1] < 1:
        return f"points_people must have shape ({n_cams}, P, {n_frames}, {N_JOINTS}, 2), got {points_people.shape}"
    if scores_people.shape != points_people.shape[:4]:
        return f"scores_people must have shape {points_people.shape[:4]}, got {scores_people.shape}"
    if np.isinf(points_people).any():
        return "points_people contain infinite values (NaN marks a missing joint)"
    if np.isnan(scores_people).any():
        return "scores_people contain NaN"
    if scores_people.size and (scores_people.min() < 0 or scores_people.max() > 1):
        return "scores_people must lie in [0, 1]"
    return None


@dataclass(frozen=True, eq=False)
class Keypoints2D:
    """2D keypoints of every camera, already aligned in time (frame f of every camera is frame f of the take).

    ``points`` float32 (C, F, 33, 2) px, NaN where a joint was not detected; ``scores`` float32
    (C, F, 33) in [0, 1]; ``cameras`` the C names in calibration order; ``fps`` frames per
    second; ``offsets`` int64 (C,) frames each camera was shifted by for synchronization.
    With several people in view, ``points_people`` float32 (C, P, F, 33, 2) px and
    ``scores_people`` float32 (C, P, F, 33) hold every 2D person of every camera (person p of a
    camera is its p-th 2D track; NaN / 0 where absent) and ``points`` / ``scores`` the person
    of interest's detections; both are None for one person per camera.
    Arrays are converted to those dtypes (copied only when the dtype differs) and checked:
    a bad value raises :class:`ExportError`. Compared by identity (arrays have no single truth value).
    """

    points: np.ndarray
    scores: np.ndarray
    cameras: tuple[str, ...]
    fps: float
    offsets: np.ndarray
    points_people: np.ndarray | None = None
    scores_people: np.ndarray | None = None

    def __post_init__(self) -> None:
        arrays = _as_arrays(self.points, self.scores, self.cameras, self.fps, self.offsets, "Keypoints2D")
        people = _people_arrays(self.points_people, self.scores_people, "Keypoints2D")
        problem = _keypoints_problem(*arrays) or _people_problem(*people, *arrays[0].shape[:2])
        if problem:
            raise ExportError(f"Keypoints2D: {problem}")
        points, scores, cameras, fps, offsets = arrays
        object.__setattr__(self, "points", points.astype(np.float32, copy=False))
        object.__setattr__(self, "scores", scores.astype(np.float32, copy=False))
        object.__setattr__(self, "cameras", tuple(str(c) for c in cameras.tolist()))
        object.__setattr__(self, "fps", float(fps))
        object.__setattr__(self, "offsets", offsets.astype(np.int64, copy=False))
        if people[0] is not None:
            object.__setattr__(self, "points_people", people[0].astype(np.float32, copy=False))
            object.__setattr__(self, "scores_people", people[1].astype(np.float32, copy=False))

    @property
    def n_frames(self) -> int:
        """F, the number of (aligned) frames."""
        return int(self.points.shape[1])

    def people(self) -> tuple[np.ndarray, np.ndarray]:
        """Every 2D person: (C, P, F, 33, 2) px and (C, P, F, 33); ``points`` as the one person when
        there is no person axis."""
        if self.points_people is None:
            return self.points[:, None], self.scores[:, None]
        return self.points_people, self.scores_people


def _as_arrays(points: Any, scores: Any, cameras: Any, fps: Any, offsets: Any, where: str) -> tuple[np.ndarray, ...]:
    try:
        names = np.asarray(list(cameras) if isinstance(cameras, tuple | list) else cameras)
        if names.size == 0:
            names = names.astype(str)
        return (np.asarray(points), np.asarray(scores), names, np.asarray(fps), np.asarray(offsets))
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{where}: not arrays ({_one_line(exc)})") from None


def _people_arrays(points_people: Any, scores_people: Any, where: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    try:
        return tuple(None if a is None else np.asarray(a) for a in (points_people, scores_people))
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{where}: not arrays ({_one_line(exc)})") from None


def save_keypoints(path: str | os.PathLike, kp: Keypoints2D) -> None:
    """Write ``kp`` to ``path`` as a compressed .npz with keys ``points``, ``scores``, ``cameras``, ``fps``, ``offsets``
    (and ``points_people``, ``scores_people`` when ``kp`` has a person axis).

    ``points`` float32 (C, F, 33, 2) px NaN missing, ``scores`` float32 (C, F, 33), ``cameras``
    unicode (C,), ``fps`` float64 scalar, ``offsets`` int64 (C,); ``points_people`` float32
    (C, P, F, 33, 2), ``scores_people`` float32 (C, P, F, 33). Atomic.
    """
    path = Path(path)
    if not isinstance(kp, Keypoints2D):
        raise ExportError(f"{path}: expected Keypoints2D, got {type(kp).__name__}")
    # The arrays of a frozen dataclass can still be changed in place: check again.
    arrays = _as_arrays(kp.points, kp.scores, kp.cameras, kp.fps, kp.offsets, str(path))
    people = _people_arrays(kp.points_people, kp.scores_people, str(path))
    problem = _keypoints_problem(*arrays) or _people_problem(*people, *arrays[0].shape[:2])
    if problem:
        raise ExportError(f"{path}: {problem}")
    extra = {} if people[0] is None else {"points_people": people[0].astype(np.float32, copy=False),
                                          "scores_people": people[1].astype(np.float32, copy=False)}
    with _atomic_open(path, binary=True) as fh:
        np.savez_compressed(fh, points=kp.points.astype(np.float32, copy=False),
                            scores=kp.scores.astype(np.float32, copy=False),
                            cameras=np.array(kp.cameras, dtype=str), fps=np.float64(kp.fps),
                            offsets=kp.offsets.astype(np.int64, copy=False), **extra)


def _check_declared_sizes(path: Path) -> None:
    """Refuse an archive whose arrays are larger than :data:`MAX_ARRAY_BYTES`, or declare a shape
    larger than the data they hold, before ``np.load`` allocates that shape."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with zipfile.ZipFile(path) as archive:
        for key in (*NPZ_KEYS, *NPZ_PEOPLE_KEYS):
            try:
                info = archive.getinfo(f"{key}.npy")
            except KeyError:
                continue  # reported with the other missing keys
            if info.file_size > MAX_ARRAY_BYTES:
                raise ExportError(f"{path}: key '{key}' holds {info.file_size} bytes, more than {MAX_ARRAY_BYTES}")
            with archive.open(info) as fh:
                read_header = readers.get(np.lib.format.read_magic(fh))
                if read_header is None:
                    continue  # np.load knows the other versions, or refuses them
                shape, _, dtype = read_header(fh)
            declared = math.prod(shape) * dtype.itemsize
            if not dtype.hasobject and declared > info.file_size:
                raise ExportError(f"{path}: key '{key}' declares shape {shape} ({declared} bytes) but holds "
                                  f"{info.file_size} bytes (damaged archive)")


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """The archive at ``path``, opened without unpickling; ExportError when it is not one."""
    if not path.is_file():
        raise ExportError(f"{path}: not a file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic.startswith(b"\x93NUMPY"):
            raise ExportError(f"{path}: a single .npy array, not a keypoints .npz archive")
        if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise ExportError(f"{path}: not a keypoints .npz archive (not a zip file)")
        _check_declared_sizes(path)
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"{path}: damaged .npz archive ({_one_line(exc)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # np.load's other answers, kept for safety
        raise ExportError(f"{path}: not a keypoints .npz archive")
    return archive


def _read_keys(path: Path, archive: np.lib.npyio.NpzFile) -> dict[str, np.ndarray]:
    """The contract's arrays in ``archive``; ``offsets`` alone may be missing (then 0 for every camera)."""
    missing = [key for key in NPZ_KEYS if key not in archive.files]
    if missing and missing != ["offsets"]:
        raise ExportError(f"{path}: missing key{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(k) for k in missing)} (expected {', '.join(NPZ_KEYS)})")
    arrays = {}
    for key in (*NPZ_KEYS, *NPZ_PEOPLE_KEYS):
        if key not in archive.files:
            continue
        try:
            arrays[key] = archive[key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            # NotImplementedError: a compression method zipfile lacks; RuntimeError: an encrypted member
            raise ExportError(f"{path}: key '{key}' cannot be read ({_one_line(exc)})") from None
    if "offsets" not in arrays:
        # Files written by other tools carry no synchronization: their frames are taken as aligned.
        cameras = arrays["cameras"]
        arrays["offsets"] = np.zeros(cameras.shape[0] if cameras.ndim == 1 else 0, np.int64)
    return arrays


def load_keypoints(path: str | os.PathLike) -> Keypoints2D:
    """Read and check a keypoints .npz written by :func:`save_keypoints` (shapes and units there).

    A file from another tool may lack ``offsets``: its frames are then taken as aligned (0 for
    every camera). ``points_people`` / ``scores_people`` are read when present. Never
    unpickles: an archive holding Python objects is refused. Other keys are ignored. Raises
    :class:`ExportError` naming the file and the problem.
    """
    path = Path(path)
    with _open_npz(path) as archive:
        arrays = _read_keys(path, archive)
    problem = _keypoints_problem(*(arrays[key] for key in NPZ_KEYS))
    problem = problem or _people_problem(arrays.get("points_people"), arrays.get("scores_people"),
                                         *arrays["points"].shape[:2])
    if problem:
        raise ExportError(f"{path}: {problem}")
    return Keypoints2D(**arrays)


# --------------------------------------------------------------------------- 3D pose, CSV


def _cell(value: float) -> str:
    return "" if value != value else f"{value:.6f}"  # NaN != NaN: an empty cell


def write_pose3d_csv(path: str | os.PathLike, points: Any, fps: float) -> None:
    """Write the 3D pose as CSV: ``frame,time,<joint>_x,<joint>_y,<joint>_z,...`` for the 33 joints.

    ``points`` (F, 33, 3) metres, world frame, NaN where missing; ``fps`` frames per second.
    ``frame`` counts from 0, ``time`` = frame / fps in s; times and coordinates have 6 decimals
    (µs, µm); a missing joint leaves its three cells empty. Atomic.
    """
    path = Path(path)
    arr, _ = _check_points3d(points, path)
    fps = _check_fps(fps, path)
    with _atomic_open(path) as fh:
        fh.write(",".join(CSV_HEADER) + "\n")
        for f, row in enumerate(arr.reshape(len(arr), -1).tolist()):
            fh.write(f"{f},{f / fps:.6f}," + ",".join(_cell(v) for v in row) + "\n")


@contextlib.contextmanager
def _text_file(path: Path) -> Iterator[IO[str]]:
    """``path`` open for reading UTF-8 text (BOM skipped), read line by line by the caller: a
    file of millions of blank lines costs no memory. Decoding errors met while reading, and
    OSError, become ExportError."""
    if not path.is_file():
        raise ExportError(f"{path}: not a file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            yield fh
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot read ({_one_line(exc)})") from None


def _quoted(text: str) -> str:
    """A cell for a one-line message: '1.5' as it is, a long or unprintable one escaped and cut."""
    if len(text) <= 40 and text.isprintable():
        return f"'{text}'"
    return repr(text[:40]) + ("..." if len(text) > 40 else "")


def _float(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text) if len(text) <= 64 else math.nan  # 64 characters hold any float64
    except ValueError:
        raise ExportError(f"{path}: line {line}, column '{column}': {_quoted(text)} is not a number") from None
    if not math.isfinite(value):
        raise ExportError(f"{path}: line {line}, column '{column}': {_quoted(text)} is not finite or longer than 64 "
                          "characters (leave the cell empty)")
    return value


def _check_csv_header(path: Path, row: list[str] | None) -> None:
    if not row or not any(row):
        raise ExportError(f"{path}: empty, expected the header '{','.join(CSV_HEADER[:5])},...'")
    header = [cell.strip() for cell in row]
    for i, expected in enumerate(CSV_HEADER):
        if i >= len(header):
            raise ExportError(f"{path}: header stops after column {i}, expected column {i + 1} '{expected}'")
        if header[i] != expected:
            raise ExportError(f"{path}: header column {i + 1} is {_quoted(header[i])}, expected '{expected}'")
    if len(header) > len(CSV_HEADER):
        raise ExportError(f"{path}: unexpected header column {len(CSV_HEADER) + 1} {_quoted(header[len(CSV_HEADER)])}")


def _csv_frame(path: Path, line: int, text: str) -> int:
    if len(text) <= 20:  # int() of a long digit string is slow, then refused
        with contextlib.suppress(ValueError):
            return int(text)
    raise ExportError(f"{path}: line {line}, column 'frame': {_quoted(text)} is not an integer")


def read_pose3d_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV written by :func:`write_pose3d_csv`: (points (F, 33, 3) float64 m NaN missing, times (F,) s).

    The header must be exactly the contract's; frames must be integers that increase; numbers
    finite; a joint with an empty cell is missing whole (NaN). Read line by line (blank lines
    skipped). Raises :class:`ExportError` naming the file and the first bad column or line,
    never csv.Error.
    """
    path = Path(path)
    points, times, last_frame = [], [], None
    with _text_file(path) as fh:
        reader = csv.reader(fh)
        try:
            _check_csv_header(path, next(reader, None))
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(CSV_HEADER):
                    raise ExportError(f"{path}: line {line} has {len(row)} cells, expected {len(CSV_HEADER)}")
                frame = _csv_frame(path, line, row[0])
                if last_frame is not None and frame <= last_frame:
                    raise ExportError(f"{path}: line {line}: frame {frame} does not follow frame {last_frame}")
                last_frame = frame
                times.append(_float(row[1], path, line, "time"))
                points.append([math.nan if not cell.strip() else _float(cell, path, line, name)
                               for cell, name in zip(row[2:], CSV_HEADER[2:])])
        except csv.Error as exc:  # a cell over csv's field size limit, a NUL byte...
            raise ExportError(f"{path}: line {reader.line_num}: {_one_line(exc)}") from None
    if not points:
        raise ExportError(f"{path}: no frames after the header")
    arr = np.asarray(points, dtype=np.float64).reshape(-1, N_JOINTS, 3)
    arr[np.isnan(arr).any(axis=2)] = np.nan  # a joint with an empty cell is missing whole
    return arr, np.asarray(times, dtype=np.float64)


# --------------------------------------------------------------------------- 3D pose, OpenSim TRC


def read_motion(folder: str | os.PathLike) -> tuple[np.ndarray, float]:
    """The 3D motion of a processed take folder: (points (F, 33, 3) m, fps) from its ``pose3d.csv``,
    the frame rate from the rows' times. Raises :class:`ExportError` when the file is missing
    ("process the take first"), unreadable, or holds fewer than two frames at increasing times."""
    folder = Path(folder)
    csv_path = folder / "pose3d.csv"
    if not csv_path.is_file():
        raise ExportError(f"{folder}: no pose3d.csv (process the take first)")
    points, times = read_pose3d_csv(csv_path)
    if len(times) < 2 or not np.all(np.diff(times) > 0):
        raise ExportError(f"{csv_path}: needs at least two frames with increasing times")
    return points, 1.0 / float(np.median(np.diff(times)))


def _to_opensim(arr: np.ndarray) -> np.ndarray:
    """VSION world (x, y, z), Z up -> OpenSim (x, z, -y), Y up (a +90° rotation about x)."""
    return np.stack([arr[..., 0], arr[..., 2], -arr[..., 1] + 0.0], axis=-1)  # + 0.0 turns -0.0 into 0.0


def _from_opensim(arr: np.ndarray) -> np.ndarray:
    """OpenSim (X, Y, Z), Y up -> VSION world (X, -Z, Y), Z up: the inverse of :func:`_to_opensim`."""
    return np.stack([arr[..., 0], -arr[..., 2] + 0.0, arr[..., 1]], axis=-1)


def write_trc(path: str | os.PathLike, points: Any, fps: float) -> None:
    """Write the 3D pose as an OpenSim TRC marker file (PathFileType 4, (X/Y/Z)), tab separated, millimetres.

    ``points`` (F, 33, 3) metres in VSION's world frame (Z up), NaN where missing; ``fps``
    frames per second. OpenSim is Y up, so each point is written rotated: world (x, y, z) ->
    TRC (X, Y, Z) = (x, z, -y) (+90° about x; VSION's forward y becomes OpenSim's -Z).
    Markers are the 33 joint names. Layout, as OpenSim's TRC reader expects: line 1
    ``PathFileType 4 (X/Y/Z) <file name>``; line 2 the keys ``DataRate CameraRate NumFrames
    NumMarkers Units OrigDataRate OrigDataStartFrame OrigNumFrames``; line 3 their values;
    line 4 ``Frame# Time`` then each marker name followed by two empty cells (so the name sits
    above its X column); line 5 two empty cells then ``X1 Y1 Z1 X2 ...``; line 6 empty; then one
    row per frame: ``Frame#`` from 1, ``Time`` = (Frame# - 1) / fps in s (6 decimals), X Y Z in
    mm (3 decimals), three empty fields for a missing marker, and a trailing tab so that a
    missing last marker keeps the row at full length. Atomic.
    """
    path = Path(path)
    arr, missing = _check_points3d(points, path)
    fps = _check_fps(fps, path)
    mm = _to_opensim(arr) * 1000.0
    n_frames = len(mm)
    rate = repr(fps)
    with _atomic_open(path) as fh:
        fh.write(f"PathFileType\t4\t(X/Y/Z)\t{path.name}\n")
        fh.write("\t".join(TRC_KEYS) + "\n")
        fh.write("\t".join([rate, rate, str(n_frames), str(N_JOINTS), "mm", rate, "1", str(n_frames)]) + "\n")
        fh.write("Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in JOINTS) + "\n")
        fh.write("\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, N_JOINTS + 1)) + "\n")
        fh.write("\n")
        for f in range(n_frames):
            cells = [str(f + 1), f"{f / fps:.6f}"]
            for j, (x, y, z) in enumerate(mm[f].tolist()):
                cells += ["", "", ""] if missing[f, j] else [f"{x:.3f}", f"{y:.3f}", f"{z:.3f}"]
            fh.write("\t".join(cells) + "\t\n")


def _tokens(line: str) -> list[str]:
    return [token for token in line.replace("\t", " ").split(" ") if token]


def _trc_header(path: Path, lines: list[str]) -> tuple[float, int, float]:
    """(fps, NumFrames, metres per unit) from the first five lines of a TRC, checked."""
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise ExportError(f"{path}: not a TRC file (the first line must start with 'PathFileType')")
    keys, values = _tokens(lines[1]), _tokens(lines[2])
    if tuple(keys) != TRC_KEYS:
        raise ExportError(f"{path}: line 2 must hold the keys {' '.join(TRC_KEYS)}")
    if len(values) != len(TRC_KEYS):
        raise ExportError(f"{path}: line 3 has {len(values)} values for {len(TRC_KEYS)} keys")
    meta = dict(zip(keys, values))
    try:
        if max(len(meta[key]) for key in ("DataRate", "NumFrames", "NumMarkers")) > 20:
            raise ValueError("too long")
        fps, n_frames, n_markers = float(meta["DataRate"]), int(meta["NumFrames"]), int(meta["NumMarkers"])
    except ValueError:
        raise ExportError(f"{path}: line 3: DataRate, NumFrames and NumMarkers must be numbers") from None
    _check_fps(fps, path)
    if n_markers != N_JOINTS:
        raise ExportError(f"{path}: NumMarkers is {n_markers}, expected {N_JOINTS}")
    scale = TRC_UNITS_TO_M.get(meta["Units"])
    if scale is None:
        raise ExportError(f"{path}: Units {_quoted(meta['Units'])} is not one of {', '.join(TRC_UNITS_TO_M)}")
    labels = [cell.strip() for cell in lines[3].split("\t") if cell.strip()]
    if labels[:2] != ["Frame#", "Time"]:
        raise ExportError(f"{path}: line 4 must start with Frame# and Time")
    names = labels[2:]
    for i, expected in enumerate(JOINTS):
        if i >= len(names) or names[i] != expected:
            found = _quoted(names[i]) if i < len(names) else "nothing"
            raise ExportError(f"{path}: marker {i + 1} is {found}, expected '{expected}'")
    if len(names) > N_JOINTS:
        raise ExportError(f"{path}: {len(names)} marker names for NumMarkers {N_JOINTS}")
    return fps, n_frames, scale


def _trc_row(path: Path, number: int, line: str) -> list[list[float]]:
    """One data row: 33 markers (X, Y, Z) in the file's unit; a marker with an empty or NaN field is NaN."""
    width = 2 + 3 * N_JOINTS
    fields = [cell.strip() for cell in line.split("\t")]
    if len(fields) > width and not any(fields[width:]):
        fields = fields[:width]  # trailing tabs
    if len(fields) != width:
        raise ExportError(f"{path}: line {number} has {len(fields)} fields, expected {width}")
    row = []
    for j in range(N_JOINTS):
        xyz = fields[2 + 3 * j: 5 + 3 * j]
        try:
            values = [float(v) if len(v) <= 64 else math.inf for v in xyz] if all(xyz) else [math.nan] * 3
        except ValueError:
            raise ExportError(f"{path}: line {number}, marker '{JOINTS[j]}': not a number") from None
        if any(math.isinf(v) for v in values):
            raise ExportError(f"{path}: line {number}, marker '{JOINTS[j]}': not a finite number")
        row.append([math.nan] * 3 if any(math.isnan(v) for v in values) else values)
    return row


def read_trc(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Read a TRC written by :func:`write_trc`: (points (F, 33, 3) float64 metres in VSION's world frame, fps).

    Undoes the axis change (TRC (X, Y, Z) -> world (X, -Z, Y)) and the unit (mm, cm or m per
    the ``Units`` field). The markers must be the 33 joints in order; a marker with any empty
    or NaN field is NaN; an infinite value is refused. Read line by line (blank lines skipped).
    Raises :class:`ExportError` naming the file and the problem.
    """
    path = Path(path)
    with _text_file(path) as fh:
        lines = (line.rstrip("\r\n") for line in fh)
        header = [line for _, line in zip(range(5), lines)]
        fps, n_frames, scale = _trc_header(path, header)
        rows = [_trc_row(path, number, line) for number, line in enumerate(lines, start=6) if line.strip()]
    if len(rows) != n_frames:
        raise ExportError(f"{path}: NumFrames is {n_frames} but {len(rows)} data rows were found")
    if n_frames == 0:
        raise ExportError(f"{path}: no frames")
    return _from_opensim(np.asarray(rows, dtype=np.float64) * scale), fps


# --------------------------------------------------------------------------- 3D pose, C3D


def write_c3d(path: str | os.PathLike, points: Any, fps: float) -> None:
    """Write the 3D pose as C3D point data with ezc3d: 33 points labelled by joint, millimetres, ``fps`` Hz.

    ``points`` (F, 33, 3) metres in VSION's world frame, written as is (Z up, the C3D norm)
    after conversion to mm. A missing joint is stored the C3D way: coordinates 0 and residual
    -1; a reconstructed joint has residual 0 (a computed, not directly measured, point).
    Atomic: ezc3d writes only to a named ``.c3d`` file, so it writes into a scratch folder and the
    bytes then replace ``path`` like every other output.
    """
    path = Path(path)
    arr, missing = _check_points3d(points, path)
    fps = _check_fps(fps, path)
    n_frames = len(arr)
    data = np.ones((4, N_JOINTS, n_frames))
    data[:3] = np.nan_to_num(arr * 1000.0, nan=0.0).transpose(2, 1, 0)
    residuals = np.zeros((1, N_JOINTS, n_frames))
    residuals[0, missing.T] = -1.0
    c3d = ezc3d.c3d()
    point = c3d["parameters"]["POINT"]
    point["RATE"]["value"] = [fps]
    point["LABELS"]["value"] = list(JOINTS)
    point["UNITS"]["value"] = ["mm"]
    c3d["data"]["points"] = data
    c3d["data"]["meta_points"]["residuals"] = residuals
    with tempfile.TemporaryDirectory(prefix="vsion-c3d-") as folder:
        scratch = Path(folder) / "pose3d.c3d"
        try:
            c3d.write(str(scratch))
            content = scratch.read_bytes() if scratch.is_file() else b""
        except (OSError, RuntimeError) as exc:
            raise ExportError(f"{path}: cannot write ({_one_line(exc)})") from None
    # ezc3d returns quietly when it cannot write: the file itself is the proof.
    if not content:
        raise ExportError(f"{path}: cannot write (ezc3d wrote nothing)")
    with _atomic_open(path, binary=True) as fh:
        fh.write(content)


# --------------------------------------------------------------------------- JSON


def _plain(value: Any, path: Path, at: str) -> Any:
    """``value`` as JSON-ready Python: numpy scalars and arrays unpacked, NaN and ±inf as None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise ExportError(f"{path}: an array of dtype {value.dtype} at {at or 'the top'} cannot be stored in JSON")
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = key.item() if isinstance(key, np.generic) else key
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise ExportError(f"{path}: key {key!r} at {at or 'the top'} is not a string or a number")
            name = key if isinstance(key, str) else json.dumps(key)
            out[name] = _plain(item, path, f"{at}.{name}" if at else name)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, path, f"{at}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise ExportError(f"{path}: a {type(value).__name__} at {at or 'the top'} cannot be stored in JSON")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as UTF-8 JSON, indented by 2, atomically.

    Dicts, lists, tuples, str, int, float, bool, None, paths and numpy scalars and arrays are
    accepted (arrays become nested lists); NaN and ±inf become ``null``. Units are the caller's
    (the report's are in ``../shared/CONTRACT.md``).
    """
    path = Path(path)
    plain = _plain(data, path, "")
    text = json.dumps(plain, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with _atomic_open(path) as fh:
        fh.write(text)
