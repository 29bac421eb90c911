"""Time alignment of the cameras of a take.

- VSION takes: every frame has an arrival time (``<camera>.timestamps.csv``); the cameras are
  resampled onto one common grid of frame times (:func:`timestamp_alignment`).
- Videos without timestamps: the cameras see the same movements, so the speed of their 2D
  keypoints rises and falls together; the lag that best correlates each camera's speed curve
  with a reference camera's is its frame offset (:func:`auto_offsets`).

An alignment is an index map (C, F) int: frame f of the aligned take is frame ``index[c, f]``
of camera c's video, -1 where that camera has no frame.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

COARSE_HZ = 30.0  # with several people, lags are first tried at this rate (every 2 frames at 60 fps)
REFINE_S = 0.1   # with several people, the geometric refinement searches this far around the pairwise offsets
VALLEY = 0.05    # ... and moves a camera only to a clear valley of the error (rising this much on both sides)


@dataclass(frozen=True)
class Alignment:
    """index (C, F) int, -1 where missing; offsets (C,) int: the video frame at aligned frame 0
    (the first frame each camera contributes); score (C,) a quality figure per camera
    (correlation for ``auto``, fraction of grid slots filled for ``timestamps``)."""

    index: np.ndarray
    offsets: np.ndarray
    score: np.ndarray
    method: str


def identity_alignment(lengths: list[int]) -> Alignment:
    """Frame f of every camera is aligned frame f (``--sync none``); the shortest video sets F."""
    F = min(lengths)
    index = np.tile(np.arange(F), (len(lengths), 1))
    return Alignment(index, np.zeros(len(lengths), int), np.ones(len(lengths)), "none")


def offset_alignment(lengths: list[int], offsets) -> Alignment:
    """Aligned frame f is frame ``f + offsets[c]`` of camera c (offsets >= 0)."""
    offsets = np.asarray(offsets, int)
    F = min(n - o for n, o in zip(lengths, offsets))
    if F <= 0:
        raise ValueError("the videos do not overlap in time once synchronized")
    index = offsets[:, None] + np.arange(F)[None]
    return Alignment(index, offsets, np.ones(len(lengths)), "offsets")


def keypoint_speed(points: np.ndarray, scores: np.ndarray, fps: float, min_score: float = 0.4,
                   cutoff_hz: float = 6.0) -> np.ndarray:
    """Speed curve (F,) of one camera: median keypoint speed per frame, in body sizes per frame.

    ``points`` (F, J, 2) px, ``scores`` (F, J). Joints below ``min_score`` are ignored. Each
    joint's track is low-passed (zero phase, ``cutoff_hz``) before differencing, so detection
    jitter does not drive the correlation; jumps (the skeleton moving to somebody else) are
    dropped. The curve is NaN where fewer than 3 joints are seen.
    """
    F = len(points)
    ok = np.isfinite(points).all(axis=-1) & (scores >= min_score)
    smooth = np.where(ok[..., None], points, np.nan).astype(np.float64)
    if F > 15 and cutoff_hz < fps / 2:
        sos = butter(2, cutoff_hz, fs=fps, output="sos")
        frames = np.arange(F)
        for j in range(points.shape[1]):
            seen = ok[:, j]
            if seen.sum() > 15:
                for k in range(2):
                    filled = np.interp(frames, frames[seen], smooth[seen, j, k])
                    smooth[:, j, k] = np.where(seen, sosfiltfilt(sos, filled), np.nan)
    # Displacement over +-k frames (about 0.1 s): movement grows with k, detection noise does not.
    k = max(1, int(round(fps / 10)))
    speed = np.full(F, np.nan)
    if F > 2 * k:
        step = np.linalg.norm(smooth[2 * k:] - smooth[:-2 * k], axis=-1) / (2 * k)
        both = ok[2 * k:] & ok[:-2 * k]
        step[~both] = np.nan
        enough = both.sum(axis=1) >= 3
        if enough.any():
            speed[k:F - k][enough] = np.nanmedian(step[enough], axis=1)
    span = np.where(ok[..., None], points, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without any joint
        size = np.nanmedian(np.linalg.norm(np.nanmax(span, axis=1) - np.nanmin(span, axis=1), axis=-1))
        speed[speed > 4 * np.nanmedian(speed)] = np.nan
    if np.isfinite(size) and size > 0:
        speed /= size
    return speed


def _correlation(a: np.ndarray, b: np.ndarray, lag: int, min_overlap: int) -> float:
    """Pearson correlation of a[t] and b[t + lag] over the frames both have."""
    if lag >= 0:
        x, y = a[:len(b) - lag], b[lag:lag + len(a)]
    else:
        x, y = a[-lag:], b[:len(a) + lag]
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < min_overlap:
        return -np.inf
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else -np.inf


def default_max_lag(lengths: list[int], fps: float = 30.0) -> int:
    """The widest offset searched: a third of the shortest video, at most 10 s."""
    return int(min(min(lengths) // 3, 10 * fps))


def auto_offsets(speeds: list[np.ndarray], max_lag: int | None = None, reference: int | None = None) -> Alignment:
    """Offsets that best correlate every camera's speed curve with the reference camera's.

    ``speeds``: one (F_c,) curve per camera (see :func:`keypoint_speed`). ``max_lag`` bounds the
    search (default: :func:`default_max_lag`); the overlap must cover at least half the
    shortest video. The reference is the camera with the most valid samples by default.
    Raises ValueError when a camera never shows the person moving.
    """
    lengths = [len(s) for s in speeds]
    shortest = min(lengths)
    if max_lag is None:
        max_lag = default_max_lag(lengths)
    if reference is None:
        reference = int(np.argmax([np.isfinite(s).sum() for s in speeds]))
    min_overlap = max(10, shortest // 2)
    lags = np.zeros(len(speeds), int)
    score = np.ones(len(speeds))
    for c, s in enumerate(speeds):
        if c == reference:
            continue
        values = [_correlation(speeds[reference], s, lag, min_overlap) for lag in range(-max_lag, max_lag + 1)]
        best = int(np.argmax(values))
        if not np.isfinite(values[best]):
            raise ValueError(f"camera {c}: not enough frames with a detected person to synchronize it")
        lags[c], score[c] = best - max_lag, values[best]
    offsets = lags - lags.min()
    alignment = offset_alignment(lengths, offsets)
    return Alignment(alignment.index, alignment.offsets, score, "auto")


def _sample_frames(lengths: list[int], offsets: np.ndarray, cameras: list[int], max_frames: int) -> np.ndarray:
    """At most ``max_frames`` aligned frames, evenly spread over the span ``cameras`` share."""
    span = min(lengths[k] - offsets[k] for k in cameras)
    if span <= 0:
        return np.zeros(0, int)
    return np.unique(np.linspace(0, span - 1, min(span, max_frames)).astype(int))


def _projected_others(group, points: list[np.ndarray], scores: list[np.ndarray], offsets: np.ndarray, c: int,
                      frames: np.ndarray, min_score: float) -> np.ndarray:
    """The other cameras' robust 3D at aligned ``frames``, projected into camera c: (n, J, 2) px, NaN where none."""
    from calibration.camera import CameraGroup

    from .triangulate import triangulate

    others = [k for k in range(len(points)) if k != c]
    idx = [offsets[k] + frames for k in others]
    tri = triangulate(CameraGroup([group.cameras[k] for k in others]),
                      np.stack([points[k][i] for k, i in zip(others, idx)]),
                      np.stack([scores[k][i] for k, i in zip(others, idx)]), min_score=min_score)
    X = tri.points.reshape(-1, 3)
    has3d = np.isfinite(X).all(axis=1)
    proj = np.full((len(X), 2), np.nan)
    proj[has3d] = group.cameras[c].project(X[has3d])
    return proj.reshape(len(frames), -1, 2)


def _best_lag(points: np.ndarray, scores: np.ndarray, proj: np.ndarray, start: int, frames: np.ndarray,
              max_lag: int, tau: float, min_score: float) -> tuple[float, int, float]:
    """The lag of one camera's keypoints (F_c, J, 2) px against ``proj`` (n, J, 2) px, the others'
    3D seen from it: (mean truncated squared error px^2, lag, inlier fraction); (inf, 0, 0) if none fits."""
    best = (np.inf, 0, 0.0)
    for lag in range(-max_lag, max_lag + 1):
        raw = start + lag + frames
        inside = (raw >= 0) & (raw < len(points))
        if inside.sum() < max(10, len(frames) // 2):
            continue
        obs = points[raw[inside]]
        ok = (scores[raw[inside]] >= min_score) & np.isfinite(obs).all(axis=-1)
        ok &= np.isfinite(proj[inside]).all(axis=-1)
        if ok.sum() < 10:
            continue
        err = np.linalg.norm(obs - proj[inside], axis=-1)[ok]
        cost = float((np.minimum(err, tau) ** 2).mean())
        if cost < best[0] - 1e-9 or (abs(cost - best[0]) <= 1e-9 and abs(lag) < abs(best[1])):
            best = (cost, lag, float((err < tau).mean()))
    return best


def _refine(lengths: list[int], offsets: np.ndarray, rounds: int, fit) -> Alignment:
    """Rounds of per-camera lag fitting: ``fit(c, offsets)`` -> (cost, lag, inlier fraction) of camera c
    against the others at ``offsets``; stops when a round changes nothing."""
    C = len(lengths)
    offsets = np.asarray(offsets, int).copy()
    score = np.zeros(C)
    for _ in range(rounds):
        before = offsets.copy()
        for c in range(C):
            cost, lag, inliers = fit(c, offsets)
            if np.isfinite(cost):
                offsets[c] += lag
                score[c] = inliers
        offsets -= offsets.min()
        if (offsets == before - before.min()).all():
            break
    alignment = offset_alignment(lengths, offsets)
    return Alignment(alignment.index, alignment.offsets, score, "auto")


def _geometric(group, points: list[np.ndarray], scores: list[np.ndarray], offsets: np.ndarray, max_lag: int,
               min_score: float, rounds: int, max_frames: int, several: bool) -> Alignment:
    """:func:`geometric_offsets` (``several`` False: points (F_c, J, 2) per camera) or
    :func:`geometric_offsets_people` (True: (P_c, F_c, J, 2))."""
    from .triangulate import DEFAULT_THRESHOLD

    lengths = [p.shape[-3] for p in points]
    own = [_compact(p, s, min_score) for p, s in zip(points, scores)] if several else None

    def fit(c: int, offsets: np.ndarray) -> tuple[float, int, float]:
        frames = _sample_frames(lengths, offsets, [k for k in range(len(points)) if k != c], max_frames)
        if not len(frames):
            return np.inf, 0, 0.0
        tau = DEFAULT_THRESHOLD * float(np.hypot(*group.cameras[c].size))
        if several:
            proj = _people_of_others(group, points, scores, offsets, c, frames, min_score)
            return _best_lag_people(*own[c], proj, offsets[c], frames, max_lag, tau, min_score)
        proj = _projected_others(group, points, scores, offsets, c, frames, min_score)
        return _best_lag(points[c], scores[c], proj, offsets[c], frames, max_lag, tau, min_score)

    return _refine(lengths, offsets, rounds, fit)


def geometric_offsets(group, points: list[np.ndarray], scores: list[np.ndarray], offsets: np.ndarray,
                      max_lag: int, min_score: float = 0.3, rounds: int = 4, max_frames: int = 400) -> Alignment:
    """Refine offsets with the calibration: each camera's lag is the one whose keypoints best
    agree with the 3D points triangulated from the other cameras (lowest truncated squared
    reprojection error; the score reported is the fraction of inliers at that lag).

    ``group`` is the calibrated :class:`CameraGroup` in camera order, ``points`` / ``scores`` the
    raw (F_c, J, 2) px / (F_c, J) keypoints of each camera, ``offsets`` a first guess (C,).
    Needs three cameras or more (with two, the other view alone cannot vouch for a lag);
    robust to a camera following somebody else for part of the take, which foils speed curves.
    At most ``max_frames`` frames, evenly spread over the take, are used, so the cost does not
    grow with the take's length. Several people per camera: :func:`geometric_offsets_people`.
    """
    return _geometric(group, points, scores, offsets, max_lag, min_score, rounds, max_frames, False)


# --------------------------------------------------------------------------- several people


def _padded(arrays: list[np.ndarray], fill) -> np.ndarray:
    """Stack (P_c, ...) arrays along a new first axis, padding the person axis to the largest P with ``fill``."""
    P = max(len(a) for a in arrays)
    out = np.full((len(arrays), P) + arrays[0].shape[1:], fill, dtype=arrays[0].dtype)
    for c, a in enumerate(arrays):
        out[c, :len(a)] = a
    return out


def _people_of_others(group, points: list[np.ndarray], scores: list[np.ndarray], offsets: np.ndarray, c: int,
                      frames: np.ndarray, min_score: float) -> np.ndarray:
    """The other cameras' people at aligned ``frames``, matched across views and each triangulated
    robustly from their own 2D, projected into camera c: (n, K, 33, 2) px, NaN where none."""
    from calibration.camera import CameraGroup

    from .association import associate
    from .triangulate import triangulate

    others = [k for k in range(len(points)) if k != c]
    sub = CameraGroup([group.cameras[k] for k in others])
    pts = _padded([points[k][:, offsets[k] + frames] for k in others], np.nan)          # (C', P, n, 33, 2)
    sc = _padded([scores[k][:, offsets[k] + frames] for k in others], 0.0)
    members = associate(sub, pts, sc, min_score=min_score).members                      # (n, K, C')
    n, K = members.shape[:2]
    f = np.arange(n)[:, None]
    own = np.stack([np.where((members[..., i] >= 0)[..., None, None], pts[i][np.clip(members[..., i], 0, None), f],
                             np.nan) for i in range(len(others))])                      # (C', n, K, 33, 2)
    own_sc = np.stack([np.where((members[..., i] >= 0)[..., None], sc[i][np.clip(members[..., i], 0, None), f], 0.0)
                       for i in range(len(others))])
    J = own.shape[3]
    X = triangulate(sub, own.reshape(len(others), n * K, J, 2), own_sc.reshape(len(others), n * K, J),
                    min_score=min_score).points.reshape(-1, 3)
    has3d = np.isfinite(X).all(axis=1)
    proj = np.full((len(X), 2), np.nan)
    proj[has3d] = group.cameras[c].project(X[has3d])
    return proj.reshape(n, K, J, 2)


def _compact(points: np.ndarray, scores: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """A camera's 2D people (P, F, J, 2) / (P, F, J) repacked so that, at every frame, the people seen
    come first: (D, F, J, 2) / (D, F, J) with D the most people seen at once (at least 1)."""
    seen = ((scores >= min_score) & np.isfinite(points).all(axis=-1)).sum(axis=-1) >= 3     # (P, F)
    D = max(1, int(seen.sum(axis=0).max(initial=0)))
    order = np.argsort(~seen, axis=0, kind="stable")[:D]                                     # (D, F)
    return (np.take_along_axis(points, order[:, :, None, None], axis=0),
            np.where(np.take_along_axis(seen, order, axis=0)[:, :, None],
                     np.take_along_axis(scores, order[:, :, None], axis=0), 0.0))


def _lag_cost_people(points: np.ndarray, scores: np.ndarray, proj: np.ndarray, raw: np.ndarray, tau: float,
                     min_score: float) -> tuple[float, float]:
    """Mean truncated squared error (px^2) and inlier fraction of a camera's 2D people at video frames
    ``raw`` (m,) against ``proj`` (m, K, J, 2) px, each 2D person against the 3D person it fits best;
    (inf, 0) with fewer than 10 observations."""
    obs = points[:, raw][:, :, None]                                      # (P, m, 1, A, 2)
    ok = (scores[:, raw] >= min_score)[:, :, None] & np.isfinite(obs).all(axis=-1)
    ok = ok & np.isfinite(proj[None]).all(axis=-1)                        # (P, m, K, A)
    err = np.linalg.norm(obs - proj[None], axis=-1)
    sq = np.where(ok, np.minimum(err, tau) ** 2, 0.0)
    count = ok.sum(axis=-1)
    with np.errstate(all="ignore"):
        mean = np.where(count >= 3, sq.sum(axis=-1) / count, np.inf)      # (P, m, K)
    k = np.argmin(mean, axis=-1)[..., None]
    use = np.isfinite(np.take_along_axis(mean, k, axis=-1)[..., 0])
    n = np.take_along_axis(count, k, axis=-1)[..., 0][use].sum()
    if n < 10:
        return np.inf, 0.0
    good = np.take_along_axis(ok & (err < tau), k[..., None], axis=2)[:, :, 0][use].sum()
    return float(np.take_along_axis(sq.sum(axis=-1), k, axis=-1)[..., 0][use].sum() / n), float(good / n)


def _best_lag_people(points: np.ndarray, scores: np.ndarray, proj: np.ndarray, start: int, frames: np.ndarray,
                     max_lag: int, tau: float, min_score: float) -> tuple[float, int, float]:
    """:func:`_best_lag` for a camera's 2D people (P, F_c, J, 2) px against the others' people
    ``proj`` (n, K, J, 2) px. The lowest error counts only at a clear valley of the error curve,
    which rises by :data:`VALLEY` at least on both sides within the search: people who barely
    move leave the curve flat, and its noise must not move the camera (the lag stays 0)."""
    costs = {}
    for lag in range(-max_lag, max_lag + 1):
        raw = start + lag + frames
        inside = (raw >= 0) & (raw < points.shape[1])
        if inside.sum() >= max(10, len(frames) // 2):
            costs[lag] = _lag_cost_people(points, scores, proj[inside], raw[inside], tau, min_score)
    if not costs:
        return np.inf, 0, 0.0
    lag = min(costs, key=lambda k: (costs[k][0], abs(k)))
    low = (1 + VALLEY) * costs[lag][0]
    left = [c for k, (c, _) in costs.items() if k < lag]
    right = [c for k, (c, _) in costs.items() if k > lag]
    if lag != 0 and not (left and right and max(left) >= low and max(right) >= low):
        lag = 0
    if lag not in costs:
        return np.inf, 0, 0.0
    return costs[lag][0], lag, costs[lag][1]


def geometric_offsets_people(group, points: list[np.ndarray], scores: list[np.ndarray], offsets: np.ndarray,
                             max_lag: int, min_score: float = 0.3, rounds: int = 4,
                             max_frames: int = 200) -> Alignment:
    """:func:`geometric_offsets` with several people per camera: ``points`` / ``scores`` are the
    raw (P_c, F_c, 33, 2) px / (P_c, F_c, 33) 2D people of each camera. The other cameras' people
    are matched across views (:func:`reconstruction.association.associate`) and triangulated
    robustly, and each 2D person of the camera is compared with the 3D person it fits best at
    each lag; a camera moves only to a clear valley of the error (:func:`_best_lag_people`).
    """
    return _geometric(group, points, scores, offsets, max_lag, min_score, rounds, max_frames, True)


def _present_first(norm: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_compact` for normalized people (P, F, A, 2) / weights (P, F, A)."""
    from .association import MIN_JOINTS

    seen = (w > 0).sum(axis=-1) >= MIN_JOINTS
    D = max(1, int(seen.sum(axis=0).max(initial=0)))
    order = np.argsort(~seen, axis=0, kind="stable")[:D]
    return (np.take_along_axis(norm, order[:, :, None, None], axis=0),
            np.where(np.take_along_axis(seen, order, axis=0)[:, :, None], np.take_along_axis(w, order[:, :, None], axis=0), 0.0))


def _lines(E: np.ndarray, x: np.ndarray, w: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Homogeneous points (D, F, A, 3), their epipolar lines x @ E (D, F, A, 3) and ``scale`` over the
    lines' normal lengths (D, F, A): what :func:`_pair_curve` needs of one camera, computed once."""
    h = np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)
    lines = h @ E
    with np.errstate(all="ignore"):
        inv = np.where(w > 0, scale / np.linalg.norm(lines[..., :2], axis=-1), np.nan)
    return h, lines, inv


def _pair_curve(E: np.ndarray, a: tuple, b: tuple, scale: tuple[float, float], lags: np.ndarray,
                max_frames: int, batch: int = 64) -> np.ndarray:
    """Cost (len(lags),) of camera b's frame t + lag showing the same people as camera a's frame t:
    the mean over frames of how well each 2D person finds a partner in the other view, from the
    distances of their joints to each other's epipolar lines (as in
    :func:`reconstruction.association.epipolar_cost`, b mirrored or not); NaN where too few
    frames compare. Lags are evaluated ``batch`` at a time."""
    from .association import _FLIP_A, mean_cost

    (xa, wa), (xb, wb) = a, b
    Fa, Fb = xa.shape[1], xb.shape[1]
    frames = np.unique(np.linspace(0, Fa - 1, min(Fa, max_frames)).astype(int))
    n = len(frames)
    ha, la, inv_a = _lines(E.T, xa[:, frames], wa[:, frames], scale[1])    # a's joints' lines in b
    hb, lb, inv_b = _lines(E, xb, wb, scale[0])                            # b's joints' lines in a
    curve = np.full(len(lags), np.nan)
    for start in range(0, len(lags), batch):
        chunk = lags[start:start + batch]
        fb = frames[None] + chunk[:, None]                                          # (B, n)
        inside = (fb >= 0) & (fb < Fb)
        fb = np.clip(fb, 0, Fb - 1)
        best = None
        for joints in (slice(None), _FLIP_A):
            h, ib = hb[:, fb][..., joints, :], inv_b[:, fb][..., joints]            # (Db, B, n, A, 3), (Db, B, n, A)
            num = np.abs(np.einsum("inkc,jbnkc->ijbnk", la, h))                      # (Da, Db, B, n, A)
            e2 = 0.5 * ((num * inv_a[:, None, None]) ** 2 + (num * ib[None]) ** 2)
            cost = mean_cost(e2, np.isfinite(e2) & inside[None, None, :, :, None])
            best = cost if best is None else np.minimum(best, cost)
        curve[start:start + len(chunk)] = _lag_means(best, inside, n)
    return curve


def _lag_means(cost: np.ndarray, inside: np.ndarray, n: int) -> np.ndarray:
    """Per lag (B,): the mean over frames of cost (Da, Db, B, n), each 2D person taken with its best
    partner in the other view; NaN where fewer than 10 frames (or half the sample) compare."""
    cost = np.where(np.isfinite(cost), cost, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame without anybody to compare
        per_frame = 0.5 * (np.nanmean(np.nanmin(cost, axis=1), axis=0) + np.nanmean(np.nanmin(cost, axis=0), axis=0))
    ok = np.isfinite(per_frame)                                                     # (B, n)
    enough = (inside.sum(axis=1) >= max(10, n // 2)) & (ok.sum(axis=1) >= 10)
    with np.errstate(all="ignore"):
        mean = np.where(ok, per_frame, 0.0).sum(axis=1) / ok.sum(axis=1)
    return np.where(enough, mean, np.nan)


def _combine(curves: np.ndarray, max_lag: int, rounds: int = 5) -> np.ndarray:
    """Offsets (C,) >= 0 that agree best with every pair's lag curve (``curves`` (C, C, 2 max_lag + 1),
    curves[a, b][L]: cost of offset_b - offset_a = L): each camera's offset from the most
    consistent camera first, then camera by camera the offset minimising its summed costs."""
    C = len(curves)
    filled = np.where(np.isfinite(curves), curves, 1.0)
    reference = int(np.argmin([np.nanmin(np.where(np.isfinite(curves[c]), curves[c], np.inf), axis=1)[
        np.arange(C) != c].sum() for c in range(C)]))
    offsets = np.array([0 if c == reference else int(np.argmin(filled[reference, c])) - max_lag for c in range(C)])
    candidates = np.arange(-2 * max_lag, 2 * max_lag + 1)
    for _ in range(rounds):
        before = offsets.copy()
        for c in range(C):
            if c == reference:
                continue
            total = np.zeros(len(candidates))
            for b in range(C):
                if b != c:
                    lag = np.clip(candidates - offsets[b] + max_lag, 0, 2 * max_lag)
                    inside = np.abs(candidates - offsets[b]) <= max_lag
                    total += np.where(inside, filled[b, c][lag], 1.0)
            offsets[c] = candidates[int(np.argmin(total))]
        if (offsets == before).all():
            break
    return offsets - offsets.min()


def _curves(group, people: list[tuple[np.ndarray, np.ndarray]], lags: dict[tuple[int, int], np.ndarray],
            curves: np.ndarray, max_lag: int, max_frames: int) -> None:
    """Fill ``curves`` (C, C, 2 max_lag + 1) at the ``lags`` asked for each pair (a, b), a < b (and its mirror (b, a))."""
    from .association import essential, matching_scale

    scale = matching_scale(group)
    Rt = [np.hstack([cam.R, cam.tvec[:, None]]) for cam in group.cameras]
    for (a, b), chosen in lags.items():
        values = _pair_curve(essential(Rt[a], Rt[b]), people[a], people[b], (scale[a], scale[b]), chosen, max_frames)
        curves[a, b, chosen + max_lag] = values
        curves[b, a, max_lag - chosen] = values


def pairwise_offsets(group, points: list[np.ndarray], scores: list[np.ndarray], max_lag: int,
                     min_score: float = 0.3, max_frames: int = 100, step: int = 1) -> Alignment:
    """Offsets from the epipolar geometry of every pair of cameras, without any first guess.

    For each pair and each lag, the cameras' 2D people (``points`` / ``scores`` per camera:
    (P_c, F_c, 33, 2) px / (P_c, F_c, 33)) should lie on each other's epipolar lines; the lag
    curves of all pairs are then reconciled into one offset per camera (:func:`_combine`).
    Lags are first tried every ``step`` frames, then one by one near the offsets found. Robust
    to several people and to slow movements that leave speed curves flat; the cost is bounded by
    ``max_frames`` sampled frames. The score is 1 for every camera (no agreement figure).
    """
    from .association import normalized_people

    C = len(points)
    lengths = [p.shape[1] for p in points]
    people = [_present_first(n, w) for n, w in normalized_people(group, points, scores, min_score)]
    curves = np.full((C, C, 2 * max_lag + 1), np.nan)
    pairs = [(a, b) for a in range(C) for b in range(a + 1, C)]
    coarse = np.arange(-max_lag, max_lag + 1, max(1, step))
    _curves(group, people, {pair: coarse for pair in pairs}, curves, max_lag, max_frames)
    if not np.isfinite(curves).any():
        raise ValueError("no two cameras see the same people long enough to synchronize them")
    offsets = _combine(curves, max_lag)
    if step > 1:
        near = {(a, b): np.arange(max(-max_lag, offsets[b] - offsets[a] - 2 * step),
                                  min(max_lag, offsets[b] - offsets[a] + 2 * step) + 1) for a, b in pairs}
        _curves(group, people, near, curves, max_lag, max_frames)
        offsets = _combine(curves, max_lag)
    alignment = offset_alignment(lengths, offsets)
    return Alignment(alignment.index, alignment.offsets, np.ones(C), "auto")


def auto_alignment(group, points: list[np.ndarray], scores: list[np.ndarray], fps: float,
                   min_score: float = 0.3) -> Alignment:
    """``--sync auto``. One person per camera: speed curves correlated for a first guess, then (three
    cameras or more) the geometric refinement. Several people: the pairwise epipolar offsets,
    then (three cameras or more) the geometric refinement against the people matched across views.

    ``points`` / ``scores``: per camera, its raw 2D people (P_c, F_c, 33, 2) px / (P_c, F_c, 33).
    Raises ValueError when a camera never shows anybody (moving).
    """
    lengths = [p.shape[1] for p in points]
    max_lag = default_max_lag(lengths, fps)
    if all(len(p) == 1 for p in points):
        alignment = auto_offsets([keypoint_speed(p[0], s[0], fps) for p, s in zip(points, scores)], max_lag)
        if len(points) < 3:
            return alignment
        return geometric_offsets(group, [p[0] for p in points], [s[0] for s in scores], alignment.offsets, max_lag,
                                 min_score)
    alignment = pairwise_offsets(group, points, scores, max_lag, min_score, step=max(1, int(round(fps / COARSE_HZ))))
    if len(points) < 3:
        return alignment
    # The pairwise offsets are rarely more than a frame or two off: the refinement looks nearby.
    nearby = min(max_lag, max(3, int(round(REFINE_S * fps))))
    return geometric_offsets_people(group, points, scores, alignment.offsets, nearby, min_score)


def timestamp_alignment(times_ns: list[np.ndarray], fps: float) -> Alignment:
    """Resample cameras onto a common grid of frame times from their per-frame times (ns).

    The grid runs at ``fps`` over the interval every camera covers; each slot takes the camera
    frame nearest in time if it is within half a frame period (else -1: a dropped frame).
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    starts = [int(t[0]) for t in times_ns if len(t)]
    ends = [int(t[-1]) for t in times_ns if len(t)]
    if len(starts) < len(times_ns):
        raise ValueError("a camera has no frame timestamps")
    start, end = max(starts), min(ends)
    period = 1e9 / fps
    if end < start:
        raise ValueError("the cameras' recordings do not overlap in time")
    grid = start + np.arange(int((end - start) / period) + 1) * period
    index = np.full((len(times_ns), len(grid)), -1, dtype=int)
    for c, t in enumerate(times_ns):
        t = np.asarray(t, dtype=np.float64)
        pos = np.clip(np.searchsorted(t, grid), 1, len(t) - 1) if len(t) > 1 else np.zeros(len(grid), int)
        prev = pos - 1 if len(t) > 1 else pos
        nearest = np.where(np.abs(t[prev] - grid) <= np.abs(t[pos] - grid), prev, pos)
        close = np.abs(t[nearest] - grid) <= period / 2
        index[c, close] = nearest[close]
    filled = (index >= 0).mean(axis=1)
    offsets = np.array([row[row >= 0][0] if (row >= 0).any() else 0 for row in index])
    return Alignment(index, offsets, filled, "timestamps")


def apply_alignment(values: np.ndarray, index: np.ndarray, fill) -> np.ndarray:
    """Pick rows ``index`` (F,) of ``values`` (F_c, ...), with ``fill`` where index is -1."""
    out = values[np.clip(index, 0, max(len(values) - 1, 0))]
    out[index < 0] = fill
    return out
