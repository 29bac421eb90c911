"""Calibration from a recording: the usable board views of a take's videos, then the same solves.

The technician records the board first (shown to one camera at a time for intrinsics, or
to all cameras together for positions), then calibrates from that take. Frames come as one
iterable per camera of ``(capture time s, picture)`` (gray or BGR, uint8), in time order;
:func:`take_frames` reads them from a take folder (``<camera>.mp4`` and
``<camera>.timestamps.csv``, the host's monotonic clock of every frame).

The scan (:func:`scan_recording`):

1. Sample times every ``step_s`` along a reference camera's frames (each camera its own
   reference for intrinsics; the first camera for positions).
2. Per camera, the frame nearest the reference frame and the frame after it. Cameras are
   *together* only when that frame's capture time is within half a frame period (the shorter
   of the two cameras') of the reference frame's: a camera without such a frame sits the
   sample out.
3. On worker processes: the board (:func:`~calibration.detect.find_board`), its corners'
   motion to the next frame (optical flow) and its edge blur (:mod:`calibration.views`).
4. A view is usable when the board is found, still (motion < ``still_px``) and sharp
   (blur < ``max_blur_px``); it is kept when it is also at a new position, by the live
   wizard's rule (:func:`~calibration.views.is_new_view`, :func:`~calibration.views.is_new_moment`).

``progress(done, total, stage)``: frames read (stage ``"detection"``), then the solves' stages.
"""
from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import cv2
import numpy as np

from calibration.camera import CameraGroup
from calibration.detect import Detection, find_board
from calibration.extrinsics import ExtrinsicsResult, calibrate_extrinsics
from calibration.images import VIDEO_SUFFIXES
from calibration.intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics
from calibration.parallel import run_tasks
from calibration.views import MAX_BLUR_PX, STILL_PX, edge_blur_px, is_new_moment, is_new_view, tracked_motion_px

logger = logging.getLogger(__name__)

FrameSource = Iterable[tuple[float, np.ndarray]]
THUMBNAIL = (64, 36)  # px: the picture reduced to tell whether anything moved since the last look
UNCHANGED_GREY = 3  # grey levels: no thumbnail pixel changed more (camera noise averages out; a board
# edge moving by 0.5 px at 1280 px changes its thumbnail pixel by ~5 grey levels)


def _noop(done, total, stage):
    pass


@dataclass(frozen=True)
class ScanOptions:
    """How a recording is scanned: a look every ``step_s`` (s), a still board moves less than
    ``still_px`` (px) between neighbouring frames, a sharp one has edges blurred less than
    ``max_blur_px`` (px); ``workers`` processes (default: the usable cores)."""

    step_s: float = 0.2
    still_px: float = STILL_PX
    max_blur_px: float = MAX_BLUR_PX
    workers: int | None = None


@dataclass(frozen=True, eq=False)
class SampledView:
    """The board found by ``camera`` at sample ``sample``: its frame's time (s from the start of
    the recording), the detection, the corners' motion to the next frame (px), the edge blur (px)."""

    camera: str
    sample: int
    time_s: float
    detection: Detection
    motion_px: float
    blur_px: float

    def usable(self, options: ScanOptions) -> bool:
        return self.motion_px < options.still_px and self.blur_px < options.max_blur_px

    @property
    def label(self) -> str:
        return f"t{self.time_s:08.3f}"


@dataclass(frozen=True, eq=False)
class Scan:
    """What a scan saw: per camera the views where the board was found (time order), the frames
    read, and the picture size (width, height) px; per sample, the reference time (s)."""

    views: dict[str, list[SampledView]]
    frames: dict[str, int]
    sizes: dict[str, tuple[int, int]]
    sample_times: dict[int, float] = field(default_factory=dict)


class _Cursor:
    """One camera's frames, read in order, keeping the two or three around the last time asked."""

    def __init__(self, frames: FrameSource):
        self._it = iter(frames)
        self._buf: list[tuple[float, np.ndarray]] = []
        self._last: float | None = None
        self._steps: list[float] = []
        self.read = 0
        self._pull()

    def _pull(self) -> bool:
        try:
            t, image = next(self._it)
        except StopIteration:
            return False
        t = float(t)
        if self._last is not None:
            self._steps = (self._steps + [t - self._last])[-64:]
        self._last = t
        self._buf.append((t, image))
        self.read += 1
        return True

    @property
    def first_time(self) -> float | None:
        return self._buf[0][0] if self._buf else None

    @property
    def period_s(self) -> float:
        """Median time between frames (s), inf before the second frame."""
        return float(np.median(self._steps)) if self._steps else float("inf")

    def around(self, t: float) -> tuple[tuple[float, np.ndarray], tuple[float, np.ndarray]] | None:
        """The frame nearest time ``t`` and the frame after it; None once the frames run out."""
        while True:
            while len(self._buf) >= 2 and self._buf[1][0] <= t:
                self._buf.pop(0)
            if len(self._buf) >= 3 or not self._pull():
                break
        if not self._buf:
            return None
        j = 1 if len(self._buf) >= 2 and self._buf[0][0] < t and self._buf[1][0] - t < t - self._buf[0][0] else 0
        return (self._buf[j], self._buf[j + 1]) if j + 1 < len(self._buf) else None

    def drain(self) -> None:
        while self._pull():
            self._buf = self._buf[-1:]


@dataclass(frozen=True, eq=False)
class _Look:
    camera: str
    sample: int
    time_s: float
    image: np.ndarray
    following: np.ndarray
    board: object


def _inspect(look: _Look) -> tuple[Detection | None, float, float, tuple[int, int]]:
    """Worker side: the board in one frame, its motion to the next frame (px), its edge blur (px)."""
    size = (look.image.shape[1], look.image.shape[0])
    det = find_board(look.image, look.board)
    if det is None:
        return None, float("inf"), float("inf"), size
    return det, tracked_motion_px(look.image, look.following, det), edge_blur_px(look.image, det), size


def _looks_alone(name: str, cursor: _Cursor, t0: float, board, step_s: float) -> Iterator[_Look]:
    """A look every ``step_s`` along the camera's own frames."""
    sample, t = 0, cursor.first_time
    while t is not None and (pair := cursor.around(t)) is not None:
        (t_j, image), (_, following) = pair
        yield _Look(name, sample, t_j - t0, image, following, board)
        sample, t = sample + 1, t_j + step_s


def _looks_together(cursors: dict[str, _Cursor], t0: float, board, step_s: float, sample_times: dict
                    ) -> Iterator[_Look]:
    """A look every ``step_s`` along the first camera's frames, with every camera whose nearest
    frame was captured within half a frame period (the shorter of the two cameras') of the
    reference frame."""
    names = list(cursors)
    ref = cursors[names[0]]
    sample, t = 0, ref.first_time
    while t is not None and (pair := ref.around(t)) is not None:
        (t_ref, image), (_, following) = pair
        sample_times[sample] = t_ref - t0
        yield _Look(names[0], sample, t_ref - t0, image, following, board)
        for name in names[1:]:
            other = cursors[name].around(t_ref)
            if other is not None and abs(other[0][0] - t_ref) <= min(cursors[name].period_s, ref.period_s) / 2:
                yield _Look(name, sample, other[0][0] - t0, other[0][1], other[1][1], board)
        sample, t = sample + 1, t_ref + step_s


def _fresh(looks: Iterator[_Look], copies: dict) -> Iterator[_Look]:
    """The looks whose picture changed since the camera's last look sent for inspection; the
    others are noted in ``copies`` ((camera, sample) -> (sample copied, time s)): a still scene
    (an empty room, a board held still) is inspected once, not at every sample."""
    last: dict[str, tuple[int, np.ndarray]] = {}
    for look in looks:
        small = cv2.resize(look.image, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.int16)
        previous = last.get(look.camera)
        if previous is not None and np.abs(small - previous[1]).max() < UNCHANGED_GREY:
            copies[(look.camera, look.sample)] = (previous[0], look.time_s)
            continue
        last[look.camera] = (look.sample, small)
        yield look


def _with_copies(views: dict[str, list[SampledView]], copies: dict) -> None:
    """Add the views of the looks skipped as unchanged, from the look they copy."""
    found = {(v.camera, v.sample): v for seen in views.values() for v in seen}
    for (camera, sample), (source, time_s) in copies.items():
        if (camera, source) in found:
            view = found[(camera, source)]
            views[camera].append(SampledView(camera, sample, time_s, view.detection, view.motion_px, view.blur_px))
    for seen in views.values():
        seen.sort(key=lambda v: v.sample)


def scan_recording(frames: dict[str, FrameSource], board, together: bool, options: ScanOptions = ScanOptions(),
                   progress=_noop, total_frames: int | None = None) -> Scan:
    """Look for the still board in every camera's frames (see the module). ``together``: the
    cameras are sampled at the same instants (positions); else each alone (intrinsics).
    ``total_frames``: all cameras' frames, for progress. Pure; uses worker processes."""
    cursors = {name: _Cursor(source) for name, source in frames.items()}
    starts = [c.first_time for c in cursors.values() if c.first_time is not None]
    t0 = min(starts) if starts else 0.0
    sample_times: dict[int, float] = {}
    if together:
        looks = _looks_together(cursors, t0, board, options.step_s, sample_times)
    else:
        looks = chain.from_iterable(_looks_alone(n, c, t0, board, options.step_s) for n, c in cursors.items())
    views: dict[str, list[SampledView]] = {name: [] for name in frames}
    sizes: dict[str, tuple[int, int]] = {}
    copies: dict[tuple[str, int], tuple[int, float]] = {}
    for look, (det, motion, blur, size) in run_tasks(_inspect, _fresh(looks, copies), options.workers):
        sizes.setdefault(look.camera, size)
        if det is not None:
            views[look.camera].append(SampledView(look.camera, look.sample, look.time_s, det, motion, blur))
        done = sum(c.read for c in cursors.values())
        progress(done, max(total_frames or 0, done), "detection")
    for cursor in cursors.values():
        cursor.drain()
    _with_copies(views, copies)
    return Scan(views, {n: c.read for n, c in cursors.items()}, sizes, sample_times)


def intrinsic_views(scan: Scan, camera: str, options: ScanOptions = ScanOptions()) -> list[SampledView]:
    """The camera's usable views at new positions, in time order."""
    kept: list[SampledView] = []
    width = scan.sizes.get(camera, (1, 1))[0]
    for view in scan.views.get(camera, []):
        if view.usable(options) and is_new_view(view.detection, [k.detection for k in kept], width):
            kept.append(view)
    return kept


def moments(scan: Scan, options: ScanOptions = ScanOptions(), floor_window_s: tuple[float, float] | None = None
            ) -> tuple[dict[str, dict[str, Detection]], dict[str, Detection] | None]:
    """Moments (label -> camera -> detection) where two or more cameras see the board still
    together at a new position, and the floor view: inside ``floor_window_s`` (s from the start
    of the recording), the usable sample seen by the most cameras (the latest of equals)."""
    by_sample: dict[int, dict[str, Detection]] = {}
    for views in scan.views.values():
        for view in views:
            if view.usable(options):
                by_sample.setdefault(view.sample, {})[view.camera] = view.detection
    widths = {n: size[0] for n, size in scan.sizes.items()}
    found: dict[str, dict[str, Detection]] = {}
    floor: dict[str, Detection] | None = None
    for sample in sorted(by_sample):
        seen, t = by_sample[sample], scan.sample_times[sample]
        if floor_window_s is not None and floor_window_s[0] <= t <= floor_window_s[1]:
            if floor is None or len(seen) >= len(floor):
                floor = seen
        elif len(seen) >= 2 and is_new_moment(seen, list(found.values()), widths):
            found[f"t{t:08.3f}"] = seen
    return found, floor


def _nothing_found(scan: Scan, board, names: list[str]) -> None:
    """CalibrationError when the board was found in no frame of any of ``names``."""
    if not any(scan.views.get(n) for n in names):
        counts = ", ".join(f"{n} {scan.frames.get(n, 0)}" for n in names)
        raise CalibrationError(f"no {board.describe()} in the recording (frames read: {counts}): record the "
                               f"board again, whole and still in front of the cameras, or check the board settings "
                               f"(inner corners, columns x rows)")


def intrinsics_from_recording(frames: dict[str, FrameSource], board, options: ScanOptions = ScanOptions(),
                              progress=_noop, total_frames: int | None = None) -> dict[str, IntrinsicsResult]:
    """Each camera's intrinsics from its own frames (the board shown to one camera at a time).

    ``frames``: camera name -> (capture time s, picture) in time order. Raises
    CalibrationError when the board is in no frame, or a camera has too few usable views.
    """
    scan = scan_recording(frames, board, False, options, progress, total_frames)
    _nothing_found(scan, board, list(frames))
    results = {}
    for name in frames:
        views = intrinsic_views(scan, name, options)
        if not views:
            raise CalibrationError(f"camera {name}: the board is never still and sharp in its {scan.frames[name]} "
                                   f"frames: hold it still for a second at each position")
        progress(len(results), len(frames), f"intrinsics {name}")
        results[name] = calibrate_intrinsics([v.detection for v in views], board, name, scan.sizes[name],
                                             [v.label for v in views])
    return results


def extrinsics_from_recording(frames: dict[str, FrameSource], intrinsics: CameraGroup, board,
                              floor_window_s: tuple[float, float] | None = None, refine_intrinsics: bool = False,
                              options: ScanOptions = ScanOptions(), progress=_noop,
                              total_frames: int | None = None) -> ExtrinsicsResult:
    """Every camera's pose from frames where the board is shown to several cameras together.

    ``intrinsics``: every camera of ``frames`` (a previous calibration's poses are ignored).
    ``floor_window_s``: (start, end) s from the start of the recording where the board lies on
    the floor (the world origin); without it, the first moment's board is the origin.
    """
    missing = [n for n in frames if n not in intrinsics.names]
    if missing:
        raise CalibrationError(f"camera {', '.join(missing)} has no intrinsics: calibrate it first")
    scan = scan_recording(frames, board, True, options, progress, total_frames)
    _nothing_found(scan, board, list(frames))
    found, floor = moments(scan, options, floor_window_s)
    if not found:
        raise CalibrationError("the board is never still in two or more cameras at once: record it again, held "
                               "still for a second where two or more cameras see it")
    if floor_window_s is not None and floor is None:
        raise CalibrationError(f"no still board between {floor_window_s[0]:g} s and {floor_window_s[1]:g} s of the "
                               f"recording: lay it flat on the floor where a camera sees it, and give its time")
    detections: dict[str, dict[str, Detection]] = {n: {} for n in frames}
    for label, seen in ({**found, "floor": floor} if floor else found).items():
        for name, det in seen.items():
            detections[name][label] = det
    logger.info("recording: %d moments%s from %s frames", len(found), " and the floor" if floor else "", scan.frames)
    return calibrate_extrinsics(intrinsics.subset(list(frames)), detections, board,
                                floor_moment="floor" if floor else None, refine_intrinsics=refine_intrinsics,
                                progress=progress)


# --------------------------------------------------------------------------- take folders


def take_cameras(take_dir: Path) -> list[str]:
    """The cameras of a take folder: one ``<camera>.<ext>`` video each, sorted by name."""
    take_dir = Path(take_dir)
    if not take_dir.is_dir():
        raise CalibrationError(f"{take_dir}: not a folder")
    names = sorted(p.stem for p in take_dir.iterdir()
                   if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and ".part" not in p.name)
    if not names:
        raise CalibrationError(f"{take_dir}: no camera video (<camera>.mp4): not a take")
    return names


def _video(take_dir: Path, camera: str) -> Path:
    for path in sorted(Path(take_dir).glob(f"{camera}.*")):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return path
    raise CalibrationError(f"{take_dir}: no video for camera {camera}")


def take_times(take_dir: Path, camera: str) -> np.ndarray | None:
    """Capture times (s, host monotonic clock) of the camera's frames from ``<camera>.timestamps.csv``,
    None without that file."""
    path = Path(take_dir) / f"{camera}.timestamps.csv"
    if not path.is_file():
        return None
    try:
        with open(path, newline="") as fh:
            return np.array([int(row["monotonic_ns"]) for row in csv.DictReader(fh)], dtype=np.int64) / 1e9
    except (OSError, KeyError, ValueError, TypeError):
        raise CalibrationError(f"{path}: not a VSION timestamps file (frame,pts,monotonic_ns,...)") from None


def take_frames(take_dir: Path, camera: str) -> Iterator[tuple[float, np.ndarray]]:
    """(capture time s, grayscale frame) of one camera of a take, in order. Times come from the
    timestamps file (one row per frame written), else from the video's own clock."""
    import av  # only needed for videos

    path = _video(take_dir, camera)
    times = take_times(take_dir, camera)
    if times is None:
        logger.warning("%s: no timestamps file, using the video's clock", path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise CalibrationError(f"{path}: not a readable video ({getattr(exc, 'strerror', exc)})") from None
    with container:
        if not container.streams.video:
            raise CalibrationError(f"{path}: no video stream")
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if times is not None and i >= len(times):
                logger.warning("%s: more frames than timestamps (%d), the rest is ignored", path, len(times))
                return
            yield (float(times[i]) if times is not None else float(frame.time or 0.0)), frame.to_ndarray(format="gray")


def _take_sources(take_dir: Path, cameras: list[str] | None) -> tuple[dict[str, Iterator], int]:
    names = cameras or take_cameras(take_dir)
    counts = [take_times(take_dir, n) for n in names]
    total = sum(len(c) for c in counts if c is not None)
    return {n: take_frames(take_dir, n) for n in names}, total


def intrinsics_from_take(take_dir: Path, board, cameras: list[str] | None = None,
                         options: ScanOptions = ScanOptions(), progress=_noop) -> dict[str, IntrinsicsResult]:
    """:func:`intrinsics_from_recording` on a take folder (``cameras``: default all of its videos)."""
    sources, total = _take_sources(take_dir, cameras)
    return intrinsics_from_recording(sources, board, options, progress, total)


def extrinsics_from_take(take_dir: Path, intrinsics: CameraGroup, board,
                         floor_window_s: tuple[float, float] | None = None, refine_intrinsics: bool = False,
                         options: ScanOptions = ScanOptions(), progress=_noop) -> ExtrinsicsResult:
    """:func:`extrinsics_from_recording` on every camera video of a take folder."""
    sources, total = _take_sources(take_dir, None)
    return extrinsics_from_recording(sources, intrinsics, board, floor_window_s, refine_intrinsics, options,
                                     progress, total)
