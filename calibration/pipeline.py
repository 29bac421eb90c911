"""Whole calibration runs from files: what the command line (and batch jobs) call.

``progress(done, total, stage)`` is called as views are processed: tqdm on the command
line, Socket.IO events in the UI. The board is looked for in every view on a pool of worker
processes (:mod:`calibration.parallel`) with :func:`~calibration.detect.find_board`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.camera import CameraGroup
from calibration.detect import Detection, find_board
from calibration.extrinsics import ExtrinsicsResult, calibrate_extrinsics, redo_positions
from calibration.images import camera_sources, count_views, list_images, load_views, read_image
from calibration.intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics
from calibration.parallel import run_tasks

logger = logging.getLogger(__name__)


def _noop(done, total, stage):
    pass


@dataclass(frozen=True, eq=False)
class _View:
    """One picture to search: read from ``path`` by the worker, or given as ``image`` (video frames)."""

    camera: str
    label: str
    board: object
    path: Path | None = None
    image: np.ndarray | None = None


def _detect_view(view: _View) -> tuple[Detection | None, tuple[int, int]]:
    """The board in one view (worker side), and the view's size (width, height) px."""
    image = read_image(view.path) if view.path is not None else view.image
    return find_board(image, view.board), (image.shape[1], image.shape[0])


def _views(source: Path, camera: str, board) -> Iterator[_View]:
    """The views of a folder of images (read by the workers) or of a video (decoded here)."""
    source = Path(source)
    if source.is_dir():
        for path in list_images(source):
            yield _View(camera, path.stem, board, path=path)
    else:
        for label, image in load_views(source):
            yield _View(camera, label, board, image=image)


def detect_views(views, what: str, progress=_noop, done: int = 0, total: int | None = None,
                 workers: int | None = None) -> tuple[dict[str, dict[str, Detection | None]], dict[str, tuple]]:
    """Detections per camera and label of ``views`` (:class:`_View`), and each camera's image size.

    Views of one camera must share one size (else CalibrationError naming the odd view).
    ``workers``: processes (default: the usable cores; 1 = here, in order).
    """
    found: dict[str, dict[str, Detection | None]] = {}
    sizes: dict[str, tuple[tuple[int, int], str]] = {}
    for view, (det, size) in run_tasks(_detect_view, views, workers):
        first = sizes.setdefault(view.camera, (size, view.label))
        if first[0] != size:
            raise CalibrationError(f"{what}: images of different sizes: {view.label} is {size[0]}x{size[1]}, "
                                   f"{first[1]} is {first[0][0]}x{first[0][1]}; use one resolution")
        found.setdefault(view.camera, {})[view.label] = det
        done += 1
        progress(done, total or done, "detection")
    return {n: dict(sorted(d.items())) for n, d in found.items()}, {n: s for n, (s, _) in sizes.items()}


def intrinsics_from_source(source: Path, name: str, board, progress=_noop, workers: int | None = None
                           ) -> IntrinsicsResult:
    """Detect ``board`` in every view of ``source`` (image folder or video) and calibrate camera ``name``."""
    found, sizes = detect_views(_views(source, name, board), str(source), progress, total=count_views(source),
                                workers=workers)
    views = found.get(name, {})
    if not any(views.values()):
        raise CalibrationError(f"{source}: no {board.describe()} found in {len(views)} views: check the board size "
                               f"(inner corners, columns x rows) and that the whole board is visible")
    return calibrate_intrinsics(list(views.values()), board, name, sizes[name], list(views))


def _frame_sources(frames_dir: Path, names: list[str]) -> dict[str, Path]:
    """Each camera's sub-folder or video in ``frames_dir``; CalibrationError for unknown or missing cameras."""
    sources = camera_sources(frames_dir)
    unknown = sorted(set(sources) - set(names))
    if unknown:
        raise CalibrationError(f"{frames_dir}: unknown camera {', '.join(unknown)} (the intrinsics file has "
                               f"{', '.join(names)})")
    missing = [n for n in names if n not in sources]
    if missing:
        raise CalibrationError(f"{frames_dir}: no views for camera {', '.join(missing)}")
    return sources


def frame_views(frames_dir: Path, names: list[str], board) -> Iterator[_View]:
    """The views of every camera ``names`` in ``frames_dir`` (one sub-folder of images or one
    video per camera, see ``calibrate extrinsics``), read lazily; checked at once."""
    sources = _frame_sources(frames_dir, names)
    return (view for n in names for view in _views(sources[n], n, board))


def detections_from_frames(frames_dir: Path, names: list[str], board, progress=_noop, workers: int | None = None
                           ) -> tuple[dict[str, dict[str, Detection]], dict[str, tuple[int, int]]]:
    """Board detections per camera and moment from ``frames_dir`` (see ``calibrate extrinsics``)."""
    sources = _frame_sources(frames_dir, names)
    total = sum(count_views(sources[n]) or 0 for n in names)
    found, sizes = detect_views(frame_views(frames_dir, names, board), str(frames_dir), progress, total=total,
                                workers=workers)
    detections = {}
    for n in names:
        detections[n] = {label: det for label, det in found.get(n, {}).items() if det is not None}
        if not detections[n]:
            raise CalibrationError(f"camera {n}: no {board.describe()} found in its {len(found.get(n, {}))} views")
    return detections, sizes


def extrinsics_from_frames(frames_dir: Path, intrinsics: CameraGroup, board, floor: str | None = None,
                           refine_intrinsics: bool = False, progress=_noop, workers: int | None = None
                           ) -> ExtrinsicsResult:
    """Detect the board in every camera's synchronized views and calibrate all poses together.

    ``intrinsics``: each camera's intrinsics (a previous calibration's poses are ignored: this
    is also "cameras moved: redo positions" when ``refine_intrinsics`` is False).
    """
    detections, _ = detections_from_frames(frames_dir, intrinsics.names, board, progress, workers)
    return calibrate_extrinsics(intrinsics, detections, board, floor_moment=_floor_label(detections, floor),
                                refine_intrinsics=refine_intrinsics, progress=progress)


def _floor_label(detections: dict, floor: str | None) -> str | None:
    if floor is None and any("floor" in d for d in detections.values()):
        return "floor"
    return floor


def positions_from_frames(frames_dir: Path, calibration: CameraGroup, board, floor: str | None = None,
                          progress=_noop, workers: int | None = None) -> ExtrinsicsResult:
    """"Cameras moved: redo positions" from a folder of synchronized views (see
    :func:`extrinsics_from_frames`): the intrinsics of ``calibration`` are kept
    (:func:`~calibration.extrinsics.redo_positions`)."""
    detections, _ = detections_from_frames(frames_dir, calibration.names, board, progress, workers)
    return redo_positions(calibration, detections, board, floor_moment=_floor_label(detections, floor),
                          progress=progress)
