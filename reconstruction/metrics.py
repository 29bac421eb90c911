"""Quality figures of a reconstruction: reprojection error, completeness, limb-length stability."""
from __future__ import annotations

import numpy as np

from calibration.camera import CameraGroup

from .landmarks import SEGMENTS


def reprojection_errors(group: CameraGroup, points3d: np.ndarray, points2d: np.ndarray,
                        mask: np.ndarray) -> np.ndarray:
    """Image distance (C, F, J) px between the projection of ``points3d`` (F, J, 3) m and the
    observations ``points2d`` (C, F, J, 2) px, where ``mask`` (C, F, J) and the 3D point exist; NaN elsewhere."""
    C, F, J = mask.shape
    out = np.full((C, F, J), np.nan)
    flat = points3d.reshape(-1, 3)
    has3d = np.isfinite(flat).all(axis=1)
    for c, cam in enumerate(group.cameras):
        use = mask[c].reshape(-1) & has3d
        if use.any():
            proj = cam.project(flat[use])
            err = np.linalg.norm(proj - points2d[c].reshape(-1, 2)[use], axis=1)
            out[c].reshape(-1)[use] = err
    return out


def median_per_camera(errors: np.ndarray, names: list[str]) -> dict[str, float | None]:
    """Median of (C, F, J) errors per camera name (None when a camera contributed nothing)."""
    return {name: (float(np.nanmedian(e)) if np.isfinite(e).any() else None) for name, e in zip(names, errors)}


def reconstructed_percent(points3d: np.ndarray) -> float:
    """Percent of (frame, joint) cells with a 3D point."""
    if points3d.size == 0:
        return 0.0
    return float(100.0 * np.isfinite(points3d).all(axis=-1).mean())


def segment_lengths(points3d: np.ndarray) -> dict[str, np.ndarray]:
    """Length (F,) in metres of each of the ten main limb segments, NaN where a joint is missing."""
    return {name: np.linalg.norm(points3d[:, a] - points3d[:, b], axis=1) for name, (a, b) in SEGMENTS.items()}


def segment_variation(points3d: np.ndarray) -> dict[str, dict]:
    """Per segment: mean length (m), standard deviation (m) and coefficient of variation (%)."""
    out = {}
    for name, lengths in segment_lengths(points3d).items():
        ok = lengths[np.isfinite(lengths)]
        if len(ok) < 2:
            out[name] = {"mean_m": None, "std_m": None, "cv_pct": None, "frames": int(len(ok))}
            continue
        mean, std = float(ok.mean()), float(ok.std())
        out[name] = {"mean_m": mean, "std_m": std, "cv_pct": 100.0 * std / mean if mean > 0 else None,
                     "frames": int(len(ok))}
    return out


def mean_segment_cv(variation: dict[str, dict]) -> float | None:
    """Mean coefficient of variation (%) over the segments that have one."""
    values = [v["cv_pct"] for v in variation.values() if v["cv_pct"] is not None]
    return float(np.mean(values)) if values else None
