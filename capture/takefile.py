"""A take's ``take.json``: the typed metadata a take carries, the recording in progress, and
the recovery of a take whose server died while it recorded.

The metadata (:class:`TakeMeta`: who recorded it, for which work card, what kind of take) goes
in at the start of a recording, is kept in ``take.json``, and is read back from it by the
service that registers the take in the database.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import shutil
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import av

from capture.recorder import CameraWriter
from common.files import atomic_write, write_json
from common.takefolder import TAKE_JSON, TIMESTAMP_COLUMNS, timestamps_name, video_name
from reconstruction.interest import PeopleError, checked_hint

logger = logging.getLogger(__name__)

MB = 1024 * 1024
TAKE_KINDS = ("free", "reference", "attempt")
Kind = Literal["free", "reference", "attempt"]


def _int_or_none(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


def _hint_or_none(value) -> tuple[tuple[float, float, float], ...] | None:
    if not isinstance(value, list) or not value:
        return None
    try:
        return tuple(tuple(float(v) for v in row) for row in checked_hint(value))
    except PeopleError:
        logger.warning("take.json: a chosen worker's places are not valid: ignored")
        return None


@dataclass(frozen=True)
class TakeMeta:
    """What a take is for, kept in its ``take.json`` from its start.

    ``user_id`` and ``created_by`` say who started it, ``work_card`` (an id) and ``kind`` what it
    is for (``free`` outside a work card, a card's ``reference``, or a trainee's ``attempt``),
    ``label`` the user's own name for it, ``calibration`` the file name of the calibration
    copied into the take folder when one was in force (else None). ``person_hint``: where the
    person chosen as the worker stood (chosen with a click in the live view while the take
    recorded, or in its replay), rows (time s from the take's start, x m, y m): its processing
    takes the person found there as the worker (None: the work area decides).
    """

    user_id: int | None = None
    created_by: str | None = None
    label: str | None = None
    work_card: int | None = None
    kind: Kind = "free"
    calibration: str | None = None
    person_hint: tuple[tuple[float, float, float], ...] | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TakeMeta:
        """The metadata of a ``take.json`` (values of the wrong type read as missing)."""
        kind = data.get("kind")
        return cls(user_id=_int_or_none(data.get("user_id")), created_by=_str_or_none(data.get("created_by")),
                   label=_str_or_none(data.get("label")), work_card=_int_or_none(data.get("work_card")),
                   kind=kind if kind in TAKE_KINDS else "free", calibration=_str_or_none(data.get("calibration")),
                   person_hint=_hint_or_none(data.get("person_hint")))


def stamp(mono_ns: int, wall_ns: int) -> dict:
    """A moment as ``take.json`` stores it: host monotonic and wall-clock times (ns) and ISO 8601 (UTC)."""
    iso = datetime.fromtimestamp(wall_ns / 1e9, UTC).isoformat(timespec="milliseconds")
    return {"monotonic_ns": mono_ns, "wall_time_ns": wall_ns, "iso": iso}


class Recording:
    """One take being recorded: its folder, metadata, camera writers and ``take.json``.

    Mutated by the camera group under its control lock; :meth:`save` may run from the take
    monitor's thread (it writes the file atomically).
    """

    def __init__(self, take_dir: Path, meta: TakeMeta, writers: list[CameraWriter], start_ns: tuple[int, int]):
        self.dir, self.id, self.meta, self.writers = take_dir, take_dir.name, meta, writers
        self.start_mono, self.start_wall = start_ns
        self.stop_mono = self.stop_wall = None
        self.status = "recording"
        self.stop_reason: str | None = None  # why VSION stopped the take by itself (e.g. disk_full)
        self.stop_message: str | None = None

    def to_dict(self) -> dict:
        """The content of ``take.json`` now."""
        fps = [w.fps for w in self.writers]
        return {
            "id": self.id, "status": self.status, **self.meta.to_json(),
            "start": stamp(self.start_mono, self.start_wall),
            "stop": stamp(self.stop_mono, self.stop_wall) if self.stop_mono else None,
            "fps": statistics.median(fps) if fps else None,
            "cameras": [w.summary() for w in self.writers],
            "missing_frames": sum(w.missing for w in self.writers),
            "stop_reason": self.stop_reason, "stop_message": self.stop_message,
        }

    def save(self) -> None:
        write_json(self.dir / TAKE_JSON, self.to_dict())


def free_mb(path: Path) -> float:
    """Free space (MB) on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free / MB


def readable_frames(path: Path) -> int:
    """Frames a player finds in a (possibly cut short) fragmented MP4: the packets of its whole fragments."""
    count = 0
    with contextlib.suppress(av.FFmpegError, OSError):
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                count += packet.size > 0
    return count


def _csv_stamp(row: dict) -> dict:
    return stamp(int(row["monotonic_ns"]), int(row["wall_time_ns"]))


def _cut_timestamps(take_dir: Path, cam: dict, name: str) -> list[dict] | None:
    """The timestamps rows of ``name`` that its video really holds (the file is cut to them);
    None when they cannot be read."""
    stamps = take_dir / timestamps_name(name)
    try:
        with open(stamps, newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.DictReader(fh) if row.get("wall_time_ns")]
        video = take_dir / video_name(name)
        readable = readable_frames(video) if video.is_file() else 0
        if readable < len(rows):
            cam["rows_lost_at_crash"] = len(rows) - readable
            rows = rows[:readable]
            with atomic_write(stamps) as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else TIMESTAMP_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
    except (OSError, ValueError, csv.Error):
        return None
    return rows


def _rebuild_camera(take_dir: Path, cam: dict) -> dict | None:
    """Complete one camera of an interrupted take from its files; its last frame, if any."""
    name = cam.get("name")
    if not isinstance(name, str) or not (take_dir / timestamps_name(name)).is_file():
        return None
    rows = _cut_timestamps(take_dir, cam, name)
    if rows is None:
        return None
    if not rows:
        cam.update(file=None, timestamps=None, frames=0)
        return None
    try:
        missing = [int(row.get("missing_before") or 0) for row in rows]
        cam.update(file=video_name(name) if (take_dir / video_name(name)).is_file() else None,
                   timestamps=timestamps_name(name), frames=len(rows), first_frame=_csv_stamp(rows[0]),
                   last_frame=_csv_stamp(rows[-1]), missing_frames=sum(missing))
    except (KeyError, ValueError):
        return None
    return cam["last_frame"]


def rebuild_interrupted(take_dir: Path, data: dict) -> dict:
    """``take.json`` of a take whose server died while it recorded, completed from what its
    files hold. The video keeps its whole fragments (all but the last ``fragment_ms`` or so):
    each timestamps file is cut to the frames its video holds, then gives the camera's frames,
    first and last frame and missing frames; the last frame kept is the take's stop."""
    last = None
    for cam in data.get("cameras") or []:
        frame = _rebuild_camera(take_dir, cam)
        if frame is not None and (last is None or frame["monotonic_ns"] > last["monotonic_ns"]):
            last = frame
    data["status"] = "interrupted"
    if data.get("stop") is None and last is not None:
        data["stop"] = last
    data["stop_reason"] = "server stopped"
    data["stop_message"] = "the server stopped while this take recorded; it keeps what was written until then"
    return data


def recover_interrupted(takes_dir: Path) -> list[dict]:
    """Mark every take a killed server left ``recording`` as ``interrupted``, its ``take.json``
    completed from its files (which stay readable); returns those ``take.json``."""
    found = []
    for path in sorted(takes_dir.glob(f"*/{TAKE_JSON}")):
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("status") == "recording":
            data = rebuild_interrupted(path.parent, data)
            write_json(path, data)
            found.append(data)
            frames = ", ".join(f"{c.get('name')}={c.get('frames')}" for c in data.get("cameras") or [])
            logger.warning("take %s was interrupted (server stopped while recording); kept: %s", data.get("id"), frames)
    return found
