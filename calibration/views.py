"""Which board views are worth keeping: a new position, a still board, a sharp picture.

One rule set for the live wizard and for calibration from a recording. Pure functions of
detections (px) and pictures; thread-safe.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from calibration.detect import Detection, to_gray

logger = logging.getLogger(__name__)

NEW_POSITION = 0.05  # mean corner shift (fraction of the image width) that makes a view new
NEW_SHAPE = 0.03  # change of the board's apparent shape (tilt) that makes a view new
STILL_PX = 1.0  # mean corner motion (px) between neighbouring frames of a still board
MAX_BLUR_PX = 2.5  # edge blur (Gaussian sigma, px, see edge_blur_px) beyond which a view is not sharp


def _shape(corners: np.ndarray) -> np.ndarray:
    centred = corners - corners.mean(axis=0)
    return centred / np.sqrt((centred ** 2).sum(axis=1).mean())


def common_corners(a: Detection, b: Detection) -> tuple[np.ndarray, np.ndarray]:
    """The corners (K, 2) px both detections found, in the same order (ChArUco views may be partial)."""
    if np.array_equal(a.ids, b.ids):
        return a.corners, b.corners
    _, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
    return a.corners[ia], b.corners[ib]


def is_new_view(det: Detection, previous: list[Detection], width: int) -> bool:
    """True unless a previous detection has the board at about the same place and tilt.

    Same place: the corners moved less than ``NEW_POSITION`` of the image ``width`` (px) on
    average; same tilt: the board's normalised shape changed less than ``NEW_SHAPE``.
    """
    for other in previous:
        mine, theirs = common_corners(det, other)
        if len(mine) < 4:
            continue
        shift = np.linalg.norm(mine - theirs, axis=1).mean() / width
        shape = np.linalg.norm(_shape(mine) - _shape(theirs), axis=1).mean()
        if shift < NEW_POSITION and shape < NEW_SHAPE:
            return False
    return True


def is_new_moment(views: dict[str, Detection], previous: list[dict[str, Detection]], widths: dict[str, int]) -> bool:
    """True unless a previous moment has every camera it shares with ``views`` seeing the board
    at about the same place and tilt (:func:`is_new_view`). ``widths``: image width (px) per camera."""
    for moment in previous:
        common = [n for n in views if n in moment]
        if common and not any(is_new_view(views[n], [moment[n]], widths[n]) for n in common):
            return False
    return True


def corner_motion_px(before: Detection, after: Detection) -> float:
    """Mean motion (px) of the corners both detections found; inf with fewer than 4 in common."""
    a, b = common_corners(before, after)
    return float(np.linalg.norm(a - b, axis=1).mean()) if len(a) >= 4 else float("inf")


def tracked_motion_px(image: np.ndarray, following: np.ndarray, det: Detection) -> float:
    """Mean motion (px) of ``det``'s corners from ``image`` to the ``following`` frame, tracked by
    pyramidal Lucas-Kanade optical flow (a detection of its own would cost ten times more);
    inf when a corner is lost."""
    start = det.corners.astype(np.float32).reshape(-1, 1, 2)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(to_gray(image), to_gray(following), start, None,
                                                winSize=(15, 15), maxLevel=2,
                                                criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    if moved is None or not status.all():
        return float("inf")
    return float(np.linalg.norm((moved - start).reshape(-1, 2), axis=1).mean())


def edge_blur_px(image: np.ndarray, det: Detection) -> float:
    """Blur of the board's edges, as the sigma (px) of a Gaussian blur: the step between the
    board's dark and light squares divided by sqrt(2 pi) times its steepest gradient.

    Independent of contrast and of the squares' size. Measured on rendered boards: about
    sqrt(b^2 + 0.7^2) for a picture blurred by b px (pixels and the gradient filter blur a
    little too): 0.9 px for a sharp picture, 2.2 px for b = 2 px.
    """
    gray = to_gray(image)
    hull = cv2.convexHull(det.corners.astype(np.float32)).reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(hull.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.ceil(hull.max(axis=0)).astype(int) + 3
    patch = gray[y0:y1, x0:x1].astype(np.float32)
    mask = np.zeros(patch.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.rint(hull - (x0, y0)).astype(np.int32), 1)
    inside = mask.astype(bool)
    if inside.sum() < 16:
        return float("inf")
    gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0, ksize=3) / 8  # the Sobel kernel weighs 8 x the derivative
    gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1, ksize=3) / 8
    steepest = np.percentile(np.hypot(gx, gy)[inside], 99)
    dark, light = np.percentile(patch[inside], (5, 95))
    return float((light - dark) / (np.sqrt(2 * np.pi) * max(float(steepest), 1e-6)))
