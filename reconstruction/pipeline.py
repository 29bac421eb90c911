"""From a take folder (or 2D keypoints) to the contract's outputs: the ``process`` and
``triangulate`` commands, and the background processing of takes.

Everything is checked before anything is written; outputs are written into a staging folder
inside ``out_dir`` and moved into place together at the end, so a failure never leaves a
half-written result. Progress goes through one callback ``progress(done, total, stage)``.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.camera import CameraGroup

from . import exports, filtering, metrics, pose2d, sync
from .landmarks import N_JOINTS
from .triangulate import DEFAULT_MIN_SCORE, Triangulation, triangulate

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
SYNC_METHODS = ("auto", "timestamps", "none")
SIZE_TOLERANCE = 0.02  # a video may differ from its calibrated size by 2 % (encoder padding or crop)
OUTPUT_FILES = ("keypoints2d.npz", "pose3d.csv", "pose3d.trc", "pose3d.c3d", "report.json")


class ProcessError(ValueError):
    """A take or keypoints file that cannot be processed; the message says why and what to do."""


def _noop(done, total, stage):
    pass


@dataclass(frozen=True)
class Options:
    """Processing settings. ``sync`` None: timestamps when the take has them, else auto.
    ``cutoff_hz`` None disables the low-pass filter (gap filling stays)."""

    sync: str | None = None
    cutoff_hz: float | None = filtering.DEFAULT_CUTOFF_HZ
    max_gap: int = filtering.DEFAULT_MAX_GAP
    min_score: float = DEFAULT_MIN_SCORE
    workers: int | None = None
    nice: int = 0


# --------------------------------------------------------------------------- inputs

def take_videos(take_dir: Path) -> dict[str, Path]:
    """Camera name -> video file of a take folder (``<camera>.<ext>``)."""
    take_dir = Path(take_dir)
    if not take_dir.is_dir():
        raise ProcessError(f"{take_dir}: not a folder")
    videos = {}
    for path in sorted(take_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and ".part" not in path.name:
            if path.stem in videos:
                raise ProcessError(f"{take_dir}: two videos for camera {path.stem}")
            videos[path.stem] = path
    if not videos:
        raise ProcessError(f"{take_dir}: no camera video (expected <camera>.mp4 files): the take is empty")
    info = take_dir / "take.json"
    if info.is_file():
        try:
            status = json.loads(info.read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            raise ProcessError(f"{info}: not a readable take description") from None
        if status == "recording":
            raise ProcessError(f"{take_dir}: the take is still being recorded; stop it first")
    return videos


def cameras_for(group: CameraGroup, names: list[str], source: str) -> CameraGroup:
    """The calibrated cameras named ``names``, in calibration order; every name must be calibrated."""
    missing = [n for n in names if n not in group.names]
    if missing:
        raise ProcessError(f"{source}: camera {', '.join(missing)} is not in the calibration "
                           f"(it has {', '.join(group.names)}); calibrate it or remove its video")
    chosen = [cam for cam in group.cameras if cam.name in names]
    if len(chosen) < 2:
        raise ProcessError(f"{source}: at least two calibrated cameras are needed, found {len(chosen)}")
    return CameraGroup(chosen, dict(group.metadata))


def read_timestamps(path: Path) -> np.ndarray:
    """Arrival times (ns, monotonic clock) of the frames listed in ``<camera>.timestamps.csv``."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return np.array([int(r["monotonic_ns"]) for r in rows], dtype=np.int64)
    except (OSError, KeyError, ValueError, TypeError):
        raise ProcessError(f"{path}: not a VSION timestamps file (frame,pts,monotonic_ns,wall_time_ns)") from None


def _check_videos(infos: dict[str, pose2d.VideoInfo], group: CameraGroup, method: str) -> list[str]:
    """Clear errors for videos that cannot be aligned or do not match their calibration; warnings."""
    warnings = []
    rates = {n: i.fps for n, i in infos.items()}
    ref = next(iter(rates.values()))
    if method != "timestamps" and any(abs(r - ref) > 0.01 * ref for r in rates.values()):
        listing = ", ".join(f"{n} {r:g} fps" for n, r in rates.items())
        raise ProcessError(f"the videos have different frame rates ({listing}); record them at one rate")
    counts = {n: i.frames for n, i in infos.items()}
    if method == "none" and len(set(counts.values())) > 1:
        listing = ", ".join(f"{n} {c}" for n, c in counts.items())
        raise ProcessError(f"the videos have different lengths ({listing} frames); "
                           "use --sync auto (or timestamps) to align them")
    for cam in group.cameras:
        info = infos[cam.name]
        w, h = cam.size
        if (info.width, info.height) != (w, h):
            if abs(info.width - w) > SIZE_TOLERANCE * w or abs(info.height - h) > SIZE_TOLERANCE * h:
                raise ProcessError(f"{cam.name}: the video is {info.width}x{info.height} but the camera was "
                                   f"calibrated at {w}x{h}; recalibrate it at this resolution")
            warnings.append(f"{cam.name}: video {info.width}x{info.height}, calibrated at {w}x{h}")
    return warnings


# --------------------------------------------------------------------------- reconstruction

def reconstruct(kp: exports.Keypoints2D, group: CameraGroup, options: Options, progress=_noop,
                timings: dict | None = None) -> tuple[np.ndarray, Triangulation]:
    """Triangulate, remove spikes, fill gaps and low-pass: (F, 33, 3) m and the raw triangulation."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    progress(0, 1, "triangulation")
    tri = triangulate(group, kp.points, kp.scores, min_score=options.min_score)
    t1 = time.perf_counter()
    progress(1, 1, "triangulation")
    progress(0, 1, "filtering")
    points = filtering.fill_gaps(filtering.remove_spikes(tri.points), options.max_gap)
    if options.cutoff_hz is not None and kp.n_frames >= 4:
        try:
            points = filtering.lowpass(points, kp.fps, options.cutoff_hz)
        except ValueError as exc:
            raise ProcessError(str(exc)) from None
    progress(1, 1, "filtering")
    timings["triangulation"] = round(t1 - t0, 3)
    timings["filtering"] = round(time.perf_counter() - t1, 3)
    return points, tri


def build_report(kp: exports.Keypoints2D, group: CameraGroup, points: np.ndarray, tri: Triangulation,
                 options: Options, alignment: sync.Alignment | None, timings: dict, warnings: list[str]) -> dict:
    """The ``report.json`` content (see the contract)."""
    errors = metrics.reprojection_errors(group, points, kp.points, tri.inliers)
    seen = (kp.scores >= options.min_score) & np.isfinite(kp.points).all(axis=-1)
    errors_seen = metrics.reprojection_errors(group, points, kp.points, seen)
    variation = metrics.segment_variation(points)
    used = errors[np.isfinite(errors)]
    return {
        "cameras": list(kp.cameras),
        "frames": int(kp.n_frames),
        "fps": float(kp.fps),
        "reprojection_px": metrics.median_per_camera(errors, list(kp.cameras)),
        "median_reprojection_px": float(np.median(used)) if used.size else None,
        # Over every detection above the score threshold, the outliers the triangulation set aside included.
        "median_reprojection_all_px": float(np.nanmedian(errors_seen)) if np.isfinite(errors_seen).any() else None,
        "sync": {
            "method": alignment.method if alignment else "given",
            "offsets": {n: int(o) for n, o in zip(kp.cameras, kp.offsets)},
            "score": {n: float(s) for n, s in zip(kp.cameras, alignment.score)} if alignment else None,
        },
        "reconstructed_pct": metrics.reconstructed_percent(points),
        "reconstructed_raw_pct": metrics.reconstructed_percent(tri.points),
        "segments": variation,
        "mean_segment_cv_pct": metrics.mean_segment_cv(variation),
        "views_unswapped": int(tri.swapped.sum()),
        "views_rejected": int(tri.rejected.sum()),
        "filter": {"cutoff_hz": options.cutoff_hz, "max_gap_frames": options.max_gap, "min_score": options.min_score},
        "timings_s": timings,
        "warnings": warnings,
    }


def write_outputs(out_dir: Path, kp: exports.Keypoints2D, points: np.ndarray, report: dict,
                  keypoints: bool = True) -> dict[str, Path]:
    """Write every output into a staging folder, then move them all into ``out_dir``."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    except OSError as exc:
        raise ProcessError(f"{out_dir}: cannot write there ({exc.strerror or exc})") from None
    try:
        if keypoints:
            exports.save_keypoints(stage / "keypoints2d.npz", kp)
        exports.write_pose3d_csv(stage / "pose3d.csv", points, kp.fps)
        exports.write_trc(stage / "pose3d.trc", points, kp.fps)
        exports.write_c3d(stage / "pose3d.c3d", points, kp.fps)
        exports.write_json(stage / "report.json", report)
        written = {}
        for name in OUTPUT_FILES:
            if (stage / name).is_file():
                os.replace(stage / name, out_dir / name)
                written[name] = out_dir / name
        return written
    except OSError as exc:
        raise ProcessError(f"{out_dir}: cannot write the outputs ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# --------------------------------------------------------------------------- commands

def process_take(take_dir, group: CameraGroup, out_dir, options: Options = Options(), progress=_noop) -> dict:
    """2D pose on every camera video of ``take_dir``, synchronization, triangulation, filtering,
    exports and report. Returns the report. Raises ProcessError on bad input."""
    take_dir = Path(take_dir)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    videos = take_videos(take_dir)
    group = cameras_for(group, list(videos), str(take_dir))
    names = group.names
    stamps = {n: take_dir / f"{n}.timestamps.csv" for n in names}
    method = options.sync or ("timestamps" if all(p.is_file() for p in stamps.values()) else "auto")
    if method not in SYNC_METHODS:
        raise ProcessError(f"unknown synchronization {method!r}: use one of {', '.join(SYNC_METHODS)}")
    try:
        infos = {n: pose2d.probe_video(videos[n]) for n in names}
    except pose2d.PoseError as exc:
        raise ProcessError(str(exc)) from None
    times = {}
    if method == "timestamps":
        for n in names:
            if not stamps[n].is_file():
                raise ProcessError(f"{stamps[n]}: missing; use --sync auto for videos recorded elsewhere")
            times[n] = read_timestamps(stamps[n])[:infos[n].frames]
            if len(times[n]) == 0:
                raise ProcessError(f"{stamps[n]}: no frame: the take is empty")
    warnings = _check_videos(infos, group, method)
    fps = float(np.median([infos[n].fps for n in names]))

    t0 = time.perf_counter()
    try:
        raw = pose2d.estimate_videos({n: infos[n] for n in names}, workers=options.workers,
                                     progress=progress, nice=options.nice)
    except pose2d.PoseError as exc:
        raise ProcessError(str(exc)) from None
    timings["pose2d"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    progress(0, 1, "sync")
    lengths = [raw[n].points.shape[0] for n in names]
    try:
        if method == "timestamps":
            alignment = sync.timestamp_alignment([times[n] for n in names], fps)
        elif method == "auto":
            speeds = [sync.keypoint_speed(raw[n].points, raw[n].scores, fps) for n in names]
            max_lag = sync.default_max_lag(lengths, fps)
            alignment = sync.auto_offsets(speeds, max_lag)
            if len(names) >= 3:
                alignment = sync.geometric_offsets(group, [raw[n].points for n in names],
                                                   [raw[n].scores for n in names], alignment.offsets, max_lag,
                                                   options.min_score)
        else:
            alignment = sync.identity_alignment(lengths)
    except ValueError as exc:
        raise ProcessError(f"synchronization failed: {exc}") from None
    points = np.stack([sync.apply_alignment(raw[n].points, alignment.index[c], np.nan) for c, n in enumerate(names)])
    scores = np.stack([sync.apply_alignment(raw[n].scores, alignment.index[c], 0.0) for c, n in enumerate(names)])
    kp = exports.Keypoints2D(points=points.astype(np.float32), scores=scores.astype(np.float32), cameras=tuple(names),
                             fps=fps, offsets=alignment.offsets.astype(np.int64))
    progress(1, 1, "sync")
    timings["sync"] = round(time.perf_counter() - t0, 3)
    if kp.n_frames == 0:
        raise ProcessError(f"{take_dir}: the cameras have no frame in common")

    points3d, tri = reconstruct(kp, group, options, progress, timings)
    report = build_report(kp, group, points3d, tri, options, alignment, timings, warnings)
    report["take"] = str(take_dir)
    timings["total"] = round(time.perf_counter() - t_start, 3)  # up to the exports, which take well under 1 s
    progress(0, 1, "exports")
    write_outputs(out_dir, kp, points3d, report)
    progress(1, 1, "exports")
    return report


def triangulate_file(npz_path, group: CameraGroup, out_dir, options: Options = Options(), progress=_noop) -> dict:
    """3D reconstruction from a ``keypoints2d.npz`` alone; writes the 3D outputs and the report."""
    t_start = time.perf_counter()
    try:
        kp = exports.load_keypoints(npz_path)
    except exports.ExportError as exc:
        raise ProcessError(str(exc)) from None
    if kp.points.shape[2] != N_JOINTS:
        raise ProcessError(f"{npz_path}: expected {N_JOINTS} joints per frame")
    sub = cameras_for(group, list(kp.cameras), str(npz_path))
    order = [list(kp.cameras).index(n) for n in sub.names]
    kp = exports.Keypoints2D(points=kp.points[order], scores=kp.scores[order], cameras=tuple(sub.names),
                             fps=kp.fps, offsets=kp.offsets[order])
    timings: dict[str, float] = {}
    points3d, tri = reconstruct(kp, sub, options, progress, timings)
    report = build_report(kp, sub, points3d, tri, options, None, timings, [])
    report["keypoints"] = str(npz_path)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    progress(0, 1, "exports")
    write_outputs(out_dir, kp, points3d, report, keypoints=False)
    progress(1, 1, "exports")
    return report
