"""A synthetic calibration studio with known truth: a camera ring, board poses and rendered images.

Used by the calibration tests and benchmarks. Everything is deterministic for a seed.

Conventions (those of :mod:`calibration.camera` and :mod:`calibration.boards`):

- World frame in metres, Z up, origin on the floor at the centre of the camera ring.
- A camera's ``rvec`` / ``tvec`` map world to camera (``x_cam = R @ x_world + t``); OpenCV
  camera axes: x right, y down, z forward. Pixel centres are at integer coordinates.
- A board pose ``(R_wb, t_wb)`` maps the board frame to the world: ``x_world = R_wb @ x_board
  + t_wb`` (R_wb (3, 3), t_wb (3,) m). The printed side of the board is the side its
  ``-Z_board`` axis points to, so :func:`floor_pose` (board Z pointing down) is seen from above.

Pure numpy + OpenCV + :mod:`calibration`; no threads are started. The only shared state is a
small per-camera cache of undistorted pixel rays (under a lock); the functions are safe to call
from several threads (at worst a ray map is computed twice).
"""
from __future__ import annotations

import functools
import logging
import threading

import cv2
import numpy as np

from calibration.boards import Checkerboard
from calibration.camera import Camera

logger = logging.getLogger(__name__)

Pose = tuple[np.ndarray, np.ndarray]

# Grey levels (0..255) before contrast, lighting and noise.
BLACK_LEVEL = 30.0
WHITE_LEVEL = 225.0
BACK_LEVEL = 165.0  # the unprinted back of the board
MID_GREY = 128.0

_RAY_CACHE: dict[tuple, np.ndarray] = {}  # see _ray_map; oldest dropped first
_RAY_CACHE_SIZE = 8
_RAY_LOCK = threading.Lock()


# --------------------------------------------------------------------------- geometry helpers


def _rotation(axis, angle: float) -> np.ndarray:
    """Rotation matrix (3, 3) of ``angle`` radians about ``axis`` (3,)."""
    axis = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm < 1e-12 or angle == 0.0:
        return np.eye(3)
    return cv2.Rodrigues(axis / norm * angle)[0]


def _align_z(direction) -> np.ndarray:
    """The smallest rotation (3, 3) taking the +Z axis onto the unit vector ``direction``."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)
    angle = float(np.arctan2(np.linalg.norm(axis), d @ z))
    if np.linalg.norm(axis) < 1e-12:
        return np.eye(3) if d[2] > 0 else np.diag([1.0, -1.0, -1.0])
    return _rotation(axis, angle)


def _look_at(center, target, roll: float = 0.0) -> np.ndarray:
    """World-to-camera rotation (3, 3) of a camera at ``center`` (m) whose optical axis points at
    ``target`` (m), image x axis horizontal (world Z up), then rolled by ``roll`` radians about
    the optical axis."""
    z = np.asarray(target, float) - np.asarray(center, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows are the camera axes in world coordinates
    return _rotation([0.0, 0.0, 1.0], roll) @ R


def _radial(dist: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Distorted radius for undistorted normalized radius ``r`` (radial terms only, any shape)."""
    d = np.zeros(8)
    d[: min(8, dist.size)] = dist[:8]
    k1, k2, _p1, _p2, k3, k4, k5, k6 = d
    r2 = r * r
    num = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
    return r * num / den


def radial_limit(dist) -> float:
    """Largest undistorted normalized radius (unitless, tan of the angle off the optical axis)
    up to which OpenCV's radial distortion is monotonic, so that projection is one-to-one.

    Beyond it the model folds back and :func:`cv2.projectPoints` can put points that are far
    outside the field of view inside the image. ``inf`` when monotonic up to radius 10.
    """
    return _radial_limit(tuple(np.asarray(dist, dtype=np.float64).reshape(-1).tolist()))


@functools.lru_cache(maxsize=64)
def _radial_limit(dist: tuple[float, ...]) -> float:
    dist = np.asarray(dist, dtype=np.float64)
    r = np.linspace(0.0, 10.0, 20001)
    rd = _radial(dist, r)
    bad = np.nonzero(np.diff(rd) <= 0)[0]
    return float(r[bad[0]]) if bad.size else float("inf")


def _distort(camera: Camera, xy: np.ndarray) -> np.ndarray:
    """Normalized undistorted coordinates (N, 2) -> distorted pixels (N, 2) px."""
    pts = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1).reshape(-1, 1, 3)
    out, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), camera.matrix, camera.dist)
    return out.reshape(-1, 2)


def _board_center(board: Checkerboard) -> np.ndarray:
    """Centre of the inner corners in the board frame, (3,) m."""
    s = board.square_m
    return np.array([(board.cols - 1) * s / 2, (board.rows - 1) * s / 2, 0.0])


def _world_to_camera(camera: Camera, R_wb, t_wb) -> tuple[np.ndarray, np.ndarray]:
    """Board-to-camera pose: ``x_cam = R_cb @ x_board + t_cb``."""
    R = camera.R
    return R @ np.asarray(R_wb, float), R @ np.asarray(t_wb, float).reshape(3) + camera.tvec


# --------------------------------------------------------------------------- cameras


def _sample_distortion(rng: np.random.Generator, r_corner_d: float) -> np.ndarray:
    """Realistic OpenCV distortion (k1, k2, p1, p2, k3) that stays one-to-one over the image.

    ``r_corner_d`` is the distorted normalized radius of the farthest image corner; the radial
    model must be monotonic (slope >= 0.5) up to 15 % beyond it, which rules out e.g. a strong
    k1 with a weak k2 on a wide lens (where OpenCV's polynomial would fold inside the image).
    """
    for _ in range(1000):
        k1 = rng.uniform(-0.30, -0.05)
        k2 = rng.uniform(0.02, 0.15)
        p1, p2 = rng.uniform(-1e-3, 1e-3, size=2)
        k3 = rng.uniform(-0.01, 0.01)
        dist = np.array([k1, k2, p1, p2, k3])
        r = np.linspace(0.0, 3.0, 3001)
        rd = _radial(dist, r)
        slope = np.gradient(rd, r)
        reach = np.nonzero(rd >= 1.15 * r_corner_d)[0]
        if reach.size and np.all(slope[: reach[0] + 1] >= 0.5):
            return dist
    raise RuntimeError("could not sample a one-to-one distortion")  # pragma: no cover


def camera_ring(n: int = 6, radius_m: float = 3.0, height_m: float = 2.2, size: tuple[int, int] = (1280, 720),
                seed: int = 0, target_height_m: float = 1.0) -> list[Camera]:
    """``n`` cameras evenly spaced on a horizontal circle, all looking at the same point.

    Camera k (named ``cam{k+1}``) sits at angle ``2*pi*k/n`` on the circle of ``radius_m`` (m)
    centred on the world origin, at ``height_m`` (m), and its optical axis goes through
    ``(0, 0, target_height_m)``; its image x axis is horizontal up to a small roll (< 2 deg).
    Intrinsics vary per camera: fx in 850..1100 px, fy within 0.4 % of fx, principal point
    within +-25 px of the image centre ``((w-1)/2, (h-1)/2)``, distortion k1 in -0.30..-0.05,
    k2 in 0.02..0.15, p1/p2 in +-1e-3, k3 in +-0.01 (always one-to-one over the image).
    ``size`` is (width, height) px. Deterministic for ``seed``.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    target = np.array([0.0, 0.0, target_height_m])
    cameras = []
    for k in range(n):
        fx = rng.uniform(850.0, 1100.0)
        fy = fx * (1.0 + rng.uniform(-0.004, 0.004))
        cx = (width - 1) / 2 + rng.uniform(-25.0, 25.0)
        cy = (height - 1) / 2 + rng.uniform(-25.0, 25.0)
        far_x = max(cx, width - 1 - cx) / fx
        far_y = max(cy, height - 1 - cy) / fy
        dist = _sample_distortion(rng, float(np.hypot(far_x, far_y)))
        roll = np.radians(rng.uniform(-2.0, 2.0))
        angle = 2 * np.pi * k / n
        center = np.array([radius_m * np.cos(angle), radius_m * np.sin(angle), height_m])
        R = _look_at(center, target, roll)
        cameras.append(Camera(
            name=f"cam{k + 1}", size=(width, height),
            matrix=np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]),
            dist=dist, rvec=cv2.Rodrigues(R)[0].ravel(), tvec=-R @ center,
        ))
    return cameras


# --------------------------------------------------------------------------- projection, visibility


def project_corners(camera: Camera, board: Checkerboard, R_wb, t_wb) -> np.ndarray:
    """True pixel positions of the board's inner corners, (cols*rows, 2) px, with distortion,
    in the board's order (row by row)."""
    pts = board.object_points() @ np.asarray(R_wb, float).T + np.asarray(t_wb, float).reshape(3)
    return camera.project(pts)


def view_angle_deg(camera: Camera, board: Checkerboard, R_wb, t_wb) -> float:
    """Angle (deg) between the printed side's normal and the direction from the board's
    centre to the camera: 0 = seen face-on, > 90 = seen from behind."""
    R_wb = np.asarray(R_wb, float)
    normal = -R_wb[:, 2]
    center = R_wb @ _board_center(board) + np.asarray(t_wb, float).reshape(3)
    to_cam = camera.center - center
    cos = normal @ to_cam / np.linalg.norm(to_cam)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _rectangle(x0: float, x1: float, y0: float, y1: float, per_edge: int) -> np.ndarray:
    """Points along the border of ``[x0, x1] x [y0, y1]`` (m) in the board plane, (4*per_edge, 3)."""
    t = np.linspace(0.0, 1.0, per_edge, endpoint=False)
    xy = np.concatenate([np.stack([x0 + (x1 - x0) * t, np.full_like(t, y0)], 1),
                         np.stack([np.full_like(t, x1), y0 + (y1 - y0) * t], 1),
                         np.stack([x1 - (x1 - x0) * t, np.full_like(t, y1)], 1),
                         np.stack([np.full_like(t, x0), y1 - (y1 - y0) * t], 1)])
    return np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)


def _printed_outline(board: Checkerboard, per_edge: int = 16) -> np.ndarray:
    """Points along the outer border of the printed squares, (4*per_edge, 3) m, board frame."""
    s = board.square_m
    return _rectangle(-s, board.cols * s, -s, board.rows * s, per_edge)


def _paper_outline(board: Checkerboard, per_edge: int = 64) -> np.ndarray:
    """Points along the border of the paper (squares + one-square quiet zone), (4*per_edge, 3) m."""
    s = board.square_m
    return _rectangle(-2 * s, (board.cols + 1) * s, -2 * s, (board.rows + 1) * s, per_edge)


def visible(camera: Camera, board: Checkerboard, R_wb, t_wb, margin_px: float = 10,
            max_view_angle_deg: float = 90.0, whole_board: bool = False) -> bool:
    """True when the camera sees the whole printed side of the board.

    All inner corners must be in front of the camera, inside the one-to-one range of its
    distortion (:func:`radial_limit`) and project inside the image at least ``margin_px`` px
    from its border, and the printed side must face the camera, with the angle of
    :func:`view_angle_deg` below ``max_view_angle_deg``. With ``whole_board`` the outer
    border of the printed squares must be inside too (corner detectors lose accuracy on
    corners whose outer squares are cut by the image border).
    """
    if view_angle_deg(camera, board, R_wb, t_wb) >= max_view_angle_deg:
        return False
    R_cb, t_cb = _world_to_camera(camera, R_wb, t_wb)
    local = board.object_points()
    if whole_board:
        local = np.concatenate([local, _printed_outline(board)])
    pts = local @ R_cb.T + t_cb
    if np.any(pts[:, 2] <= 1e-3):
        return False
    if np.any(np.hypot(pts[:, 0], pts[:, 1]) / pts[:, 2] >= radial_limit(camera.dist)):
        return False
    px = _distort(camera, pts[:, :2] / pts[:, 2:])
    width, height = camera.size
    return bool(np.all((px[:, 0] >= margin_px) & (px[:, 0] <= width - 1 - margin_px)
                       & (px[:, 1] >= margin_px) & (px[:, 1] <= height - 1 - margin_px)))


# --------------------------------------------------------------------------- rendering


def _ray_map(camera: Camera) -> np.ndarray:
    """Normalized undistorted ray ``(x, y)`` (the ray ``(x, y, 1)`` in the camera frame) of every
    pixel centre, float32 of shape (2, height+2, width+2): entry ``[:, v+1, u+1]`` is pixel
    ``(u, v)``, for u in -1..width and v in -1..height (a one-pixel border for finite
    differences). Solved in float64 to re-project within 1e-6 px (cv2.undistortPointsIter, then
    Newton steps on OpenCV's own projection where needed), stored in float32 (~1e-4 px, 7 MB
    for 1280 x 720); NaN where the distortion cannot be inverted. Cached per intrinsics.
    """
    key = (camera.size, camera.matrix.tobytes(), camera.dist.tobytes())
    with _RAY_LOCK:
        rays = _RAY_CACHE.get(key)
    if rays is not None:
        return rays
    width, height = camera.size
    v, u = np.mgrid[-1:height + 1, -1:width + 1].astype(np.float64)
    pix = np.stack([u.ravel(), v.ravel()], axis=1)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-12)
    xy = cv2.undistortPointsIter(pix.reshape(-1, 1, 2), camera.matrix, camera.dist, None, None,
                                 criteria).reshape(-1, 2)
    # OpenCV's iteration converges to ~1e-12 px where the model is one-to-one; polish the rest
    # with Newton steps (finite-difference Jacobian) and give up on what still does not fit.
    residual = np.linalg.norm(_distort(camera, xy) - pix, axis=1)
    todo = np.nonzero(~(residual < 1e-6))[0]
    for _ in range(5):
        if not todo.size:
            break
        sub, target = xy[todo], pix[todo]
        f = _distort(camera, sub) - target
        h = 1e-6
        jx = (_distort(camera, sub + [h, 0.0]) - target - f) / h
        jy = (_distort(camera, sub + [0.0, h]) - target - f) / h
        det = jx[:, 0] * jy[:, 1] - jy[:, 0] * jx[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            sub = sub - np.stack([(jy[:, 1] * f[:, 0] - jy[:, 0] * f[:, 1]) / det,
                                  (-jx[:, 1] * f[:, 0] + jx[:, 0] * f[:, 1]) / det], axis=1)
        xy[todo] = sub
        residual[todo] = np.linalg.norm(_distort(camera, sub) - target, axis=1)
        todo = todo[~(residual[todo] < 1e-6)]
    xy[~(residual < 1e-4)] = np.nan
    bad = int(np.count_nonzero(np.isnan(xy[:, 0])))
    if bad:
        logger.warning("camera %s: %d pixels could not be undistorted, rendered as background", camera.name, bad)
    rays = np.ascontiguousarray(xy.T.reshape(2, height + 2, width + 2), dtype=np.float32)
    rays.setflags(write=False)
    with _RAY_LOCK:
        while len(_RAY_CACHE) >= _RAY_CACHE_SIZE:
            _RAY_CACHE.pop(next(iter(_RAY_CACHE)))
        _RAY_CACHE[key] = rays
    return rays


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A mid-grey cluttered scene, float32 (height, width), grey levels around 128."""
    coarse = rng.uniform(-1.0, 1.0, size=(6, 10)).astype(np.float32)
    img = MID_GREY + 20.0 * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.uniform(-1.0, 1.0, size=(height // 8, width // 8)).astype(np.float32)
    img += 6.0 * cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rng.integers(12, 25))):
        kind = int(rng.integers(3))
        grey = float(rng.uniform(70.0, 190.0))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            w, h = int(rng.integers(20, 250)), int(rng.integers(20, 250))
            cv2.rectangle(img, (x, y), (x + w, y + h), grey, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(8, 90)), grey, -1)
        else:
            x2, y2 = int(rng.integers(0, width)), int(rng.integers(0, height))
            cv2.line(img, (x, y), (x2, y2), grey, int(rng.integers(1, 6)))
    return img


def _board_bbox(camera: Camera, board: Checkerboard, R_cb, t_cb) -> tuple[int, int, int, int] | None:
    """Pixel bounding box ``(u0, v0, u1, v1)`` (inclusive) of the board's paper in the image,
    clipped to it, or None when the paper is not in view. Falls back to the whole image when
    the paper crosses the camera plane or leaves the distortion's one-to-one range."""
    width, height = camera.size
    pts = _paper_outline(board) @ R_cb.T + t_cb
    full = (0, 0, width - 1, height - 1)
    if np.any(pts[:, 2] <= 1e-6):
        return None if np.all(pts[:, 2] <= 1e-6) else full
    if np.any(np.hypot(pts[:, 0], pts[:, 1]) / pts[:, 2] >= radial_limit(camera.dist)):
        return full
    px = _distort(camera, pts[:, :2] / pts[:, 2:])
    margin = 3
    u0 = max(int(np.floor(px[:, 0].min())) - margin, 0)
    v0 = max(int(np.floor(px[:, 1].min())) - margin, 0)
    u1 = min(int(np.ceil(px[:, 0].max())) + margin, width - 1)
    v1 = min(int(np.ceil(px[:, 1].max())) + margin, height - 1)
    if u0 > u1 or v0 > v1:
        return None
    return u0, v0, u1, v1


def _shade(board: Checkerboard, X: np.ndarray, Y: np.ndarray, facing: bool, bg: np.ndarray) -> np.ndarray:
    """Grey level at board-frame points ``(X, Y)`` (m, any shape; NaN = ray misses the plane):
    the printed squares, the white quiet zone one square wide around them, or ``bg`` (same
    shape) off the paper. Seen from behind, the paper is a uniform ``BACK_LEVEL``."""
    s = board.square_m
    with np.errstate(invalid="ignore"):
        on = (X >= -2 * s) & (X <= (board.cols + 1) * s) & (Y >= -2 * s) & (Y <= (board.rows + 1) * s)
    if facing:
        paper = np.where(board.is_black(X, Y), BLACK_LEVEL, WHITE_LEVEL)
    else:
        paper = BACK_LEVEL
    return np.where(on, paper, bg)


@functools.lru_cache(maxsize=8)
def _sample_offsets(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n * n`` sub-pixel sample offsets (du, dv), px, each of shape (n*n,), in [-0.5, 0.5].

    An "n-rooks" pattern: one sample in each of the n x n cells of the pixel, and every sample
    in its own column and row of the n*n x n*n fine grid (the canonical arrangement of
    correlated multi-jittered sampling). A near-vertical or near-horizontal edge is thus
    resolved to 1/n^2 px instead of 1/n for a regular grid. The pattern is point-symmetric
    about the pixel centre, so it adds no bias.
    """
    k = np.arange(n * n)
    du = (k + 0.5) / (n * n) - 0.5
    dv = ((k * n + k // n) % (n * n) + 0.5) / (n * n) - 0.5
    return du, dv


def _render_board_region(camera: Camera, board: Checkerboard, R_cb, t_cb, img: np.ndarray, supersample: int) -> None:
    """Paint the board into ``img`` (float32, height x width) in place, antialiased."""
    box = _board_bbox(camera, board, R_cb, t_cb)
    if box is None:
        return
    u0, v0, u1, v1 = box
    rays = _ray_map(camera)
    s = board.square_m
    # Homography from the ray (x, y, 1) to the board plane: (X, Y, 1) ~ Hinv @ (x, y, 1) (m), its
    # third component w = 1 / depth is positive in front of the camera.
    Hinv = np.linalg.inv(np.column_stack([R_cb[:, 0], R_cb[:, 1], t_cb]))
    facing = bool(R_cb[:, 2] @ t_cb > 0)

    def plane(x, y, H):
        w = H[2, 0] * x + H[2, 1] * y + H[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            iw = 1 / w
        iw[~(w > 0)] = np.nan
        return (H[0, 0] * x + H[0, 1] * y + H[0, 2]) * iw, (H[1, 0] * x + H[1, 1] * y + H[1, 2]) * iw

    # Pixel centres, in float32 (board position to ~1e-4 px), with a one-pixel border for the
    # footprint: ray map index = pixel + 1.
    xm, ym = rays[0, v0:v1 + 3, u0:u1 + 3], rays[1, v0:v1 + 3, u0:u1 + 3]
    X, Y = plane(xm, ym, Hinv.astype(np.float32))
    Xc, Yc = X[1:-1, 1:-1], Y[1:-1, 1:-1]
    bg = img[v0:v1 + 1, u0:u1 + 1]
    out = _shade(board, Xc, Yc, facing, bg)

    # A pixel is uniform unless its footprint crosses an edge; all edges (squares, quiet zone,
    # paper border) lie on whole multiples of the square side. Only those pixels are
    # supersampled, so the cost follows the edges' length rather than the board's area.
    with np.errstate(invalid="ignore"):
        # Footprint half-width in squares: 0.5 * (|dX/du| + |dX/dv|), + 10 %.
        scale = np.float32(0.25 * 1.1 / s)
        ex = scale * (np.abs(X[1:-1, 2:] - X[1:-1, :-2]) + np.abs(X[2:, 1:-1] - X[:-2, 1:-1]))
        ey = scale * (np.abs(Y[1:-1, 2:] - Y[1:-1, :-2]) + np.abs(Y[2:, 1:-1] - Y[:-2, 1:-1]))
        xs, ys = Xc * np.float32(1 / s), Yc * np.float32(1 / s)
        edge = (np.floor(xs - ex) != np.floor(xs + ex)) | (np.floor(ys - ey) != np.floor(ys + ey))
        # NaN footprints: a neighbour's ray misses the plane (paper crossing the camera plane).
        edge |= np.isnan(ex) | np.isnan(ey)
    iy, ix = np.nonzero(edge)
    if iy.size:
        # Sub-samples in float64, from the ray map's local Jacobian (central differences,
        # error ~1e-4 px at 1/3 px offsets), at offsets symmetric about the pixel centre
        # (pixel (u, v) covers u +- 0.5, v +- 0.5).
        cy, cx = iy + v0 + 1, ix + u0 + 1

        def ray(dy: int, dx: int) -> np.ndarray:  # (n_edge, 2) rays of the neighbour (dx, dy)
            return rays[:, cy + dy, cx + dx].T.astype(np.float64)

        centre = ray(0, 0)
        d_du, d_dv = (ray(0, 1) - ray(0, -1)) / 2, (ray(1, 0) - ray(-1, 0)) / 2
        du, dv = (o[None, :] for o in _sample_offsets(supersample))
        sx = centre[:, :1] + d_du[:, :1] * du + d_dv[:, :1] * dv
        sy = centre[:, 1:] + d_du[:, 1:] * du + d_dv[:, 1:] * dv
        SX, SY = plane(sx, sy, Hinv)
        vals = _shade(board, SX, SY, facing, np.broadcast_to(bg[iy, ix][:, None], SX.shape))
        out[iy, ix] = vals.mean(axis=1)
    img[v0:v1 + 1, u0:u1 + 1] = out


def render_board(camera: Camera, board: Checkerboard, R_wb, t_wb, seed: int, blur_sigma: float = 0.8,
                 noise_sigma: float = 2.0, contrast: float = 1.0, light_gradient: float = 0.0,
                 supersample: int = 3) -> np.ndarray:
    """Grayscale image (height, width) uint8 of the board at pose ``(R_wb, t_wb)`` seen by
    ``camera``, distortion included.

    Every pixel centre's ray (cached per camera) is intersected with the board plane and
    coloured with ``board.is_black``: printed squares (black ~30, white ~225), a white quiet
    zone one square wide around them, and a random mid-grey cluttered background elsewhere;
    pixels crossed by an edge are averaged over ``supersample`` x ``supersample`` samples
    (see :func:`_sample_offsets`). Then:
    gaussian blur of ``blur_sigma`` px, a linear light gradient darkening the image by up to
    ``light_gradient`` (0..1, fraction) along a random direction, contrast scaled by
    ``contrast`` about mid-grey, and gaussian noise of ``noise_sigma`` grey levels. ``seed``
    fixes the background, the gradient direction and the noise.
    """
    width, height = camera.size
    rng = np.random.default_rng(seed)
    img = _background(width, height, rng)
    R_cb, t_cb = _world_to_camera(camera, R_wb, t_wb)
    _render_board_region(camera, board, R_cb, t_cb, img, max(int(supersample), 1))
    if blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
    angle = rng.uniform(0.0, 2 * np.pi)
    if light_gradient:
        u = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
        v = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * (height / width)
        ramp = u * np.float32(np.cos(angle)) + v * np.float32(np.sin(angle))
        ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-9)
        img *= 1.0 - np.float32(light_gradient) * ramp
    if contrast != 1.0:
        img = MID_GREY + np.float32(contrast) * (img - MID_GREY)
    if noise_sigma > 0:
        # OpenCV's generator (per thread) is ~3x faster than numpy's; seeded from ``rng``.
        noise = np.empty((height, width), np.float32)
        cv2.setRNGSeed(int(rng.integers(1, 2**31 - 1)))
        cv2.randn(noise, 0.0, float(noise_sigma))
        img += noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- board poses


def _camera_to_world(camera: Camera, R_cb, t_cb) -> Pose:
    R = camera.R
    return R.T @ R_cb, R.T @ (t_cb - camera.tvec)


def _normalized_ray(camera: Camera, pixel) -> np.ndarray:
    """Unit ray (3,) in the camera frame through a distorted ``pixel`` (2,) px."""
    pts = np.asarray(pixel, dtype=np.float64).reshape(1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
    xy = cv2.undistortPointsIter(pts, camera.matrix, camera.dist, None, None, criteria).reshape(2)
    ray = np.array([xy[0], xy[1], 1.0])
    return ray / np.linalg.norm(ray)


def _corner_pose(camera: Camera, ray: np.ndarray, point: np.ndarray, c_b: np.ndarray, distance: float,
                 R_local: np.ndarray) -> Pose:
    """Pose whose board point ``point`` (3,) m lies on the camera ray ``ray`` (3,) (unit,
    camera frame), with the board centre ``c_b`` at ``distance`` m from the camera and the
    board oriented by ``R_local`` relative to the line of sight to its centre."""
    centre_dir = ray
    for _ in range(4):  # the line of sight depends on where the centre lands: fixed point
        R_cb = _align_z(centre_dir) @ R_local
        v = R_cb @ (c_b - point)  # centre = lam * ray + v, with |centre| = distance
        rv = ray @ v
        lam = -rv + np.sqrt(max(rv * rv - v @ v + distance**2, 0.0))
        centre = lam * ray + v
        centre_dir = centre / np.linalg.norm(centre)
    return _camera_to_world(camera, R_cb, lam * ray - R_cb @ point)


def intrinsic_poses(camera: Camera, board: Checkerboard, n: int, seed: int, margin_px: float = 10,
                    max_tilt_deg: float = 45.0, max_roll_deg: float = 25.0, whole_board: bool = False) -> list[Pose]:
    """``n`` board poses ``(R_wb, t_wb)`` held in front of one camera, as for an intrinsic
    calibration.

    The board's centre is 1-3 m from the camera (moved back, up to 3 m, when the board does not
    fit the image); its printed side faces the camera, tilted up to ``max_tilt_deg`` from the
    line of sight in a random direction and rolled up to ``max_roll_deg``. Each pose aims at
    one of a 3 x 3 grid of image regions (corners, edge middles, centre; cycled in a random
    order). For an image corner, one of the board's extreme corners (inner corners, or the
    printed squares' outer corners with ``whole_board``) is put just inside it; otherwise,
    starting from the principal point, the board is slid horizontally, then vertically,
    towards its aim as far as :func:`visible` (``margin_px``, ``whole_board``) allows. So
    across the set the corners reach the image corners and edges. Every pose is visible.
    Deterministic for ``seed``.
    """
    rng = np.random.default_rng(seed)
    width, height = camera.size
    start = camera.matrix[:2, 2]
    size = np.array([width - 1.0, height - 1.0])
    anchors = [(ax, ay) for ay in (0.0, 0.5, 1.0) for ax in (0.0, 0.5, 1.0)]
    order = rng.permutation(len(anchors))
    c_b = _board_center(board)
    s = board.square_m
    lo_x, hi_x, lo_y, hi_y = (-s, board.cols * s, -s, board.rows * s) if whole_board else (
        0.0, (board.cols - 1) * s, 0.0, (board.rows - 1) * s)
    extremes = [np.array([x, y, 0.0]) for x in (lo_x, hi_x) for y in (lo_y, hi_y)]

    def fits(pose: Pose) -> bool:
        return visible(camera, board, *pose, margin_px=margin_px, whole_board=whole_board)

    poses: list[Pose] = []
    attempts = 0
    while len(poses) < n:
        attempts += 1
        if attempts > 50 * n + 100:
            raise RuntimeError(f"could not place {n} boards in front of {camera.name}")
        anchor = np.array(anchors[order[len(poses) % len(anchors)]])
        # Aim: beyond the border for border regions (the slide stops at the border), anywhere
        # in the middle half for the middle ones.
        aim = np.array([rng.uniform(*{0.0: (-0.05, 0.0), 0.5: (0.25, 0.75), 1.0: (1.0, 1.05)}[a])
                        for a in anchor]) * size
        distance = rng.uniform(1.0, 3.0)
        tilt = np.radians(max_tilt_deg) * np.sqrt(rng.uniform())
        tilt_dir = rng.uniform(0.0, 2 * np.pi)
        roll = np.radians(rng.uniform(-max_roll_deg, max_roll_deg))
        # Board orientation relative to the line of sight (board z along it = facing the camera).
        R_local = _rotation([np.cos(tilt_dir), np.sin(tilt_dir), 0.0], tilt) @ _rotation([0.0, 0.0, 1.0], roll)

        def pose_at(alpha, distance, R_local=R_local, aim=aim) -> Pose:
            ray = _normalized_ray(camera, start + np.asarray(alpha) * (aim - start))
            R_cb = _align_z(ray) @ R_local
            return _camera_to_world(camera, R_cb, distance * ray - R_cb @ c_b)

        if 0.5 not in anchor:
            # An image corner: the slide would stop on one border, so instead put one of the
            # board's extreme corners right into the image corner; keep the first that fits.
            corner_px = anchor * size + np.where(anchor > 0, -1.0, 1.0) * (margin_px + 1.5)
            for p in extremes:
                pose = _corner_pose(camera, _normalized_ray(camera, corner_px), p, c_b, distance, R_local)
                if fits(pose):
                    poses.append(pose)
                    break
            continue
        while not fits(pose_at((0.0, 0.0), distance)) and distance < 3.0:
            distance = min(distance * 1.1, 3.0)
        if not fits(pose_at((0.0, 0.0), distance)):
            continue
        alpha = np.zeros(2)
        for axis in (0, 1):
            alpha[axis] = 1.0
            if fits(pose_at(alpha, distance)):
                continue
            lo, hi = 0.0, 1.0
            for _ in range(14):
                alpha[axis] = (lo + hi) / 2
                lo, hi = (alpha[axis], hi) if fits(pose_at(alpha, distance)) else (lo, alpha[axis])
            alpha[axis] = lo
        poses.append(pose_at(alpha, distance))
    return poses


def extrinsic_moments(cameras: list[Camera], board: Checkerboard, n: int, seed: int, min_views: int = 2,
                      max_view_angle_deg: float = 60.0, margin_px: float = 10,
                      area_radius_m: float = 0.6, height_range_m: tuple[float, float] = (0.8, 1.6),
                      ) -> tuple[list[Pose], list[tuple[int, ...]]]:
    """``n`` board poses in the middle of the ring, as for an extrinsic calibration, and the
    cameras that see each of them.

    The board's centre is drawn within ``area_radius_m`` (m) of the ring's axis at a height in
    ``height_range_m`` (m); its printed side faces a camera (the cameras take turns) tilted by
    up to 35 deg in a random direction, with a random roll. A moment is kept when at least
    ``min_views`` cameras, including the one it faces, see it whole (:func:`visible` with
    ``margin_px`` and ``max_view_angle_deg``; beyond ~60 deg OpenCV's detector often misses
    or misplaces the board), so every camera appears in moments shared with others.

    Returns ``(poses, views)``: ``poses[m] = (R_wb, t_wb)`` and ``views[m]`` the sorted
    indices into ``cameras`` of those that see moment ``m``. Deterministic for ``seed``;
    RuntimeError when ``min_views`` cannot be met.
    """
    rng = np.random.default_rng(seed)
    c_b = _board_center(board)
    poses: list[Pose] = []
    views: list[tuple[int, ...]] = []
    attempts = 0
    while len(poses) < n:
        attempts += 1
        if attempts > 200 * n + 200:
            raise RuntimeError(f"could not find {n} board moments seen by {min_views} cameras")
        k = len(poses) % len(cameras)
        r = area_radius_m * np.sqrt(rng.uniform())
        psi = rng.uniform(0.0, 2 * np.pi)
        center = np.array([r * np.cos(psi), r * np.sin(psi), rng.uniform(*height_range_m)])
        to_cam = cameras[k].center - center
        to_cam /= np.linalg.norm(to_cam)
        # Printed normal (-Z_board): towards camera k, tilted; then a random roll about it.
        tilt_dir = rng.uniform(0.0, 2 * np.pi)
        tilt = np.radians(35.0) * np.sqrt(rng.uniform())
        normal = _align_z(to_cam) @ _rotation([np.cos(tilt_dir), np.sin(tilt_dir), 0.0], tilt)[:, 2]
        R_wb = _rotation(normal, rng.uniform(-np.pi, np.pi)) @ _align_z(-normal)
        t_wb = center - R_wb @ c_b
        seen = tuple(i for i, cam in enumerate(cameras)
                     if visible(cam, board, R_wb, t_wb, margin_px=margin_px, max_view_angle_deg=max_view_angle_deg))
        if k in seen and len(seen) >= min_views:
            poses.append((R_wb, t_wb))
            views.append(seen)
    return poses, views


def floor_pose(board: Checkerboard) -> Pose:
    """The board lying face up on the floor with its first corner at the world origin:
    ``x_world = (x_b, -y_b, 0)``, i.e. ``R_wb = diag(1, -1, -1)``, ``t_wb = 0``. The board's
    x axis is world X, its rows run along world -Y, its printed side faces up (+Z)."""
    del board  # the pose does not depend on the board; kept for a uniform signature
    return np.diag([1.0, -1.0, -1.0]), np.zeros(3)
