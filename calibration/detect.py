"""Board detection on real, imperfect images, with a corner order that never flips.

Checkerboards are found with ``findChessboardCornersSB`` (robust to blur, noise and low
contrast), falling back to the classic detector refined with ``cornerSubPix``. Whatever
the detector, the corners are then put in the board's canonical order (see
:mod:`calibration.boards`): right-handed (the board is always seen from its printed side)
and, for boards whose colours fix the orientation, starting at the corner whose first
square is black. A flipped order between two images or two cameras would make the
reprojection error jump from 0.1 px to tens of px, so this is checked on every image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from calibration.boards import CharucoBoard, Checkerboard

CLASSIC_FLAGS = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
MIN_CHARUCO_CORNERS = 6
# Saddle strengths (see _saddle_points), measured on the synthetic studio: a checkerboard
# corner's is >= 0.2 at a steep angle or with 2 px of blur (>= 0.06 with 3 px), while the
# background's strongest few dozen stay under 0.05 and half the pictures without a board have
# fewer than 43 saddles over 0.03.
SADDLE_ANY = 0.03  # a picture with fewer saddles than REGION_SHARE of the corners has no board
SADDLE_STRENGTH = 0.1  # the saddles that make board-like regions
MAX_SADDLES = 2000
SADDLE_WIDTH_PX = 700  # saddles are looked for on the picture reduced to at most this size (blur scales with size)
REGION_SHARE = 0.8  # a region holds at least this share of the board's corners
REGION_MARGIN_PX = 16  # around a region, beyond 1.5 corner spacings (the outer squares)
MAX_REGIONS = 3


@dataclass(frozen=True, eq=False)
class Detection:
    """Board corners found in one image.

    ``corners`` (N, 2) float64 px and ``ids`` (N,) int: corner ``ids[k]`` of the board (its
    object point is ``board.object_points()[ids[k]]``). A checkerboard gives all corners in
    order; a ChArUco board may give a subset. ``image_size`` is (width, height) px.
    """

    corners: np.ndarray
    ids: np.ndarray
    image_size: tuple[int, int]
    method: str

    def object_points(self, board) -> np.ndarray:
        return board.object_points()[self.ids]


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


def detect_board(image: np.ndarray, board: Checkerboard | CharucoBoard, thorough: bool = True) -> Detection | None:
    """Find ``board`` in a BGR or grayscale image; None when it is not (fully) visible.

    ``thorough=False`` tries only the fast detector (~30 ms at 1280x720): for live previews.
    """
    gray = to_gray(image)
    size = (gray.shape[1], gray.shape[0])
    if isinstance(board, CharucoBoard):
        return _detect_charuco(gray, board, size)
    corners, method = _find_checkerboard(gray, board.pattern_size, thorough)
    if corners is None:
        return None
    corners = canonical_order(corners, gray, board)
    return Detection(corners, np.arange(board.n_corners), size, method)


def find_board(image: np.ndarray, board: Checkerboard | CharucoBoard) -> Detection | None:
    """Find ``board`` in a picture of a batch (folders, videos, recordings); None when it is not there.

    1. Quick rejection: a picture with fewer checkerboard-corner saddles than most of the
       board's corners (even blurred by 3 px) has no board (~10 ms at 1280x720).
    2. The fast detector on the whole picture (~50 ms).
    3. When it fails, the sector-based and classic detectors again, but only on the board-like
       regions of the picture (clusters of strong saddles): a board at a steep angle, or
       whose outer squares the picture's border cuts.

    A picture without a board thus costs a few tens of ms, against 1-2 s for
    :func:`detect_board`'s thorough search over the whole picture. On the synthetic studio it
    finds every board :func:`detect_board` finds (``bench/calibration.py``). Thread-safe.
    """
    gray = to_gray(image)
    if isinstance(board, CharucoBoard):
        return _detect_charuco(gray, board, (gray.shape[1], gray.shape[0]))
    points, strength = _saddle_points(gray)
    if len(points) < REGION_SHARE * board.n_corners:
        return None  # not even a blurred board's worth of corners: the quick rejection
    found = detect_board(gray, board, thorough=False)
    if found is not None:
        return found
    regions = _board_regions(points, gray.shape, board.n_corners)
    for x0, y0, x1, y1 in regions:
        corners = _find_in_crop(gray[y0:y1, x0:x1], board.pattern_size)
        if corners is not None:
            return _detection(gray, board, _refine(gray, corners + (x0, y0), board.pattern_size), "region")
    if regions:  # a board-like region, but its crop misled the detectors: the exhaustive search
        corners = _exhaustive(gray, board.pattern_size)
        if corners is not None:
            return _detection(gray, board, _refine(gray, corners, board.pattern_size), "sb")
    return None


def _detection(gray: np.ndarray, board: Checkerboard, corners: np.ndarray, method: str) -> Detection:
    return Detection(canonical_order(corners, gray, board), np.arange(board.n_corners),
                     (gray.shape[1], gray.shape[0]), method)


def _exhaustive(gray: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """Corners (N, 2) px from the sector-based detector's exhaustive search on ``gray`` reduced
    to at most ~1000 px, in ``gray``'s pixels; None if not found."""
    scale = max(1, int(np.ceil(max(gray.shape) / 1000)))
    small = gray if scale == 1 else cv2.resize(gray, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    ok, corners = cv2.findChessboardCornersSB(small, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE)
    # A pixel centre x of the reduced picture is at scale * x + (scale - 1) / 2 in the full one.
    return corners.reshape(-1, 2).astype(np.float64) * scale + (scale - 1) / 2 if ok else None


def _saddle_points(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saddle points (the checkerboard-corner response, -det of the Hessian) of the contrast-
    normalised picture reduced to at most ``SADDLE_WIDTH_PX``, from ``SADDLE_ANY`` up: (K, 2) px
    in the full picture and (K,) strengths, strongest first."""
    scale = max(1, int(np.ceil(max(gray.shape) / SADDLE_WIDTH_PX)))
    small = cv2.resize(gray, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    lo, hi = np.percentile(small, (1, 99))
    x = cv2.GaussianBlur((small.astype(np.float32) - lo) / max(float(hi - lo), 1.0), (0, 0), 1.0)
    dxx = cv2.Sobel(x, cv2.CV_32F, 2, 0, ksize=3)
    dyy = cv2.Sobel(x, cv2.CV_32F, 0, 2, ksize=3)
    dxy = cv2.Sobel(x, cv2.CV_32F, 1, 1, ksize=3)
    saddle = dxy * dxy - dxx * dyy
    ys, xs = np.nonzero((saddle == cv2.dilate(saddle, np.ones((3, 3), np.uint8))) & (saddle >= SADDLE_ANY))
    order = np.argsort(-saddle[ys, xs])[:MAX_SADDLES]
    return np.stack([xs[order], ys[order]], axis=1) * scale + (scale - 1) / 2, saddle[ys[order], xs[order]]


def _board_regions(points: np.ndarray, shape: tuple[int, int], n_corners: int) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` px, largest first, in a picture of ``shape`` (height, width),
    around clusters of the saddle ``points`` (K, 2) px holding most of a board's corners.

    Two saddles are linked when each is within 1.5 spacings of the other, a point's spacing
    being the distance to its second nearest saddle (a board corner's grid neighbours), so
    clusters follow the board whatever the size of its squares; lone saddles of the
    background stay apart.
    """
    if len(points) < REGION_SHARE * n_corners:
        return []
    tree = cKDTree(points)
    spacing = tree.query(points, k=3)[0][:, 2]
    near = tree.query_ball_point(points, r=1.5 * spacing)
    a = np.repeat(np.arange(len(points)), [len(n) for n in near])
    b = np.concatenate(near).astype(int)
    mutual = np.linalg.norm(points[a] - points[b], axis=1) <= 1.5 * spacing[b]
    graph = coo_matrix((np.ones(int(mutual.sum())), (a[mutual], b[mutual])), shape=(len(points),) * 2)
    _, labels = connected_components(graph, directed=False)
    h, w = shape
    boxes = []
    for label in _grid_like(labels, spacing, n_corners)[:MAX_REGIONS]:
        mine = points[labels == label]
        margin = REGION_MARGIN_PX + 1.5 * float(np.median(spacing[labels == label]))
        (x0, y0), (x1, y1) = mine.min(axis=0) - margin, mine.max(axis=0) + margin
        boxes.append((max(0, int(x0)), max(0, int(y0)), min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))))
    return boxes


def _grid_like(labels: np.ndarray, spacing: np.ndarray, n_corners: int) -> list[int]:
    """Clusters of at least ``REGION_SHARE`` of the corners, the most evenly spaced first (the
    share of points within 30 % of the cluster's median spacing: high on a board, lower in clutter)."""
    found = []
    for label in np.flatnonzero(np.bincount(labels) >= REGION_SHARE * n_corners):
        mine = spacing[labels == label]
        found.append((float(np.mean(np.abs(mine / np.median(mine) - 1) <= 0.3)), int(label)))
    return [label for _, label in sorted(found, reverse=True)]


def _find_in_crop(crop: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """Corners (N, 2) px in ``crop`` from the sector-based detector (on the crop reduced to
    ~1000 px), then the classic one; None if neither finds them."""
    scale = max(1, int(np.ceil(max(crop.shape) / 1000)))
    small = crop if scale == 1 else cv2.resize(crop, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    ok, corners = cv2.findChessboardCornersSB(small, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
    if ok:
        return corners.reshape(-1, 2).astype(np.float64) * scale + (scale - 1) / 2
    for flags in (CLASSIC_FLAGS, cv2.CALIB_CB_ADAPTIVE_THRESH):
        ok, corners = cv2.findChessboardCorners(crop, pattern, flags=flags)
        if ok:
            return corners.reshape(-1, 2).astype(np.float64)
    return None


def _refine(gray: np.ndarray, corners: np.ndarray, pattern: tuple[int, int]) -> np.ndarray:
    """Sub-pixel corners at full resolution, with a window scaled to the corner spacing."""
    grid = corners.reshape(pattern[1], pattern[0], 2)
    spacing = min(np.linalg.norm(np.diff(grid, axis=1), axis=2).min(), np.linalg.norm(np.diff(grid, axis=0), axis=2).min())
    win = int(np.clip(round(spacing / 3), 2, 15))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 60, 1e-4)
    refined = cv2.cornerSubPix(gray, corners.reshape(-1, 1, 2).astype(np.float32), (win, win), (-1, -1), criteria)
    return refined.reshape(-1, 2).astype(np.float64)


def _find_checkerboard(gray: np.ndarray, pattern: tuple[int, int], thorough: bool = True):
    """Corners (N, 2) and the method that found them, or (None, None).

    First the sector-based detector on a picture at most ~1000 px wide (fast, and robust to
    blur and noise), refined at full resolution; then, if ``thorough``, its exhaustive search,
    the classic detector, and the exhaustive search at full resolution.
    """
    scale = max(1, int(np.ceil(max(gray.shape) / 1000)))
    small = gray if scale == 1 else cv2.resize(gray, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    attempts = [cv2.CALIB_CB_NORMALIZE_IMAGE]
    if thorough:
        attempts.append(cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE)
    for flags in attempts:
        ok, corners = cv2.findChessboardCornersSB(small, pattern, flags=flags)
        if ok:
            # A pixel centre x of the reduced picture is at scale * x + (scale - 1) / 2 in the full one.
            return _refine(gray, corners.reshape(-1, 2) * scale + (scale - 1) / 2, pattern), "sb"
    if not thorough:
        return None, None
    for flags in (CLASSIC_FLAGS, cv2.CALIB_CB_ADAPTIVE_THRESH):
        ok, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
        if ok:
            return _refine(gray, corners.reshape(-1, 2), pattern), "classic"
    if scale > 1:
        ok, corners = cv2.findChessboardCornersSB(gray, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE)
        if ok:
            return _refine(gray, corners.reshape(-1, 2), pattern), "sb"
    return None, None


def _square_means(gray: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Mean intensity near the centre of every inner square of a (rows, cols, 2) corner grid."""
    centres = (grid[:-1, :-1] + grid[:-1, 1:] + grid[1:, :-1] + grid[1:, 1:]) / 4  # (rows-1, cols-1, 2)
    # Sample a small cross around each centre, a quarter of the way to the square's corners.
    offsets = [(grid[:-1, :-1] - centres) * f for f in (0.0, 0.25)] + [(grid[1:, 1:] - centres) * 0.25,
                                                                      (grid[:-1, 1:] - centres) * 0.25,
                                                                      (grid[1:, :-1] - centres) * 0.25]
    values = []
    h, w = gray.shape
    for off in offsets:
        pts = centres + off
        x = np.clip(np.rint(pts[..., 0]).astype(int), 0, w - 1)
        y = np.clip(np.rint(pts[..., 1]).astype(int), 0, h - 1)
        values.append(gray[y, x].astype(np.float64))
    return np.mean(values, axis=0)


def canonical_order(corners: np.ndarray, gray: np.ndarray, board: Checkerboard) -> np.ndarray:
    """Reorder detected checkerboard corners (N, 2) into the board's canonical order.

    1. Handedness: a board seen from its printed side has its column direction turning
       clockwise onto its row direction in the image (y down); a mirrored grid is flipped.
    2. Half-turn: when ``board.orientable``, the first inner square must be black; the
       interior squares' intensities vote (robust to light gradients and blur).
    """
    cols, rows = board.pattern_size
    grid = corners.reshape(rows, cols, 2)
    along_cols = grid[:, -1] - grid[:, 0]
    along_rows = grid[-1, :] - grid[0, :]
    cross = along_cols[:, 0].mean() * along_rows[:, 1].mean() - along_cols[:, 1].mean() * along_rows[:, 0].mean()
    if cross < 0:
        grid = grid[::-1]  # mirror: reverse the rows
    if board.orientable:
        means = _square_means(gray, grid)
        j, i = np.mgrid[0:rows - 1, 0:cols - 1]
        black = (i + j) % 2 == 0
        if means[black].mean() > means[~black].mean():
            grid = grid[::-1, ::-1]  # half-turn
    return np.ascontiguousarray(grid.reshape(-1, 2))


def _detect_charuco(gray: np.ndarray, board: CharucoBoard, size) -> Detection | None:
    detector = cv2.aruco.CharucoDetector(board.opencv_board())
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) < MIN_CHARUCO_CORNERS:
        return None
    return Detection(corners.reshape(-1, 2).astype(np.float64), ids.reshape(-1).astype(int), size, "charuco")
