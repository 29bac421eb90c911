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
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.camera import CameraGroup

from . import exports, filtering, metrics, pose2d, sync
from .interest import Choice, PeopleError, WorkArea, checked_hint, select_person, work_area_for
from .landmarks import N_JOINTS
from .people import People, reconstruct_people
from .tracking import DEFAULT_TRACKING, TrackingOptions
from .triangulate import DEFAULT_MIN_SCORE, Triangulation

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
SYNC_METHODS = ("auto", "timestamps", "none")
SIZE_TOLERANCE = 0.02  # a video may differ from its calibrated size by 2 % (encoder padding or crop)
PERSON_CSV = re.compile(r"pose3d_p[0-9]+\.csv")


class ProcessError(ValueError):
    """A take or keypoints file that cannot be processed; the message says why and what to do."""


def _noop(done, total, stage):
    pass


@dataclass(frozen=True)
class Options:
    """Processing settings. ``sync`` None: timestamps when the take has them, else auto.
    ``cutoff_hz`` None disables the low-pass filter (gap filling stays). ``work_area`` the floor
    rectangle (x0, y0, x1, y1) m where the worker stands (None: the one saved with the
    calibration, else the middle of the calibrated volume, see
    :func:`reconstruction.interest.work_area_for`); ``person`` the id of the person of interest
    when the user chose them (None: the one in the work area); ``person_hint`` where a person the
    user chose stood, rows (time s on the take's timeline, x m, y m): the person found there is
    the worker (:func:`reconstruction.interest.nearest_to_hint`; ``person`` comes first)."""

    sync: str | None = None
    cutoff_hz: float | None = filtering.DEFAULT_CUTOFF_HZ
    max_gap: int = filtering.DEFAULT_MAX_GAP
    min_score: float = DEFAULT_MIN_SCORE
    workers: int | None = None
    nice: int = 0
    work_area: tuple[float, float, float, float] | None = None
    person: int | None = None
    tracking: TrackingOptions = DEFAULT_TRACKING
    person_hint: tuple[tuple[float, float, float], ...] | None = None


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


@dataclass(frozen=True, eq=False)
class Outcome:
    """Everything a command writes: the keypoints, the person of interest's 3D (F, 33, 3) m and
    raw triangulation, everybody, the choice of the worker and the report."""

    kp: exports.Keypoints2D
    points: np.ndarray
    triangulation: Triangulation
    people: People
    choice: Choice
    report: dict


def _nobody(C: int, F: int) -> tuple[np.ndarray, Triangulation]:
    """The 3D of a take where nobody was reconstructed: every joint missing."""
    return np.full((F, N_JOINTS, 3), np.nan), Triangulation(
        points=np.full((F, N_JOINTS, 3), np.nan), inliers=np.zeros((C, F, N_JOINTS), bool),
        errors=np.full((C, F, N_JOINTS), np.nan, np.float32), swapped=np.zeros((C, F), bool),
        rejected=np.zeros((C, F), bool))


def _work_area(group: CameraGroup, options: Options) -> WorkArea | None:
    """The caller's work area, else the calibration's (saved, or its default; None if it has none)."""
    if options.work_area is None:
        return work_area_for(group)[0]
    try:
        return WorkArea.checked(options.work_area)
    except PeopleError as exc:
        raise ProcessError(str(exc)) from None


def choose_worker(people: People, group: CameraGroup, options: Options, fps: float) -> tuple[Choice, WorkArea | None]:
    """The person of interest among ``people`` (see :func:`reconstruction.interest.select_person`)."""
    area = _work_area(group, options)
    try:
        hint = checked_hint(options.person_hint) if options.person_hint is not None else None
        choice = select_person({p.id: p.floor() for p in people.people}, area, fps, options.person, hint)
    except PeopleError as exc:
        raise ProcessError(str(exc)) from None
    return choice, area


def people_report(people: People, choice: Choice, area: WorkArea | None, cameras: list[str], fps: float) -> dict:
    """The report's ``people`` section, also the content of ``people.json``."""
    problems = [*choice.problems, *people.problems(cameras, fps)]
    listing = []
    for person in people.people:
        entry = person.summary(fps)
        entry["person_of_interest"] = person.id == choice.person
        entry["in_work_area_pct"] = choice.in_area_pct.get(person.id)
        entry["file"] = f"pose3d_p{person.id}.csv"
        listing.append(entry)
    return {"count": len(people.people), "person_of_interest": choice.person, "selection": choice.reason,
            "work_area": area.as_list() if area is not None else None, "people": listing,
            "problems": [p.as_dict() for p in problems]}


def _reconstruct(kp: exports.Keypoints2D, group: CameraGroup, options: Options, progress,
                 timings: dict) -> tuple[People, Choice, WorkArea | None]:
    """Everybody's 3D from the keypoints' people, and the person of interest."""
    progress(0, 1, "triangulation")
    points, scores = kp.people()
    try:
        people = reconstruct_people(group, points, scores, kp.fps, min_score=options.min_score,
                                    cutoff_hz=options.cutoff_hz, max_gap=options.max_gap,
                                    tracking=options.tracking, timings=timings)
    except ValueError as exc:
        raise ProcessError(str(exc)) from None
    progress(1, 1, "triangulation")
    choice, area = choose_worker(people, group, options, kp.fps)
    return people, choice, area


def reconstruct(kp: exports.Keypoints2D, group: CameraGroup, options: Options, progress=_noop,
                timings: dict | None = None, alignment: sync.Alignment | None = None,
                warnings: list[str] | None = None) -> Outcome:
    """Everybody's 3D, the person of interest and the report, from aligned keypoints.

    With a person axis (``kp.points_people``), the outcome's keypoints keep every person and
    their ``points`` / ``scores`` become the person of interest's detections.
    """
    timings = {} if timings is None else timings
    people, choice, area = _reconstruct(kp, group, options, progress, timings)
    C, F = len(kp.cameras), kp.n_frames
    if choice.person is None:
        points, tri = _nobody(C, F)
    else:
        worker = people.by_id(choice.person)
        points, tri = worker.points, worker.triangulation
        if kp.points_people is not None:
            kp = exports.Keypoints2D(points=worker.points2d, scores=worker.scores2d, cameras=kp.cameras, fps=kp.fps,
                                     offsets=kp.offsets, points_people=kp.points_people,
                                     scores_people=kp.scores_people)
    section = people_report(people, choice, area, list(kp.cameras), kp.fps)
    report = build_report(kp, group, points, tri, options, alignment, timings,
                          [*(warnings or []), *(p["message"] for p in section["problems"])])
    report["people"] = section
    return Outcome(kp, points, tri, people, choice, report)


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


def _stale(out_dir: Path, written: set[str]) -> list[Path]:
    """Per-person outputs of an earlier run in ``out_dir`` that this run does not replace."""
    return [path for path in out_dir.iterdir() if path.name not in written
            and (path.name == "people.json" or PERSON_CSV.fullmatch(path.name))]


def write_outputs(out_dir: Path, kp: exports.Keypoints2D, points: np.ndarray, report: dict,
                  keypoints: bool = True, people: dict[int, np.ndarray] | None = None,
                  people_json: dict | None = None) -> dict[str, Path]:
    """Write every output into a staging folder, then move them all into ``out_dir``.

    ``people`` (person id -> (F, 33, 3) m) and ``people_json`` add ``pose3d_p<id>.csv`` and
    ``people.json``; those of an earlier run that this one does not write are removed.
    """
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
        for person, trajectory in (people or {}).items():
            exports.write_pose3d_csv(stage / f"pose3d_p{person}.csv", trajectory, kp.fps)
        if people_json is not None:
            exports.write_json(stage / "people.json", people_json)
        exports.write_json(stage / "report.json", report)
        written = {}
        for path in sorted(stage.iterdir()):
            os.replace(path, out_dir / path.name)
            written[path.name] = out_dir / path.name
        for path in _stale(out_dir, set(written)):
            path.unlink(missing_ok=True)
        return written
    except OSError as exc:
        raise ProcessError(f"{out_dir}: cannot write the outputs ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_outcome(out_dir: Path, outcome: Outcome, keypoints: bool = True, people_files: bool = True
                  ) -> dict[str, Path]:
    """:func:`write_outputs` of an :class:`Outcome`; ``people_files``: also every person's
    ``pose3d_p<N>.csv`` and ``people.json`` (a take's processing always writes them, one person
    included, so that its people can be listed and its worker chosen again)."""
    kp = outcome.kp
    if not people_files:
        return write_outputs(out_dir, kp, outcome.points, outcome.report, keypoints)
    people_json = {"fps": kp.fps, "frames": kp.n_frames, "cameras": list(kp.cameras), **outcome.report["people"]}
    return write_outputs(out_dir, kp, outcome.points, outcome.report, keypoints,
                         {p.id: p.points for p in outcome.people.people}, people_json)


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, eq=False)
class _Take:
    """A take checked for processing: its videos, calibrated cameras, synchronization method,
    frame times (timestamps method), rate and warnings."""

    folder: Path
    group: CameraGroup
    method: str
    infos: dict[str, pose2d.VideoInfo]
    times: dict[str, np.ndarray]
    fps: float
    warnings: list[str]


def _prepare(take_dir: Path, group: CameraGroup, options: Options) -> _Take:
    """Check the take's videos, calibration and synchronization before any work."""
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
    return _Take(take_dir, group, method, infos, times, fps, warnings)


def camera_people(keypoints: pose2d.CameraKeypoints) -> tuple[np.ndarray, np.ndarray]:
    """One camera's 2D people (P, F, 33, 2) px / (P, F, 33): its person axis when the 2D pose
    gives one (``points_people`` / ``scores_people``), else its one person."""
    people = getattr(keypoints, "points_people", None)
    if people is not None:
        return np.asarray(people, np.float32), np.asarray(keypoints.scores_people, np.float32)
    return keypoints.points[None], keypoints.scores[None]


def _synchronize(take: _Take, people: list[tuple[np.ndarray, np.ndarray]], options: Options) -> sync.Alignment:
    """The take's alignment by its method (``people``: each camera's raw 2D people)."""
    lengths = [p.shape[1] for p, _ in people]
    try:
        if take.method == "timestamps":
            return sync.timestamp_alignment([take.times[n] for n in take.group.names], take.fps)
        if take.method == "auto":
            return sync.auto_alignment(take.group, [p for p, _ in people], [s for _, s in people], take.fps,
                                       options.min_score)
        return sync.identity_alignment(lengths)
    except ValueError as exc:
        raise ProcessError(f"synchronization failed: {exc}") from None


def aligned_keypoints(names: list[str], people: list[tuple[np.ndarray, np.ndarray]], alignment: sync.Alignment,
                      fps: float) -> exports.Keypoints2D:
    """Every camera's 2D people put on the aligned frames; a person axis only if some camera has several."""
    P = max(p.shape[0] for p, _ in people)
    points, scores = [], []
    for c, (p, s) in enumerate(people):
        pad = P - p.shape[0]
        points.append(np.pad(sync.apply_alignment(p.swapaxes(0, 1), alignment.index[c], np.nan).swapaxes(0, 1),
                             ((0, pad),) + ((0, 0),) * 3, constant_values=np.nan))
        scores.append(np.pad(sync.apply_alignment(s.swapaxes(0, 1), alignment.index[c], 0.0).swapaxes(0, 1),
                             ((0, pad),) + ((0, 0),) * 2))
    points, scores = np.stack(points).astype(np.float32), np.stack(scores).astype(np.float32)
    extra = {} if P == 1 else {"points_people": points, "scores_people": scores}
    return exports.Keypoints2D(points=points[:, 0], scores=scores[:, 0], cameras=tuple(names), fps=fps,
                               offsets=alignment.offsets.astype(np.int64), **extra)


def process_take(take_dir, group: CameraGroup, out_dir, options: Options = Options(), progress=_noop) -> dict:
    """2D pose on every camera video of ``take_dir``, synchronization, association of the people,
    triangulation, filtering, exports and report. Returns the report. Raises ProcessError on bad input."""
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    take = _prepare(Path(take_dir), group, options)
    names = take.group.names
    t0 = time.perf_counter()
    try:
        raw = pose2d.estimate_videos({n: take.infos[n] for n in names}, workers=options.workers,
                                     progress=progress, nice=options.nice)
    except pose2d.PoseError as exc:
        raise ProcessError(str(exc)) from None
    timings["pose2d"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    progress(0, 1, "sync")
    people = [camera_people(raw[n]) for n in names]
    alignment = _synchronize(take, people, options)
    kp = aligned_keypoints(names, people, alignment, take.fps)
    progress(1, 1, "sync")
    timings["sync"] = round(time.perf_counter() - t0, 3)
    if kp.n_frames == 0:
        raise ProcessError(f"{take.folder}: the cameras have no frame in common")
    outcome = reconstruct(kp, take.group, options, progress, timings, alignment, take.warnings)
    outcome.report["take"] = str(take.folder)
    timings["total"] = round(time.perf_counter() - t_start, 3)  # up to the exports, which take well under 1 s
    progress(0, 1, "exports")
    write_outcome(out_dir, outcome)
    progress(1, 1, "exports")
    return outcome.report


def triangulate_file(npz_path, group: CameraGroup, out_dir, options: Options = Options(), progress=_noop) -> dict:
    """3D reconstruction from a ``keypoints2d.npz`` alone (its person axis when it has one); writes the
    3D outputs, the per-person ones with a person axis, and the report."""
    t_start = time.perf_counter()
    try:
        kp = exports.load_keypoints(npz_path)
    except exports.ExportError as exc:
        raise ProcessError(str(exc)) from None
    if kp.points.shape[2] != N_JOINTS:
        raise ProcessError(f"{npz_path}: expected {N_JOINTS} joints per frame")
    sub = cameras_for(group, list(kp.cameras), str(npz_path))
    order = [list(kp.cameras).index(n) for n in sub.names]
    people = {} if kp.points_people is None else {"points_people": kp.points_people[order],
                                                  "scores_people": kp.scores_people[order]}
    kp = exports.Keypoints2D(points=kp.points[order], scores=kp.scores[order], cameras=tuple(sub.names),
                             fps=kp.fps, offsets=kp.offsets[order], **people)
    timings: dict[str, float] = {}
    outcome = reconstruct(kp, sub, options, progress, timings)
    outcome.report["keypoints"] = str(npz_path)
    timings["total"] = round(time.perf_counter() - t_start, 3)
    progress(0, 1, "exports")
    write_outcome(out_dir, outcome, keypoints=False, people_files=kp.points_people is not None)
    progress(1, 1, "exports")
    return outcome.report


def choose_again(out_dir, group: CameraGroup, options: Options, progress=_noop) -> dict:
    """Choose the person of interest of a processed take again (``options.person`` or
    ``person_hint``), from the outputs in ``out_dir`` alone: its ``keypoints2d.npz`` gives the same
    people as before (same ids), and every output is written again for the new worker. The
    report keeps the take's synchronization and the timings of its 2D pose. Returns the report;
    ProcessError when ``out_dir`` holds no keypoints of a processed take."""
    out_dir = Path(out_dir)
    npz = out_dir / "keypoints2d.npz"
    if not npz.is_file():
        raise ProcessError(f"{out_dir}: no keypoints2d.npz: process the take first")
    try:
        kp = exports.load_keypoints(npz)
        before = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (exports.ExportError, OSError, ValueError) as exc:
        raise ProcessError(f"{out_dir}: the earlier outputs cannot be read ({exc})") from None
    sub = cameras_for(group, list(kp.cameras), str(npz))
    if list(sub.names) != list(kp.cameras):
        raise ProcessError(f"{npz}: its cameras ({', '.join(kp.cameras)}) are not in the calibration's order")
    t_start = time.perf_counter()
    timings = {k: v for k, v in (before.get("timings_s") or {}).items() if k in ("pose2d", "sync")}
    outcome = reconstruct(kp, sub, options, progress, timings)
    for key in ("sync", "take"):
        if key in before:
            outcome.report[key] = before[key]
    timings["total"] = round(sum(timings.get(k, 0.0) for k in ("pose2d", "sync")) + time.perf_counter() - t_start, 3)
    progress(0, 1, "exports")
    write_outcome(out_dir, outcome)
    progress(1, 1, "exports")
    return outcome.report
