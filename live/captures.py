"""The calibration wizard's captures at the main stream's resolution.

A camera with a preview sub-stream (``preview_url``) shows the wizard its low-resolution
pictures: enough to see the board and to tell that it is still, not to calibrate. A capture
(an intrinsic view, a moment, the floor, a check) is therefore made on the camera's next
full-resolution picture (:meth:`capture.group.VideoProcessor.full_frame`, which starts at the
main stream's next keyframe). That picture comes a little later than the live one: its board
must be where the live picture saw it (corner motion below :func:`still_limit_px`), else the
capture is left out; so the board is still in every view of a moment, whatever the keyframes'
timing. A camera without a sub-stream is captured from the live picture itself, as before.

Thread-safe: each call decodes with its own reformatter.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from av.video.reformatter import VideoReformatter

from calibration.detect import Detection, detect_board, find_board
from calibration.views import corner_motion_px

logger = logging.getLogger(__name__)

FULL_FRAME_TIMEOUT_S = 4.0  # a full-resolution picture waits for the main stream's next keyframe
STILL_FRACTION = 0.0015  # corner motion between two looks, as a fraction of the image width
MIN_STILL_PX = 1.5


def still_limit_px(width: int, scale: float = 1.0) -> float:
    """Largest mean corner motion (px) of a still board in a picture ``width`` px wide; a live
    detection scaled up by ``scale`` from a sub-stream carries that much more rounding."""
    return max(MIN_STILL_PX, STILL_FRACTION * width) + max(0.0, scale - 1.0)


def scaled(det: Detection, sx: float, sy: float) -> Detection:
    """``det`` in the pixels of a picture ``sx`` x ``sy`` times larger (a sub-stream's board on the
    main stream's picture)."""
    if sx == 1.0 and sy == 1.0:
        return det
    size = (round(det.image_size[0] * sx), round(det.image_size[1] * sy))
    return replace(det, corners=det.corners * np.array([sx, sy]), image_size=size)


def live_scale(processor, index: int, live_size: tuple[int, int]) -> tuple[float, float]:
    """(sx, sy): the main stream's size over the live pictures' size ``live_size`` (width, height)
    px; (1, 1) for a camera without a sub-stream or whose main stream is not known yet."""
    full = processor.stream_size(index) if processor.has_substream(index) else None
    if not full or not live_size[0] or not live_size[1]:
        return 1.0, 1.0
    return full[0] / live_size[0], full[1] / live_size[1]


def full_picture(processor, index: int, timeout: float = FULL_FRAME_TIMEOUT_S) -> np.ndarray | None:
    """Camera ``index``'s newest full-resolution picture as grayscale (None when none comes in
    ``timeout`` s): its latest live picture without a sub-stream, else its main stream's next."""
    frame = processor.full_frame(index, timeout)
    return frame.gray(VideoReformatter()) if frame is not None else None


def detect_now(processor, index: int, board, thorough: bool = True) -> tuple[np.ndarray | None, Detection | None]:
    """(full-resolution gray picture, the board in it or None) of camera ``index`` now.
    ``thorough``: every detector (one camera, a button); else the batch detector with its quick
    rejection (every camera at once)."""
    gray = full_picture(processor, index)
    if gray is None:
        return None, None
    return gray, (detect_board(gray, board, thorough=True) if thorough else find_board(gray, board))


def detect_all_now(processor, board, cameras: list[int]) -> dict[int, tuple[np.ndarray, Detection]]:
    """The board found now by each of ``cameras`` (indices), looked for at once on each:
    index -> (full-resolution gray picture, detection); cameras that do not see it are left out."""
    if not cameras:
        return {}
    with ThreadPoolExecutor(max_workers=len(cameras), thread_name_prefix="calibration-look") as pool:
        found = dict(zip(cameras, pool.map(lambda i: detect_now(processor, i, board, thorough=False), cameras)))
    return {i: (gray, det) for i, (gray, det) in found.items() if det is not None}


def confirm(processor, index: int, board, gray: np.ndarray, det: Detection) -> tuple[np.ndarray, Detection] | None:
    """The capture of camera ``index`` whose live picture ``gray`` shows the still board ``det``:
    that picture itself without a sub-stream; else the next full-resolution picture, when its
    board is still where the live one was (None otherwise)."""
    if not processor.has_substream(index):
        return gray, det
    sx, sy = live_scale(processor, index, (gray.shape[1], gray.shape[0]))
    full = full_picture(processor, index)
    if full is None:
        logger.info("calibration: camera %d gave no full-resolution picture in time", index)
        return None
    found = detect_board(full, board, thorough=False) or find_board(full, board)
    if found is None:
        return None
    motion = corner_motion_px(scaled(det, sx, sy), found)
    if motion > still_limit_px(full.shape[1], max(sx, sy)):
        logger.info("calibration: camera %d's board moved %.1f px before its full-resolution picture", index, motion)
        return None
    return full, found


def confirm_all(processor, board, views: dict[int, tuple[np.ndarray, Detection]]
                ) -> dict[int, tuple[np.ndarray, Detection]]:
    """:func:`confirm` for the cameras of one moment, at once (each waits for its own keyframe)."""
    if not any(processor.has_substream(i) for i in views):
        return dict(views)
    with ThreadPoolExecutor(max_workers=len(views), thread_name_prefix="calibration-capture") as pool:
        done = dict(zip(views, pool.map(lambda i: confirm(processor, i, board, *views[i]), views)))
    return {i: view for i, view in done.items() if view is not None}
