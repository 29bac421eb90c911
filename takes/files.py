"""The files of a take folder, found from a take id the database knows (never from a client path).

``<takes_dir>/<take id>/``: ``take.json``, one ``<camera>.mp4`` and ``<camera>.timestamps.csv``
per camera, and the processing outputs in ``processed/`` (see ``../shared/CONTRACT.md``).
Every function here checks the take id and camera name against strict patterns and against
``take.json`` before it builds a path, and raises :class:`TakeFileMissing` for anything
absent, so the web layer can answer "not found". No database, no Flask: plain files.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from common.takefolder import COMPARISON_FILE, PROCESSED_DIR, TAKE_JSON, timestamps_name, video_name
from config.schema import CAMERA_NAME
from reconstruction.exports import read_pose3d_csv
from reconstruction.landmarks import JOINTS

logger = logging.getLogger(__name__)

TAKE_FOLDER_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")  # the ids VideoProcessor gives
CAMERA = re.compile(CAMERA_NAME)
PTS_PER_S = 90000  # the recorder's MP4 time base (take.json "pts_time_base": "1/90000")
DOWNLOADS = {"csv": "pose3d.csv", "trc": "pose3d.trc", "c3d": "pose3d.c3d", "mot": "angles.mot",
             "ergonomics": "ergonomics.csv", "bvh": "pose3d.bvh"}
ZIP_CHUNK = 1 << 20


class TakeFileMissing(LookupError):
    """The take folder, or the file asked for, does not exist (or the name is not acceptable)."""


def take_folder(takes_dir: Path | str, take_id: str) -> Path:
    """``<takes_dir>/<take_id>`` for a well-formed recorder id whose folder exists."""
    if not isinstance(take_id, str) or not TAKE_FOLDER_ID.fullmatch(take_id):
        raise TakeFileMissing(take_id)
    folder = Path(takes_dir) / take_id
    if not folder.is_dir():
        raise TakeFileMissing(take_id)
    return folder


def read_take_json(folder: Path) -> dict:
    """The take's ``take.json`` ({} when missing or unreadable)."""
    try:
        data = json.loads((folder / TAKE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_cameras(folder: Path) -> list[dict]:
    """The cameras of ``take.json`` that recorded a video (name matching the camera pattern), in order."""
    cameras = []
    for cam in read_take_json(folder).get("cameras") or []:
        if isinstance(cam, dict) and isinstance(cam.get("name"), str) and CAMERA.fullmatch(cam["name"]) \
                and cam.get("file"):
            cameras.append(cam)
    return cameras


def video_path(folder: Path, camera: str) -> Path:
    """``<folder>/<camera>.mp4`` for a camera that ``take.json`` lists as recorded."""
    if not isinstance(camera, str) or not CAMERA.fullmatch(camera):
        raise TakeFileMissing(camera)
    if camera not in {cam["name"] for cam in recorded_cameras(folder)}:
        raise TakeFileMissing(camera)
    path = folder / video_name(camera)
    if not path.is_file():
        raise TakeFileMissing(camera)
    return path


def output_path(folder: Path, what: str) -> Path:
    """A processing output (``what`` in csv, trc, c3d) of the take."""
    name = DOWNLOADS.get(what)
    path = folder / PROCESSED_DIR / name if name else None
    if path is None or not path.is_file():
        raise TakeFileMissing(what)
    return path


def processed(folder: Path) -> bool:
    return (folder / PROCESSED_DIR / "pose3d.csv").is_file()


def _first_pts(csv_path: Path, frame: int) -> tuple[int, int] | None:
    """(pts of row 0, pts of row ``frame``) of a timestamps CSV, or None."""
    first = None
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            for k, row in enumerate(csv.DictReader(fh)):
                pts = int(row["pts"])
                if k == 0:
                    first = pts
                if k == frame:
                    return first, pts
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return None


def camera_offsets(folder: Path) -> dict[str, float]:
    """Per camera, the time (s) in its MP4, from its first frame, that shows 3D frame 0.

    From ``processed/keypoints2d.npz`` ``offsets`` (the camera's video frame at aligned frame
    0) and the camera's timestamps CSV (``pts`` in 1/90000 s): ``(pts[offset] - pts[0]) / 90000``.
    A camera without these files gets 0.
    """
    offsets: dict[str, float] = {}
    try:
        with np.load(folder / PROCESSED_DIR / "keypoints2d.npz", allow_pickle=False) as npz:
            names = [str(n) for n in npz["cameras"]]
            frames = [int(o) for o in np.asarray(npz["offsets"]).reshape(-1)]
    except (OSError, KeyError, ValueError):
        return offsets
    for name, frame in zip(names, frames):
        if not CAMERA.fullmatch(name) or frame < 0:
            continue
        pts = _first_pts(folder / timestamps_name(name), frame)
        if pts is not None:
            offsets[name] = round((pts[1] - pts[0]) / PTS_PER_S, 6)
    return offsets


def read_report(folder: Path) -> dict:
    """``processed/report.json`` ({} when missing or unreadable)."""
    try:
        data = json.loads((folder / PROCESSED_DIR / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_comparison(folder: Path) -> dict:
    """``processed/comparison.json`` written by the process job for an attempt ({} when missing)."""
    try:
        data = json.loads((folder / PROCESSED_DIR / COMPARISON_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pose3d(folder: Path) -> dict:
    """The 3D skeleton for the pages: ``{"fps", "frames", "joints", "points"}``, points per frame
    a list of 33 ``[x, y, z]`` (m, world frame, Z up, rounded to 0.1 mm) or None where missing."""
    path = folder / PROCESSED_DIR / "pose3d.csv"
    if not path.is_file():
        raise TakeFileMissing("pose3d.csv")
    points, times = read_pose3d_csv(path)
    fps = read_report(folder).get("fps")
    if not isinstance(fps, int | float) or fps <= 0:
        fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else None
    frames = rounded_frames(points)
    return {"fps": fps, "frames": len(frames), "joints": list(JOINTS), "points": frames}


def rounded_frames(points: np.ndarray) -> list[list]:
    """(F, 33, 3) m as lists per frame of 33 ``[x, y, z]`` rounded to 0.1 mm, None where missing."""
    rounded = np.round(points, 4)
    missing = ~np.isfinite(rounded).all(axis=2)
    return [[None if missing[f, j] else rounded[f, j].tolist() for j in range(rounded.shape[1])]
            for f in range(rounded.shape[0])]


class _Chunks(io.RawIOBase):
    """A write-only stream that keeps what is written until :meth:`drain` (zip without seeking)."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        parts, self._parts = self._parts, []
        yield from parts


def videos_zip_members(folder: Path) -> list[tuple[Path, str]]:
    """(path, name in the zip) of every recorded MP4 and timestamps CSV of the take."""
    members = []
    for cam in recorded_cameras(folder):
        for path in (folder / video_name(cam["name"]), folder / timestamps_name(cam["name"])):
            if path.is_file():
                members.append((path, f"{folder.name}/{path.name}"))
    if not members:
        raise TakeFileMissing("videos")
    return members


def iter_zip(members: list[tuple[Path, str]]) -> Iterator[bytes]:
    """A zip (stored: the videos are compressed already) of ``members``, streamed in chunks."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path, name in members:
            with open(path, "rb") as src, archive.open(name, "w", force_zip64=True) as dst:
                while chunk := src.read(ZIP_CHUNK):
                    dst.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()
