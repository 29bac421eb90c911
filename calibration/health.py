"""Calibration health: does the calibration in force still fit what the cameras see now?

A camera that was bumped keeps its old pose in the calibration; its pictures no longer agree
with the others'. Measured from what is seen now, without any target placed with care:

- **a board shown now** (detections in several cameras at one instant), or
- **the live skeleton** (2D keypoints per camera over a short window).

Each camera's error is a *leave-one-out* reprojection error: every point it sees is
triangulated from the *other* cameras only (linear DLT on undistorted rays), then projected
into it (px, distorted). A moved camera therefore cannot pull the points it is judged on. A
board seen by one other camera only is placed by that camera's view of it (planar PnP: the
board's shape is known).

**Rule.** Camera ``c`` *seems to have moved* when its median error now exceeds
``max(factor x baseline, baseline + margin_px)`` (defaults 2 x and 4 px), where the baseline is

- for a board: its calibration's median reprojection error (``reprojection_median_px`` in the
  calibration's metadata; ``DEFAULT_BASELINE_PX`` for an imported calibration without it);
- for a skeleton (whose keypoints are much noisier than board corners: ~5 px of leave-one-out
  error with a perfect calibration): the larger of that and the median error of the other
  cameras, themselves triangulated without the judged camera; or a baseline measured when the
  calibration was known to be good (``baseline_px``).

A board's baseline is ~0.1 px, so its limit is ~4 px; a skeleton's ~10 px. At a focal length
of 1000 px, 1 deg of rotation moves the picture by ~17 px.

Cameras are judged worst first: once a camera is found to have moved, it is left out of the
triangulation of the others, so one bumped camera does not make its neighbours look moved.
With only two cameras seeing the points, a moved camera makes both look moved. ``sustained``
tells a camera flagged over several successive checks (a board waved past, or a person
hidden for a moment, does not raise an alarm). Pure functions; thread-safe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.camera import CameraGroup
from calibration.detect import Detection

logger = logging.getLogger(__name__)

DEFAULT_BASELINE_PX = 0.5


@dataclass(frozen=True)
class HealthRule:
    """When a camera seems to have moved: error > max(``factor`` x baseline, baseline + ``margin_px``)."""

    factor: float = 2.0
    margin_px: float = 4.0
    min_points: int = 6  # fewer points seen: no verdict

    def limit_px(self, baseline_px: float) -> float:
        return max(self.factor * baseline_px, baseline_px + self.margin_px)


@dataclass(frozen=True)
class CameraHealth:
    """One camera's verdict: median leave-one-out error now (px, None without enough points),
    points used, baseline and limit (px), and whether it seems to have moved."""

    name: str
    error_px: float | None
    points: int
    baseline_px: float
    limit_px: float
    moved: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "error_px": None if self.error_px is None else round(self.error_px, 3),
                "points": self.points, "baseline_px": round(self.baseline_px, 3), "limit_px": round(self.limit_px, 3),
                "moved": self.moved}


@dataclass(frozen=True)
class HealthReport:
    """Every camera's verdict from one check; ``source`` is ``"board"`` or ``"skeleton"``."""

    source: str
    cameras: tuple[CameraHealth, ...]

    @property
    def moved(self) -> list[str]:
        return [c.name for c in self.cameras if c.moved]

    def to_dict(self) -> dict:
        return {"source": self.source, "cameras": [c.to_dict() for c in self.cameras], "moved": self.moved}


def calibration_baseline(group: CameraGroup) -> dict[str, float]:
    """Each camera's median reprojection error (px) when it was calibrated, from the metadata."""
    table = group.metadata.get("reprojection_median_px")
    table = table if isinstance(table, dict) else {}
    out = {}
    for name in group.names:
        value = table.get(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value) and value > 0
        out[name] = float(value) if ok else DEFAULT_BASELINE_PX
    return out


def _rays(group: CameraGroup, points2d: np.ndarray) -> np.ndarray:
    """Distorted pixels (C, N, 2) -> undistorted normalised image coordinates (C, N, 2), NaN kept."""
    out = np.full(points2d.shape, np.nan)
    for c, cam in enumerate(group.cameras):
        ok = np.isfinite(points2d[c]).all(axis=1)
        if ok.any():
            pts = points2d[c][ok].reshape(-1, 1, 2).astype(np.float64)
            out[c][ok] = cv2.undistortPoints(pts, cam.matrix, cam.dist).reshape(-1, 2)
    return out


def triangulate(group: CameraGroup, rays: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Points (N, 3) m by linear DLT from the cameras ``use`` (C, N) bool allows (NaN where fewer than two).

    ``rays``: undistorted normalised coordinates (C, N, 2).
    """
    Rt = np.stack([np.hstack([cam.R, cam.tvec[:, None]]) for cam in group.cameras])  # (C, 3, 4)
    ok = use & np.isfinite(rays).all(axis=2)
    x, y = np.nan_to_num(rays[..., 0]), np.nan_to_num(rays[..., 1])
    rows = np.concatenate([x[..., None] * Rt[:, None, 2] - Rt[:, None, 0],
                           y[..., None] * Rt[:, None, 2] - Rt[:, None, 1]], axis=0)  # (2C, N, 4)
    rows = rows * np.concatenate([ok, ok], axis=0)[..., None]
    _, _, vt = np.linalg.svd(np.transpose(rows, (1, 0, 2)))
    X = vt[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        points = X[:, :3] / X[:, 3:]
    points[ok.sum(axis=0) < 2] = np.nan
    return points


def leave_one_out_errors(group: CameraGroup, points2d: np.ndarray, excluded: frozenset = frozenset()) -> np.ndarray:
    """Reprojection error (C, N) px of every observation, its point triangulated from the other
    cameras not ``excluded`` (names); NaN where missing or seen by fewer than two of them.

    ``points2d``: (C, N, 2) distorted px in ``group`` order, NaN where not seen.
    """
    points2d = np.asarray(points2d, dtype=np.float64)
    rays = _rays(group, points2d)
    seen = np.isfinite(points2d).all(axis=2)
    allowed = np.array([cam.name not in excluded for cam in group.cameras])
    errors = np.full(seen.shape, np.nan)
    for c, cam in enumerate(group.cameras):
        use = seen & allowed[:, None]
        use[c] = False
        todo = seen[c] & (use.sum(axis=0) >= 2)
        if todo.any():
            X = triangulate(group, rays[:, todo], use[:, todo])
            errors[c, todo] = np.linalg.norm(cam.project(X) - points2d[c, todo], axis=1)
    return errors


def _medians(errors: np.ndarray, names: list[str], rule: HealthRule) -> dict[str, tuple[float | None, int]]:
    """Per camera: median error (px, None under ``rule.min_points`` points) and points counted."""
    counts = np.isfinite(errors).sum(axis=1)
    return {n: (float(np.nanmedian(errors[c])) if counts[c] >= rule.min_points else None, int(counts[c]))
            for c, n in enumerate(names)}


def _peer_baseline(errors_fn, name: str, excluded: set[str], names: list[str], rule: HealthRule) -> float | None:
    """The median error of the other sound cameras, triangulated without ``name`` (which may have moved)."""
    without = _medians(errors_fn(frozenset(excluded | {name})), names, rule)
    others = [m for n, (m, _) in without.items() if n != name and n not in excluded and m is not None]
    return float(np.median(others)) if others else None


def _judge(group: CameraGroup, errors_fn, baseline: dict[str, float], rule: HealthRule, peers: bool,
           source: str) -> HealthReport:
    """Every camera's verdict, worst camera first: a camera found to have moved is left out of
    the others' triangulation and the others are judged again. ``errors_fn(excluded)``: (C, N)
    leave-one-out errors. ``peers``: the baseline also counts the other cameras' errors now."""
    names = group.names
    excluded: set[str] = set()
    while True:
        medians = _medians(errors_fn(frozenset(excluded)), names, rule)
        verdicts = []
        for name in names:
            base = baseline[name]
            if peers:
                base = max(base, _peer_baseline(errors_fn, name, excluded, names, rule) or base)
            error, points = medians[name]
            limit = rule.limit_px(base)
            verdicts.append(CameraHealth(name, error, points, base, limit, error is not None and error > limit))
        fresh = [v for v in verdicts if v.moved and v.name not in excluded]
        if not fresh or sum(m is not None and n not in excluded for n, (m, _) in medians.items()) <= 2:
            return HealthReport(source, tuple(verdicts))
        excluded.add(max(fresh, key=lambda v: v.error_px / v.limit_px).name)


def skeleton_health(group: CameraGroup, points2d: np.ndarray, scores: np.ndarray, min_score: float = 0.5,
                    rule: HealthRule = HealthRule(), baseline_px: dict[str, float] | None = None) -> HealthReport:
    """Health from the live skeleton: ``points2d`` (C, F, J, 2) px and ``scores`` (C, F, J) in 0..1
    over a short window (a second or two), cameras in ``group`` order; keypoints under
    ``min_score`` are ignored. ``baseline_px``: per camera error measured when the calibration
    was known to be good; else the peers' rule (see the module)."""
    points2d = np.asarray(points2d, dtype=np.float64)
    C = points2d.shape[0]
    if C != len(group) or points2d.shape[-1] != 2 or np.shape(scores) != points2d.shape[:-1]:
        raise ValueError(f"points2d must be (C={len(group)}, F, J, 2) and scores (C, F, J); got {points2d.shape} "
                         f"and {np.shape(scores)}")
    flat = np.where((np.asarray(scores) >= min_score)[..., None], points2d, np.nan).reshape(C, -1, 2)
    baseline = calibration_baseline(group) if baseline_px is None else {**calibration_baseline(group), **baseline_px}
    return _judge(group, lambda excluded: leave_one_out_errors(group, flat, excluded), baseline, rule,
                  baseline_px is None, "skeleton")


def _board_points(group: CameraGroup, shows: list[dict[str, Detection]], board) -> np.ndarray:
    """Corner pixels (C, K * corners, 2) of every show, NaN where a camera missed a corner."""
    n = len(board.object_points())
    points = np.full((len(group), len(shows) * n, 2), np.nan)
    for k, show in enumerate(shows):
        for c, name in enumerate(group.names):
            det = show.get(name)
            if det is not None:
                points[c, k * n + det.ids] = det.corners
    return points


def _posed_by_one(group: CameraGroup, points2d: np.ndarray, errors: np.ndarray, board, excluded) -> None:
    """Fill the errors of board corners seen by exactly one other usable camera: that camera's
    planar PnP places the board in the world, which is projected into the judged camera."""
    n = len(board.object_points())
    obj = board.object_points().astype(np.float64)
    seen = np.isfinite(points2d).all(axis=2)
    usable = np.array([cam.name not in excluded for cam in group.cameras])
    for k in range(points2d.shape[1] // n):
        block = slice(k * n, (k + 1) * n)
        for c, cam in enumerate(group.cameras):
            others = [o for o in range(len(group)) if o != c and usable[o] and seen[o, block].sum() >= 4]
            mine = seen[c, block]
            if len(others) != 1 or mine.sum() < 4:
                continue
            o = others[0]
            view = seen[o, block]
            ok, rvec, tvec = cv2.solvePnP(obj[view], points2d[o, block][view], group[o].matrix, group[o].dist,
                                          flags=cv2.SOLVEPNP_IPPE)
            if not ok:
                continue
            R = cv2.Rodrigues(rvec)[0]
            world = (obj @ R.T + tvec.reshape(3) - group[o].tvec) @ group[o].R  # board -> camera o -> world
            errors[c, block][mine] = np.linalg.norm(cam.project(world[mine]) - points2d[c, block][mine], axis=1)


def board_health(group: CameraGroup, shows: list[dict[str, Detection]], board,
                 rule: HealthRule = HealthRule()) -> HealthReport:
    """Health from a board shown now: ``shows`` is one or more instants, each camera name ->
    its detection of ``board`` at that instant (cameras that missed it are left out)."""
    unknown = sorted({n for show in shows for n in show} - set(group.names))
    if unknown:
        raise ValueError(f"unknown camera {', '.join(unknown)} (the calibration has {', '.join(group.names)})")
    points2d = _board_points(group, shows, board)

    def errors_fn(excluded):
        errors = leave_one_out_errors(group, points2d, excluded)
        _posed_by_one(group, points2d, errors, board, excluded)
        return errors

    return _judge(group, errors_fn, calibration_baseline(group), rule, False, "board")


def sustained(reports: list[HealthReport], checks: int = 3) -> list[str]:
    """Cameras flagged as moved in each of the last ``checks`` reports (none with fewer reports)."""
    if len(reports) < checks:
        return []
    flagged = [set(r.moved) for r in reports[-checks:]]
    return sorted(set.intersection(*flagged))
