"""Reading calibration views: a folder of images, a video, or one of either per camera.

Every error is a :class:`~calibration.intrinsics.CalibrationError` with a message that names
the file or folder and says what to do.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from calibration.intrinsics import CalibrationError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm"}
MAX_VIDEO_VIEWS = 120


def list_images(folder: Path) -> list[Path]:
    """Image files of ``folder`` sorted by name (CalibrationError if there are none)."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise CalibrationError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CalibrationError(f"{path}: not a readable image")
    return image


def video_frames(path: Path, max_views: int = MAX_VIDEO_VIEWS) -> Iterator[tuple[str, np.ndarray]]:
    """(label, grayscale frame) for at most ``max_views`` frames spread evenly over a video."""
    import av  # only needed for videos

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise CalibrationError(f"{path}: not a readable video ({getattr(exc, 'strerror', exc)})") from None
    with container:
        stream = container.streams.video[0] if container.streams.video else None
        if stream is None:
            raise CalibrationError(f"{path}: no video stream")
        total = stream.frames or 0
        step = max(1, total // max_views) if total else 1
        for i, frame in enumerate(container.decode(stream)):
            if i % step == 0:
                yield f"f{i:06d}", frame.to_ndarray(format="gray")


def load_views(source: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(label, grayscale image) views from a folder of images or a video file."""
    source = Path(source)
    if source.is_dir():
        for path in list_images(source):
            yield path.stem, read_image(path)
    elif source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        yield from video_frames(source)
    elif source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
        raise CalibrationError(f"{source}: give the folder holding the images, not one image")
    else:
        raise CalibrationError(f"{source}: neither a folder of images nor a video ({', '.join(sorted(VIDEO_SUFFIXES))})")


def camera_sources(frames_dir: Path) -> dict[str, Path]:
    """Per camera name, its sub-folder of images or its video ``<camera>.<ext>`` in ``frames_dir``."""
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise CalibrationError(f"{frames_dir}: not a folder")
    sources = {}
    for entry in sorted(frames_dir.iterdir()):
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES):
            name = entry.name if entry.is_dir() else entry.stem
            if name in sources:
                raise CalibrationError(f"{frames_dir}: camera {name} has both a folder and a video; keep one")
            sources[name] = entry
    if not sources:
        raise CalibrationError(f"{frames_dir}: no camera sub-folder or video (one per camera, named like the camera)")
    return sources


def count_views(source: Path) -> int | None:
    """How many views :func:`load_views` will give (None when a video does not say)."""
    source = Path(source)
    if source.is_dir():
        return len(list_images(source))
    import av

    try:
        with av.open(str(source)) as container:
            total = container.streams.video[0].frames if container.streams.video else 0
    except (av.FFmpegError, OSError):
        return None
    return min(total, MAX_VIDEO_VIEWS) if total else None
