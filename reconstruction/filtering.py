"""Gap filling and zero-phase low-pass filtering of 3D trajectories.

Arrays are (F, J, 3) in metres with NaN where a joint is missing; frames are evenly spaced at
``fps``. Pure functions: the input is never modified.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .landmarks import INDEX

DEFAULT_MAX_GAP = 10
DEFAULT_CUTOFF_HZ = 6.0
DEFAULT_ORDER = 4
DEFAULT_SPIKE_M = 0.1
SPIKE_WINDOW_S = 0.25          # the neighbourhood a point is judged against: 7 frames at 30 fps, 15 at 60
DEFAULT_BONE_TOLERANCE = 0.2   # a limb more than 20 % off its usual length is a wrong joint
MIN_BONE_FRAMES = 10           # frames needed to know a limb's usual length

# Limbs as (proximal joint, distal joint, the joints that hang on the distal one): when a limb's
# length is wrong, its distal end is (the proximal one is checked by the limb above it).
_SIDES = ("left", "right")
LIMBS: tuple[tuple[int, int, tuple[int, ...]], ...] = tuple(
    (INDEX[f"{s}_{a}"], INDEX[f"{s}_{b}"], tuple(INDEX[f"{s}_{h}"] for h in hanging))
    for s in _SIDES for a, b, hanging in (
        ("shoulder", "elbow", ()), ("elbow", "wrist", ("pinky", "index", "thumb")),
        ("hip", "knee", ()), ("knee", "ankle", ("heel", "foot_index"))))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) runs where ``mask`` (1D bool) is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def remove_spikes(points: np.ndarray, window: int = 7, threshold_m: float = DEFAULT_SPIKE_M) -> np.ndarray:
    """Drop (set NaN) points farther than ``threshold_m`` from the median of their neighbours.

    A joint cannot jump 10 cm away from where it was a few frames before and after; such a
    point comes from views that agreed by chance on a wrong position. The median runs over
    ``window`` frames centred on each point (NaN ignored, the point itself included);
    :func:`smooth` spans :data:`SPIKE_WINDOW_S` (:func:`spike_window`).
    """
    out = np.array(points, dtype=np.float64, copy=True)
    F = out.shape[0]
    half = window // 2
    if F < 3:
        return out
    padded = np.pad(out, ((half, half), (0, 0), (0, 0)), constant_values=np.nan)
    stack = np.stack([padded[k:k + F] for k in range(window)])            # (window, F, J, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        median = np.nanmedian(stack, axis=0)
    far = np.linalg.norm(out - median, axis=-1) > threshold_m
    out[far] = np.nan
    return out


def remove_bone_outliers(points: np.ndarray, tolerance: float = DEFAULT_BONE_TOLERANCE) -> np.ndarray:
    """Drop (set NaN) the distal end of every limb (:data:`LIMBS`) whose length is more than
    ``tolerance`` (fraction) away from its median over the trajectory (F, J, 3) m, with the
    joints hanging on it (a wrist takes its hand's points, an ankle its foot's).

    Limbs do not stretch: a forearm twice its length is a wrist that two views placed wrongly
    together (a two-view solution fits both views exactly, however wrong), which the spike
    filter misses when such a joint stays wrong for several frames. Limbs seen on fewer than
    :data:`MIN_BONE_FRAMES` frames are left alone. Upper limbs first, so an elbow found wrong is
    not used to judge its wrist.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    for proximal, distal, hanging in LIMBS:
        length = np.linalg.norm(out[:, proximal] - out[:, distal], axis=-1)
        seen = np.isfinite(length)
        if seen.sum() < MIN_BONE_FRAMES:
            continue
        usual = float(np.median(length[seen]))
        with np.errstate(invalid="ignore"):
            wrong = np.abs(length - usual) > tolerance * usual
        out[np.ix_(wrong, (distal, *hanging))] = np.nan
    return out


def spike_window(fps: float) -> int:
    """Frames (odd, at least 7) that span :data:`SPIKE_WINDOW_S` at ``fps``: a wrong joint that
    lasts a few frames (two views that agree by chance for a moment) is then outnumbered by the
    frames around it, whatever the frame rate."""
    return max(7, 2 * int(SPIKE_WINDOW_S * fps / 2) + 1)


def fill_gaps(points: np.ndarray, max_gap: int = DEFAULT_MAX_GAP) -> np.ndarray:
    """Linearly interpolate interior runs of at most ``max_gap`` missing frames, per joint.

    Gaps at the start or end, and longer gaps, stay NaN: nothing is invented there.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    if max_gap <= 0:
        return out
    frames = np.arange(out.shape[0])
    for j in range(out.shape[1]):
        ok = np.isfinite(out[:, j]).all(axis=1)
        if ok.all() or ok.sum() < 2:
            continue
        for start, end in _runs(~ok):
            if start == 0 or end == len(ok) or end - start > max_gap:
                continue
            for k in range(3):
                out[start:end, j, k] = np.interp(frames[start:end], [start - 1, end], out[[start - 1, end], j, k])
    return out


def lowpass(points: np.ndarray, fps: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
            order: int = DEFAULT_ORDER) -> np.ndarray:
    """Zero-phase Butterworth low-pass (forward-backward), per joint and contiguous run.

    Runs shorter than the filter's padding are filtered with a shorter padding; runs of fewer
    than 4 frames are left as they are. Raises ValueError if the cutoff is not below Nyquist.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 0 < cutoff_hz < fps / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must be between 0 and half the frame rate ({fps / 2:g} Hz)")
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    default_pad = 3 * (2 * len(sos) + 1)
    out = np.array(points, dtype=np.float64, copy=True)
    ok = np.isfinite(out).all(axis=2)
    if ok.all():
        return sosfiltfilt(sos, out, axis=0, padlen=min(default_pad, out.shape[0] - 1))
    for j in range(out.shape[1]):
        for start, end in _runs(ok[:, j]):
            if end - start >= 4:
                out[start:end, j] = sosfiltfilt(sos, out[start:end, j], axis=0, padlen=min(default_pad, end - start - 1))
    return out


def smooth(points: np.ndarray, fps: float, cutoff_hz: float | None = DEFAULT_CUTOFF_HZ,
           max_gap: int = DEFAULT_MAX_GAP) -> np.ndarray:
    """The whole treatment of a triangulated trajectory (F, J, 3) m: joints that stretch a limb
    and spikes removed, gaps of at most ``max_gap`` frames filled, then (unless ``cutoff_hz`` is
    None, or under 4 frames) the zero-phase low-pass. Raises ValueError if the cutoff is not
    below half of ``fps``."""
    out = fill_gaps(remove_spikes(remove_bone_outliers(points), spike_window(fps)), max_gap)
    if cutoff_hz is not None and len(out) >= 4:
        out = lowpass(out, fps, cutoff_hz)
    return out
