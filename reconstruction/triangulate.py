"""Robust multi-camera triangulation of 2D keypoints, vectorised over frames and joints.

MediaPipe is confidently wrong in ways a plain weighted DLT cannot absorb: a wrist put on the
wrong arm, a view that swaps the person's left and right, a bystander taking over one camera.
``triangulate`` therefore:

1. solves the confidence-weighted DLT of every camera pair (and of all cameras) for every
   joint at once, from per-camera 4x4 normal matrices that are simply summed per subset;
2. keeps, per joint, the hypothesis with the lowest truncated (MSAC) reprojection cost, and
   its inlier cameras (reprojection error under a threshold);
3. un-swaps views whose left/right labels fit the consensus better when exchanged, and drops
   camera frames whose skeleton mostly disagrees with the others (somebody else);
4. solves again from the inliers only, with rows re-weighted by depth so that the algebraic
   error approximates the image error, and requires at least two agreeing cameras.

Shapes: C cameras, F frames, J joints. Pixels are distorted image pixels (as detected).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from calibration.camera import CameraGroup

from .landmarks import FLIP, LATERAL

DEFAULT_MIN_SCORE = 0.3
DEFAULT_THRESHOLD = 0.011  # inlier threshold as a fraction of the image diagonal (16 px at 720p, 24 px at 1088x1920)


@dataclass(frozen=True)
class Triangulation:
    """Result of :func:`triangulate`.

    points: (F, J, 3) metres, world frame, NaN where fewer than ``min_cameras`` agreed.
    inliers: (C, F, J) bool, the observations the points were solved from.
    errors: (C, F, J) float32 px, reprojection error of every valid observation (NaN otherwise).
    swapped: (C, F) bool, views whose left/right labels were exchanged back.
    rejected: (C, F) bool, camera frames dropped as showing somebody else.
    """

    points: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray
    swapped: np.ndarray
    rejected: np.ndarray


def undistort_normalized(group: CameraGroup, points2d: np.ndarray) -> np.ndarray:
    """Distorted pixels (C, ..., 2) -> normalized image coordinates (C, ..., 2); NaN stays NaN."""
    out = np.full(points2d.shape, np.nan)
    for c, cam in enumerate(group.cameras):
        pts = points2d[c].reshape(-1, 2).astype(np.float64)
        ok = np.isfinite(pts).all(axis=1)
        if ok.any():
            norm = cv2.undistortPoints(pts[ok].reshape(-1, 1, 2), cam.matrix, cam.dist).reshape(-1, 2)
            flat = out[c].reshape(-1, 2)
            flat[ok] = norm
            out[c] = flat.reshape(out[c].shape)
    return out


class _Views:
    """Per-camera geometry of one chunk: normalized observations, weights and normal matrices."""

    def __init__(self, extrinsics: np.ndarray, focal: np.ndarray, norm: np.ndarray, weights: np.ndarray):
        self.Rt = extrinsics            # (C, 3, 4)
        self.focal = focal              # (C,) px per normalized unit
        self.norm = norm                # (C, N, 2)
        self.weights = weights          # (C, N), 0 where invalid
        P1, P2, P3 = extrinsics[:, 0], extrinsics[:, 1], extrinsics[:, 2]
        outer = lambda a, b: a[:, :, None] * b[:, None, :]  # noqa: E731
        self._q = np.stack([outer(P3, P3), outer(P3, P1) + outer(P1, P3), outer(P3, P2) + outer(P2, P3),
                            outer(P1, P1) + outer(P2, P2)], axis=1)  # (C, 4, 4, 4)

    def normals(self, weights: np.ndarray) -> np.ndarray:
        """(C, N, 4, 4): A^T A of each view's two DLT rows (x P3 - P1, y P3 - P2) scaled by ``weights``.

        Expanded as w^2 [(x^2 + y^2) P3 P3^T - x (P3 P1^T + P1 P3^T) - y (P3 P2^T + P2 P3^T)
        + P1 P1^T + P2 P2^T], so only four scalar fields are computed per observation.
        """
        use = weights > 0
        x = np.where(use, self.norm[..., 0], 0.0)
        y = np.where(use, self.norm[..., 1], 0.0)
        w2 = weights ** 2
        out = (w2 * (x * x + y * y))[..., None, None] * self._q[:, None, 0]
        out -= (w2 * x)[..., None, None] * self._q[:, None, 1]
        out -= (w2 * y)[..., None, None] * self._q[:, None, 2]
        out += w2[..., None, None] * self._q[:, None, 3]
        return out

    @staticmethod
    def solve(M: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Inhomogeneous DLT: M[:3,:3] X = -M[:3,3] for (N, 4, 4); NaN where not ``ok``."""
        A = M[:, :3, :3].copy()
        b = -M[:, :3, 3]
        A[~ok] = np.eye(3)
        b[~ok] = 0.0
        with np.errstate(all="ignore"):
            X = np.linalg.solve(A, b[..., None])[..., 0]
        X[~ok] = np.nan
        return X

    def reprojection(self, X: np.ndarray, norm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Errors (C, N) px of points X (N, 3) against the observations, and depths (C, N) m."""
        norm = self.norm if norm is None else norm
        cam = np.matmul(X[None], self.Rt[:, :, :3].swapaxes(1, 2)) + self.Rt[:, None, :, 3]
        depth = cam[..., 2]
        with np.errstate(all="ignore"):
            proj = cam[..., :2] / depth[..., None]
            err = np.linalg.norm(proj - norm, axis=-1) * self.focal[:, None]
        err[~(depth > 0)] = np.inf
        return err, depth


def _robust(views: _Views, weights: np.ndarray, tau: np.ndarray, min_cameras: int) -> tuple[np.ndarray, np.ndarray]:
    """Best hypothesis per point, then two inlier refits. Returns X (N, 3) and inliers (C, N).

    Points whose all-camera solution already fits every view skip the pair hypotheses.
    """
    C, N = weights.shape
    valid = weights > 0
    normals = views.normals(weights)
    tau2 = (tau ** 2)[:, None]
    X = views.solve(normals.sum(axis=0), valid.sum(axis=0) >= 2)
    err, _ = views.reprojection(X)
    suspect = np.flatnonzero(((err >= tau[:, None]) & valid).any(axis=0) | ~np.isfinite(X).all(axis=1))
    if len(suspect) and C > 2:
        v_s = valid[:, suspect]
        best_cost = np.where(v_s, np.minimum(err[:, suspect] ** 2, tau2), 0.0).sum(axis=0)
        best_cost[~np.isfinite(X[suspect]).all(axis=1)] = np.inf
        best_X = X[suspect]
        sub = _Views(views.Rt, views.focal, views.norm[:, suspect], weights[:, suspect])
        for pair in combinations(range(C), 2):
            ok = v_s[list(pair)].all(axis=0)
            if not ok.any():
                continue
            X_p = sub.solve(normals[list(pair)][:, suspect].sum(axis=0), ok)
            e_p, _ = sub.reprojection(X_p)
            cost = np.where(v_s, np.minimum(e_p ** 2, tau2), 0.0).sum(axis=0)
            cost[~ok] = np.inf
            better = cost < best_cost
            best_cost[better] = cost[better]
            best_X[better] = X_p[better]
        X[suspect] = best_X
    for _ in range(2):
        err, depth = views.reprojection(X)
        inliers = valid & (err < tau[:, None])
        ok = inliers.sum(axis=0) >= min_cameras
        # Re-weight rows by 1/depth: the algebraic residual then approximates the image residual.
        scale = np.where(inliers, weights / np.where(depth > 0, depth, 1.0), 0.0)
        X = views.solve(views.normals(scale).sum(axis=0), ok)
    err, _ = views.reprojection(X)
    inliers = valid & (err < tau[:, None]) & np.isfinite(X).all(axis=1)[None]
    X[inliers.sum(axis=0) < min_cameras] = np.nan
    inliers &= np.isfinite(X).all(axis=1)[None]
    return X, inliers


def _geometry(group: CameraGroup, threshold_px: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extrinsics (C, 3, 4), focal lengths (C,) px and inlier thresholds (C,) px of the cameras."""
    Rt = np.stack([np.hstack([cam.R, cam.tvec[:, None]]) for cam in group.cameras])
    focal = np.array([0.5 * (cam.matrix[0, 0] + cam.matrix[1, 1]) for cam in group.cameras])
    if threshold_px is None:
        tau = np.array([DEFAULT_THRESHOLD * float(np.hypot(*cam.size)) for cam in group.cameras])
    else:
        tau = np.full(len(group), float(threshold_px))
    return Rt, focal, tau


def _undo_swaps(views: _Views, X: np.ndarray, norm: np.ndarray, w: np.ndarray, err: np.ndarray,
                tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (C, n) whose mirrored left/right labels fit the consensus X far better, and the
    observations (C, n, J, 2) / weights (C, n, J) with those views mirrored back."""
    C, n, J = w.shape
    flip, lateral = np.array(FLIP), np.array(LATERAL)
    valid = w > 0
    has3d = np.isfinite(X).all(axis=1).reshape(1, n, J)
    t2 = (tau ** 2)[:, None, None]
    # Errors of each view's mirrored labels against the consensus skeleton.
    err_flip, _ = views.reprojection(X, norm[:, :, flip].reshape(C, n * J, 2))
    err_flip = err_flip.reshape(C, n, J)
    both = (valid & valid[:, :, flip] & has3d)[:, :, lateral]
    cost = np.where(both, np.minimum(err[:, :, lateral] ** 2, t2), 0.0).sum(axis=2)
    cost_flip = np.where(both, np.minimum(err_flip[:, :, lateral] ** 2, t2), 0.0).sum(axis=2)
    swap = (both.sum(axis=2) >= 4) & (cost_flip < 0.5 * cost)
    if swap.any():
        norm = np.where(swap[:, :, None, None], norm[:, :, flip], norm)
        w = np.where(swap[:, :, None], w[:, :, flip], w)
    return swap, norm, w


def _others(X: np.ndarray, w: np.ndarray, err: np.ndarray, tau: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """Views (C, n) whose skeleton mostly disagrees with the consensus X: they show somebody else."""
    C, n, J = w.shape
    valid = w > 0
    has3d = np.isfinite(X).all(axis=1).reshape(1, n, J)
    checked = (valid & has3d).sum(axis=2)
    agree = (valid & has3d & (err < tau[:, None, None])).sum(axis=2)
    return (checked >= 6) & (agree < 0.5 * checked) & ~swapped


def _chunk(Rt: np.ndarray, focal: np.ndarray, tau: np.ndarray, norm: np.ndarray, w: np.ndarray, min_cameras: int,
           resolve_swaps: bool, reject_others: bool) -> tuple[np.ndarray, ...]:
    """Triangulate one chunk: normalized observations (C, n, J, 2), weights (C, n, J).

    Returns X (n * J, 3), inliers (C, n * J), errors (C, n * J) px, swapped and rejected (C, n).
    """
    C, n, J = w.shape
    swapped = np.zeros((C, n), bool)
    rejected = np.zeros((C, n), bool)
    views = _Views(Rt, focal, norm.reshape(C, n * J, 2), w.reshape(C, n * J))
    X, inl = _robust(views, views.weights, tau, min_cameras)
    if resolve_swaps or reject_others:
        err = views.reprojection(X)[0].reshape(C, n, J)
        if resolve_swaps and len(LATERAL):
            swapped, norm, w = _undo_swaps(views, X, norm, w, err, tau)
        if reject_others:
            rejected = _others(X, w, err, tau, swapped)
            w = np.where(rejected[:, :, None], 0.0, w)
        redo = np.flatnonzero(swapped.any(axis=0) | rejected.any(axis=0))
        if len(redo):
            sub = _Views(Rt, focal, norm[:, redo].reshape(C, -1, 2), w[:, redo].reshape(C, -1))
            X_sub, inl_sub = _robust(sub, sub.weights, tau, min_cameras)
            X = X.reshape(n, J, 3)
            X[redo] = X_sub.reshape(len(redo), J, 3)
            X = X.reshape(n * J, 3)
            inl = inl.reshape(C, n, J)
            inl[:, redo] = inl_sub.reshape(C, len(redo), J)
            inl = inl.reshape(C, n * J)
            views = _Views(Rt, focal, norm.reshape(C, n * J, 2), w.reshape(C, n * J))
    err, _ = views.reprojection(X)
    errors = np.where(views.weights > 0, err, np.nan)
    return X, inl, errors, swapped, rejected


def triangulate(group: CameraGroup, points2d: np.ndarray, scores: np.ndarray, *,
                min_score: float = DEFAULT_MIN_SCORE, threshold_px: float | None = None, min_cameras: int = 2,
                resolve_swaps: bool = True, reject_others: bool = True, chunk_frames: int = 1000) -> Triangulation:
    """Robust 3D points from 2D keypoints of calibrated cameras.

    ``points2d`` (C, F, J, 2) distorted px, NaN where missing; ``scores`` (C, F, J) in 0..1,
    observations below ``min_score`` are ignored. ``threshold_px`` is the inlier reprojection
    threshold (default 1.1 % of each camera's image diagonal). Cameras are in ``group`` order.
    Pure and thread-safe; memory is bounded by ``chunk_frames``.
    """
    points2d = np.asarray(points2d, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    C, F, J = points2d.shape[:3]
    if points2d.shape != (C, F, J, 2) or scores.shape != (C, F, J):
        raise ValueError(f"points2d must be (C, F, J, 2) and scores (C, F, J); got {points2d.shape} and {scores.shape}")
    if C != len(group):
        raise ValueError(f"{C} cameras of keypoints but {len(group)} in the calibration")
    Rt, focal, tau = _geometry(group, threshold_px)
    norm_all = undistort_normalized(group, points2d)
    out = np.full((F, J, 3), np.nan)
    inliers_all = np.zeros((C, F, J), bool)
    errors_all = np.full((C, F, J), np.nan, np.float32)
    swapped = np.zeros((C, F), bool)
    rejected = np.zeros((C, F), bool)
    for f0 in range(0, F, chunk_frames):
        f1 = min(F, f0 + chunk_frames)
        n = f1 - f0
        norm = norm_all[:, f0:f1]                                    # (C, n, J, 2)
        w = np.where((scores[:, f0:f1] >= min_score) & np.isfinite(norm).all(axis=-1), scores[:, f0:f1], 0.0)
        X, inl, err, swapped[:, f0:f1], rejected[:, f0:f1] = _chunk(Rt, focal, tau, norm, w, min_cameras,
                                                                    resolve_swaps, reject_others)
        errors_all[:, f0:f1] = err.reshape(C, n, J)
        out[f0:f1] = X.reshape(n, J, 3)
        inliers_all[:, f0:f1] = inl.reshape(C, n, J)
    return Triangulation(points=out, inliers=inliers_all, errors=errors_all, swapped=swapped, rejected=rejected)


def triangulate_plain(group: CameraGroup, points2d: np.ndarray, scores: np.ndarray,
                      min_score: float = DEFAULT_MIN_SCORE) -> np.ndarray:
    """Confidence-weighted DLT of every valid view, without outlier handling: (F, J, 3) m.

    The baseline the robust method is measured against.
    """
    points2d = np.asarray(points2d, dtype=np.float64)
    C, F, J = points2d.shape[:3]
    Rt = np.stack([np.hstack([cam.R, cam.tvec[:, None]]) for cam in group.cameras])
    focal = np.array([cam.matrix[0, 0] for cam in group.cameras])
    norm = undistort_normalized(group, points2d).reshape(C, F * J, 2)
    w = np.where((scores >= min_score).reshape(C, -1) & np.isfinite(norm).all(axis=-1), scores.reshape(C, -1), 0.0)
    views = _Views(Rt, focal, norm, w)
    X = views.solve(views.normals(w).sum(axis=0), (w > 0).sum(axis=0) >= 2)
    return X.reshape(F, J, 3)
