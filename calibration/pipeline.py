"""Whole calibration runs from files: what the command line (and batch jobs) call.

``progress(done, total, stage)`` is called as views are processed: tqdm on the command
line, Socket.IO events in the UI.
"""
from __future__ import annotations

from pathlib import Path

from calibration.camera import CameraGroup
from calibration.detect import Detection, detect_board
from calibration.extrinsics import ExtrinsicsResult, calibrate_extrinsics
from calibration.images import camera_sources, count_views, load_views
from calibration.intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics


def _noop(done, total, stage):
    pass


def _detect_all(views, board, what: str, progress, done: int = 0, total: int | None = None):
    """Labels, detections and the common image size of ``views``; stops at the first odd size."""
    labels, detections, size = [], [], None
    for label, image in views:
        shape = (image.shape[1], image.shape[0])
        if size is None:
            size, first = shape, label
        elif shape != size:
            raise CalibrationError(f"{what}: images of different sizes: {label} is {shape[0]}x{shape[1]}, "
                                   f"{first} is {size[0]}x{size[1]}; use one resolution")
        labels.append(label)
        detections.append(detect_board(image, board))
        done += 1
        progress(done, total or done, "detection")
    return labels, detections, size


def intrinsics_from_source(source: Path, name: str, board, progress=_noop) -> IntrinsicsResult:
    """Detect ``board`` in every view of ``source`` (image folder or video) and calibrate camera ``name``."""
    labels, detections, size = _detect_all(load_views(source), board, str(source), progress,
                                           total=count_views(source))
    if not any(detections):
        raise CalibrationError(f"{source}: no {board.describe()} found in {len(labels)} views: check the board size "
                               f"(inner corners, columns x rows) and that the whole board is visible")
    return calibrate_intrinsics(detections, board, name, size, labels)


def detections_from_frames(frames_dir: Path, names: list[str], board,
                           progress=_noop) -> tuple[dict[str, dict[str, Detection]], dict[str, tuple[int, int]]]:
    """Board detections per camera and moment from ``frames_dir`` (see ``calibrate extrinsics``)."""
    sources = camera_sources(frames_dir)
    unknown = sorted(set(sources) - set(names))
    if unknown:
        raise CalibrationError(f"{frames_dir}: unknown camera {', '.join(unknown)} (the intrinsics file has "
                               f"{', '.join(names)})")
    missing = [n for n in names if n not in sources]
    if missing:
        raise CalibrationError(f"{frames_dir}: no views for camera {', '.join(missing)}")
    total, done = sum(count_views(sources[n]) for n in names), 0
    detections, sizes = {}, {}
    for n in names:
        labels, found, sizes[n] = _detect_all(load_views(sources[n]), board, f"{frames_dir}/{n}", progress, done, total)
        done += len(labels)
        detections[n] = {label: det for label, det in zip(labels, found) if det is not None}
        if not detections[n]:
            raise CalibrationError(f"camera {n}: no {board.describe()} found in its {len(labels)} views")
    return detections, sizes


def extrinsics_from_frames(frames_dir: Path, intrinsics: CameraGroup, board, floor: str | None = None,
                           refine_intrinsics: bool = False, progress=_noop) -> ExtrinsicsResult:
    """Detect the board in every camera's synchronized views and calibrate all poses together."""
    detections, _ = detections_from_frames(frames_dir, intrinsics.names, board, progress)
    if floor is None and any("floor" in d for d in detections.values()):
        floor = "floor"
    return calibrate_extrinsics(intrinsics, detections, board, floor_moment=floor,
                                refine_intrinsics=refine_intrinsics,
                                progress=lambda stage, fraction: progress(fraction, 1.0, stage))
