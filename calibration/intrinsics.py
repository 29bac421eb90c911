"""Intrinsic calibration of one camera from views of a board.

OpenCV's ``calibrateCamera`` (Zhang's method with Levenberg-Marquardt refinement) on the
views where the board was found, with iterative rejection of outlier views: the worst view
is dropped while its error is far above the others'. The principal point and five lens
terms are estimated (k3 only with enough views). The result carries RMS, per-view errors
and image coverage; too few views or views that leave parts of the image uncovered are
refused with a message that tells the technician what to do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.camera import Camera
from calibration.detect import Detection

MIN_VIEWS = 6
MIN_COVERAGE = 0.35  # fraction of the image's 8 x 6 cells holding a corner
COVERAGE_GRID = (8, 6)
K3_MIN_VIEWS = 12


class CalibrationError(ValueError):
    """Calibration refused; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class ViewResult:
    """One input view: its label, whether the board was found and used, and its RMS error (px)."""

    label: str
    found: bool
    used: bool
    error_px: float | None


@dataclass(frozen=True, eq=False)
class IntrinsicsResult:
    """A camera's intrinsics (pose left at zero) and how well they fit.

    ``rms_px``: reprojection RMS over the used views; ``coverage``: fraction of the image's
    cells (``COVERAGE_GRID``) where corners were seen; ``coverage_map``: corner counts per
    cell, shape (rows, cols) of the grid.
    """

    camera: Camera
    rms_px: float
    views: tuple[ViewResult, ...]
    coverage: float
    coverage_map: np.ndarray
    rvecs: tuple = field(default=())
    tvecs: tuple = field(default=())

    @property
    def used(self) -> int:
        return sum(v.used for v in self.views)

    def summary(self) -> dict:
        cam = self.camera
        return {
            "camera": cam.name, "size": list(cam.size), "rms_px": round(self.rms_px, 4),
            "views": len(self.views), "found": sum(v.found for v in self.views), "used": self.used,
            "rejected": [v.label for v in self.views if v.found and not v.used],
            "coverage": round(self.coverage, 3),
            "fx": cam.matrix[0, 0], "fy": cam.matrix[1, 1], "cx": cam.matrix[0, 2], "cy": cam.matrix[1, 2],
            "distortions": cam.dist.tolist(),
        }


def intrinsics_to_json(result: IntrinsicsResult) -> dict:
    """``result`` as plain JSON values (for a job's report); :func:`intrinsics_from_json` reads it back."""
    cam = result.camera
    return {"name": cam.name, "size": list(cam.size), "matrix": cam.matrix.tolist(), "dist": cam.dist.tolist(),
            "rms_px": float(result.rms_px), "coverage": float(result.coverage),
            "coverage_map": np.asarray(result.coverage_map).tolist(),
            "views": [[v.label, bool(v.found), bool(v.used), v.error_px] for v in result.views]}


def intrinsics_from_json(data: dict) -> IntrinsicsResult:
    """The :class:`IntrinsicsResult` of :func:`intrinsics_to_json`'s ``data`` (ValueError when malformed)."""
    try:
        camera = Camera(str(data["name"]), tuple(data["size"]), data["matrix"], data["dist"])
        views = tuple(ViewResult(str(label), bool(found), bool(used), None if error is None else float(error))
                      for label, found, used, error in data["views"])
        return IntrinsicsResult(camera, float(data["rms_px"]), views, float(data["coverage"]),
                                np.asarray(data["coverage_map"], dtype=int))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an intrinsics result ({exc})") from None


def coverage_map(detections: list[Detection], image_size: tuple[int, int],
                 grid: tuple[int, int] = COVERAGE_GRID) -> np.ndarray:
    """Corner counts per image cell: (grid rows, grid cols) int array."""
    w, h = image_size
    counts = np.zeros((grid[1], grid[0]), int)
    for det in detections:
        gx = np.clip((det.corners[:, 0] / w * grid[0]).astype(int), 0, grid[0] - 1)
        gy = np.clip((det.corners[:, 1] / h * grid[1]).astype(int), 0, grid[1] - 1)
        np.add.at(counts, (gy, gx), 1)
    return counts


def _per_view_rms(obj, img, rvecs, tvecs, K, dist) -> np.ndarray:
    errors = []
    for o, i, r, t in zip(obj, img, rvecs, tvecs):
        proj, _ = cv2.projectPoints(o, r, t, K, dist)
        errors.append(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - i.reshape(-1, 2)) ** 2, axis=1))))
    return np.array(errors)


def calibrate_intrinsics(detections: list[Detection | None], board, name: str, image_size: tuple[int, int],
                         labels: list[str] | None = None, min_views: int = MIN_VIEWS,
                         min_coverage: float = MIN_COVERAGE, outlier_factor: float = 3.0,
                         outlier_floor_px: float = 0.5) -> IntrinsicsResult:
    """Calibrate camera ``name`` from board detections (None where the board was not found).

    ``image_size`` is (width, height) px. A view is rejected while its RMS error exceeds
    ``outlier_factor`` x the median of the others and ``outlier_floor_px``. Raises
    :class:`CalibrationError` with too few views or too little coverage.
    """
    labels = labels or [str(i) for i in range(len(detections))]
    found = [i for i, d in enumerate(detections) if d is not None]
    sizes = {detections[i].image_size for i in found}
    if sizes - {tuple(image_size)}:
        raise CalibrationError(f"camera {name}: views of different sizes {sorted(sizes)}: use one resolution")
    if len(found) < min_views:
        raise CalibrationError(
            f"camera {name}: the board was found in {len(found)} of {len(detections)} views, at least {min_views} "
            f"are needed: show the whole board to the camera, still, from more positions")
    counts = coverage_map([detections[i] for i in found], image_size)
    coverage = float(np.count_nonzero(counts)) / counts.size
    if coverage < min_coverage:
        raise CalibrationError(
            f"camera {name}: the corners cover {coverage:.0%} of the image, at least {min_coverage:.0%} is needed: "
            f"show the board near the edges and corners of the picture too")

    obj = {i: detections[i].object_points(board).astype(np.float32) for i in found}
    img = {i: detections[i].corners.astype(np.float32).reshape(-1, 1, 2) for i in found}
    used = list(found)
    while True:
        flags = 0 if len(used) >= K3_MIN_VIEWS else cv2.CALIB_FIX_K3
        rms, K, dist, rvecs, tvecs = cv2.calibrateCamera([obj[i] for i in used], [img[i] for i in used],
                                                         tuple(image_size), None, None, flags=flags)
        errors = _per_view_rms([obj[i] for i in used], [img[i] for i in used], rvecs, tvecs, K, dist)
        worst = int(np.argmax(errors))
        others = np.delete(errors, worst)
        limit = max(outlier_factor * np.median(others), outlier_floor_px)
        if len(used) <= min_views or errors[worst] <= limit:
            break
        del used[worst]
    view_error = dict(zip(used, errors))
    views = tuple(ViewResult(labels[i], detections[i] is not None, i in view_error,
                             float(view_error[i]) if i in view_error else None) for i in range(len(detections)))
    dist = dist.reshape(-1)[:5]
    camera = Camera(name, tuple(image_size), K, dist)
    return IntrinsicsResult(camera, float(rms), views, coverage, counts, tuple(rvecs), tuple(tvecs))
