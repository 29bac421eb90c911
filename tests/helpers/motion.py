"""A synthetic person with known truth: 33 MediaPipe landmarks moving, seen by calibrated cameras.

The body is a small forward-kinematic model (pelvis, trunk, head, arms with hands, legs with
feet) walking slowly around a circle while swinging its arms, bending its knees and leaning.
World frame: metres, Z up. Deterministic for a seed. Used by the reconstruction tests and
``bench/reconstruction.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.camera import Camera
from reconstruction.landmarks import FLIP, INDEX, N_JOINTS


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rot(axis: np.ndarray, angle: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (F, 3) about unit axes (F, 3) by angles (F,) (Rodrigues' formula)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * (axis * v).sum(axis=1, keepdims=True) * (1 - c)


def person_motion(frames: int = 600, fps: float = 30.0, seed: int = 0, task: str = "walk") -> np.ndarray:
    """Landmark trajectories (F, 33, 3) m of one person, smooth (content below ~3 Hz).

    Like a worker at a task, the person alternates bursts of movement and pauses: every
    movement follows a clock that runs at a randomly varying pace, stopping now and then.
    ``task``: ``walk`` (walking slowly round a circle, swinging the arms) or ``lift`` (standing,
    bending the knees and trunk to pick something up from the floor and lifting it).
    """
    rng = np.random.default_rng(seed)
    seconds = frames / fps
    knots = np.clip(rng.normal(0.7, 0.6, int(seconds / 1.5) + 2), 0.0, 1.4)
    pace = np.interp(np.arange(frames) / fps, np.linspace(0, seconds, len(knots)), knots)
    t = np.cumsum(pace) / fps
    ph = rng.uniform(0, 2 * np.pi, 8)
    yaw = 0.25 * t + 0.3 * np.sin(0.4 * t + ph[0])
    root = np.stack([0.5 * np.cos(0.25 * t), 0.5 * np.sin(0.25 * t), 0.95 + 0.03 * np.sin(2 * np.pi * 0.8 * t)], 1)
    fwd = np.stack([np.cos(yaw), np.sin(yaw), np.zeros_like(t)], 1)
    up = np.tile([0.0, 0.0, 1.0], (frames, 1))
    left = np.cross(up, fwd)
    lean = 0.15 + 0.15 * np.sin(2 * np.pi * 0.3 * t + ph[1])
    depth = (1 - np.cos(2 * np.pi * 0.3 * t + ph[1])) / 2  # lift: 0 standing .. 1 at the floor
    if task == "lift":
        yaw = np.full_like(t, ph[0])
        fwd = np.stack([np.cos(yaw), np.sin(yaw), np.zeros_like(t)], 1)
        left = np.cross(up, fwd)
        root = np.tile([0.2, -0.1, 0.95], (frames, 1)) - np.outer(0.3 * depth, [0, 0, 1])
        # _rot(left, -lean, up) tilts the trunk backwards (the walk's gentle lean); bending down
        # to the floor tilts it forwards.
        lean = -(0.1 + 0.7 * depth)
    elif task != "walk":
        raise ValueError(f"unknown task {task!r}")
    trunk = _rot(left, -lean, up)  # positive lean: backwards
    P = np.zeros((frames, N_JOINTS, 3))
    J = INDEX
    hips_c = root
    neck = hips_c + 0.52 * trunk
    side_up = _unit(np.cross(trunk, fwd))  # left, perpendicular to the trunk
    for s, name in ((1, "left"), (-1, "right")):
        P[:, J[f"{name}_hip"]] = hips_c + s * 0.10 * left
        P[:, J[f"{name}_shoulder"]] = neck + s * 0.19 * side_up
        # arm: swing forward/back and raise sideways, elbow flexion
        swing = 0.6 * np.sin(2 * np.pi * 0.5 * t + ph[2] + (0 if s > 0 else np.pi))
        raise_ = 0.3 + 0.25 * np.sin(2 * np.pi * 0.35 * t + ph[3] + s)
        if task == "lift":
            swing, raise_ = 0.3 + 0.9 * depth, 0.15 + 0 * t
        down = -trunk
        upper = _rot(left, -swing, down)
        upper = _rot(fwd, -s * raise_, upper)
        elbow = P[:, J[f"{name}_shoulder"]] + 0.30 * upper
        flex = 0.4 + 0.5 * (1 + np.sin(2 * np.pi * 0.6 * t + ph[4] + s)) / 2
        if task == "lift":
            flex = 0.3 + 0.8 * (1 - depth)
        fore = _rot(left, -flex, upper)
        wrist = elbow + 0.26 * fore
        P[:, J[f"{name}_elbow"]] = elbow
        P[:, J[f"{name}_wrist"]] = wrist
        P[:, J[f"{name}_pinky"]] = wrist + 0.08 * fore - s * 0.03 * left
        P[:, J[f"{name}_index"]] = wrist + 0.09 * fore + s * 0.01 * left
        P[:, J[f"{name}_thumb"]] = wrist + 0.05 * fore + s * 0.04 * left + 0.02 * fwd
        # leg: hip flexion and knee bend
        hipflex = 0.35 * np.sin(2 * np.pi * 0.5 * t + ph[5] + (np.pi if s > 0 else 0))
        thigh = _rot(left, -hipflex, -up)
        knee = P[:, J[f"{name}_hip"]] + 0.45 * thigh
        bend = 0.2 + 0.35 * (1 + np.sin(2 * np.pi * 0.5 * t + ph[6] + s)) / 2
        if task == "lift":
            hipflex = 0.1 + 1.1 * depth
            thigh = _rot(left, -hipflex, -up)
            knee = P[:, J[f"{name}_hip"]] + 0.45 * thigh
            bend = 0.1 + 1.3 * depth
        shank = _rot(left, bend, thigh)
        ankle = knee + 0.43 * shank
        P[:, J[f"{name}_knee"]] = knee
        P[:, J[f"{name}_ankle"]] = ankle
        P[:, J[f"{name}_heel"]] = ankle - 0.06 * fwd - 0.05 * up
        P[:, J[f"{name}_foot_index"]] = ankle + 0.16 * fwd - 0.07 * up
    head = neck + 0.12 * trunk
    nose = head + 0.11 * fwd + 0.05 * up
    P[:, J["nose"]] = nose
    for s, name in ((1, "left"), (-1, "right")):
        P[:, J[f"{name}_eye_inner"]] = nose + 0.02 * up - 0.02 * fwd + s * 0.015 * left
        P[:, J[f"{name}_eye"]] = nose + 0.025 * up - 0.025 * fwd + s * 0.035 * left
        P[:, J[f"{name}_eye_outer"]] = nose + 0.025 * up - 0.03 * fwd + s * 0.05 * left
        P[:, J[f"{name}_ear"]] = head + s * 0.075 * left + 0.05 * up
        P[:, J[f"mouth_{name}"]] = nose - 0.04 * up - 0.01 * fwd + s * 0.025 * left
    return P


@dataclass(frozen=True)
class Observations:
    """2D keypoints of every camera: points (C, F, 33, 2) px NaN missing, scores (C, F, 33)."""

    points: np.ndarray
    scores: np.ndarray


def observe(cameras: list[Camera], truth: np.ndarray, seed: int = 0, noise_px: float = 3.0, drop: float = 0.08,
            outliers: float = 0.05, outlier_px: tuple[float, float] = (30.0, 120.0), swaps: float = 0.03,
            bystander: tuple[int, int, int] | None = None) -> Observations:
    """Project ``truth`` (F, 33, 3) into each camera and corrupt it like MediaPipe does.

    ``noise_px``: Gaussian noise (std per axis, px). ``drop``: fraction of joints missing.
    ``outliers``: fraction of joints moved 30-120 px with a confident score. ``swaps``: fraction
    of frames in which one random camera exchanges left and right. ``bystander`` (camera, first,
    last frame): that camera follows somebody else (the same motion, 1.5 m away) in that range.
    Points outside the image are missing.
    """
    rng = np.random.default_rng(seed)
    C, (F, J) = len(cameras), truth.shape[:2]
    points = np.zeros((C, F, J, 2))
    for c, cam in enumerate(cameras):
        points[c] = cam.project(truth.reshape(-1, 3)).reshape(F, J, 2)
        if bystander and bystander[0] == c:
            _, a, b = bystander
            other = truth[a:b] + np.array([1.2, -0.9, 0.0])
            points[c, a:b] = cam.project(other.reshape(-1, 3)).reshape(b - a, J, 2)
    scores = rng.uniform(0.6, 1.0, (C, F, J))
    points += rng.normal(0.0, noise_px, points.shape)
    bad = rng.random((C, F, J)) < outliers
    angle = rng.uniform(0, 2 * np.pi, bad.sum())
    dist = rng.uniform(*outlier_px, bad.sum())
    points[bad] += np.stack([np.cos(angle), np.sin(angle)], 1) * dist[:, None]
    scores[bad] = rng.uniform(0.8, 1.0, bad.sum())
    swap_frames = np.flatnonzero(rng.random(F) < swaps)
    swap_cams = rng.integers(0, C, len(swap_frames))
    flip = np.array(FLIP)
    for f, c in zip(swap_frames, swap_cams):
        points[c, f] = points[c, f, flip]
        scores[c, f] = scores[c, f, flip]
    dropped = rng.random((C, F, J)) < drop
    for c, cam in enumerate(cameras):
        w, h = cam.size
        out = (points[c, ..., 0] < 0) | (points[c, ..., 0] > w - 1) | (points[c, ..., 1] < 0) | (points[c, ..., 1] > h - 1)
        dropped[c] |= out
    points[dropped] = np.nan
    scores[dropped] = 0.0
    return Observations(points.astype(np.float32), scores.astype(np.float32))


def joint_errors(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean error (F, J) m, NaN where the estimate is missing."""
    return np.linalg.norm(estimate - truth, axis=-1)


def slower(points: np.ndarray, factor: float) -> np.ndarray:
    """The same movement performed ``factor`` times slower (resampled in time): (F, 33, 3) -> (F * factor, 33, 3)."""
    F = len(points)
    src = np.arange(int(F * factor)) / factor
    flat = points.reshape(F, -1)
    return np.stack([np.interp(src, np.arange(F), flat[:, k]) for k in range(flat.shape[1])], 1).reshape(-1, 33, 3)


# --------------------------------------------------------------------------- several people


def two_people(frames: int = 600, fps: float = 30.0, seed: int = 0, gap_m: float = 0.5) -> np.ndarray:
    """Two people (2, F, 33, 3) m walking to and fro along parallel lines ``gap_m`` apart, in
    opposite directions, so they pass each other every few seconds (and hide each other from the
    cameras that look along the lines). Their limbs move as in :func:`person_motion` (a walker
    and a lifter); only the pelvis path is replaced.
    """
    t = np.arange(frames) / fps
    rng = np.random.default_rng(seed)
    omega = 2 * np.pi / rng.uniform(7.0, 9.0)
    paths = [np.stack([-0.9 * np.cos(omega * t), np.full_like(t, -gap_m / 2)], 1),
             np.stack([0.9 * np.cos(omega * t + 0.3), np.full_like(t, gap_m / 2)], 1)]
    people = []
    for k, (task, path) in enumerate(zip(("walk", "lift"), paths)):
        body = person_motion(frames, fps, seed=seed + 11 * k + 1, task=task)
        pelvis = (body[:, INDEX["left_hip"]] + body[:, INDEX["right_hip"]]) / 2
        body[..., :2] += (path - pelvis[:, :2])[:, None]
        people.append(body)
    return np.stack(people)


@dataclass(frozen=True)
class PeopleObservations:
    """2D people of every camera, as a multi-person 2D tracker gives them.

    points (C, P, F, 33, 2) px NaN missing, scores (C, P, F, 33): P 2D tracks per camera, whose
    ids are arbitrary, swap when people cross and change after a long occlusion.
    identity (C, P, F) int: the true person behind each 2D track at each frame, -1 where absent.
    """

    points: np.ndarray
    scores: np.ndarray
    identity: np.ndarray


def _hidden(cameras: list[Camera], truths: np.ndarray) -> np.ndarray:
    """(N, C, F, 33) bool: joints hidden behind a nearer person; a person more than a third hidden is hidden
    whole (a 2D detector rarely finds somebody mostly hidden)."""
    N, F = truths.shape[:2]
    hidden = np.zeros((N, len(cameras), F, N_JOINTS), bool)
    pelvis = (truths[:, :, INDEX["left_hip"]] + truths[:, :, INDEX["right_hip"]]) / 2
    for c, cam in enumerate(cameras):
        px = cam.project(truths.reshape(-1, 3)).reshape(N, F, N_JOINTS, 2)
        depth = (pelvis @ cam.R.T + cam.tvec)[..., 2]                      # (N, F)
        lo, hi = px.min(axis=2), px.max(axis=2)                            # (N, F, 2)
        margin = 0.15 * (hi - lo)
        lo, hi = lo + margin, hi - margin
        for a in range(N):
            for b in range(N):
                if a == b:
                    continue
                behind = depth[a] > depth[b]
                inside = ((px[a] > lo[b][:, None]) & (px[a] < hi[b][:, None])).all(axis=-1)
                hidden[a, c] |= inside & behind[:, None]
    whole = hidden.mean(axis=-1) > 1 / 3
    hidden[whole] = True
    return hidden


def _track_ids(visible: np.ndarray, overlap: np.ndarray, rng: np.random.Generator, fragment_after: int) -> np.ndarray:
    """Slot (2D track id) of each person per frame of one camera, -1 when not visible.

    ``visible`` (N, F) bool, ``overlap`` (F,) bool: the people's images overlap (a crossing).
    Ids start in a random order, are exchanged at half the crossings, and a person seen again
    after ``fragment_after`` frames or more gets a new id.
    """
    N, F = visible.shape
    slot = rng.permutation(N)
    next_slot, missing = N, np.zeros(N, int)
    out = np.full((N, F), -1)
    for f in range(F):
        if f and overlap[f - 1] and not overlap[f] and N == 2 and rng.random() < 0.5:
            slot = slot[::-1].copy()
        for n in range(N):
            if not visible[n, f]:
                missing[n] += 1
                continue
            if f and missing[n] >= fragment_after:
                slot[n], next_slot = next_slot, next_slot + 1
            missing[n] = 0
            out[n, f] = slot[n]
    return out


def observe_people(cameras: list[Camera], truths: np.ndarray, seed: int = 0, present: np.ndarray | None = None,
                   fragment_after: int = 5, **corruptions) -> PeopleObservations:
    """Project people ``truths`` (N, F, 33, 3) into each camera as a multi-person 2D tracker sees them.

    Each person's 2D is corrupted like :func:`observe` (``corruptions`` are its keywords); a
    person's joints behind a nearer person are missing, and the whole person when more than
    a third is hidden. ``present`` (N, F) bool: frames each person is in the room (default all).
    2D track ids are arbitrary per camera (see :func:`_track_ids`).
    """
    rng = np.random.default_rng(seed)
    N, F = truths.shape[:2]
    C = len(cameras)
    present = np.ones((N, F), bool) if present is None else np.asarray(present, bool)
    obs = [observe(cameras, truths[n], seed=seed + 101 * (n + 1), **corruptions) for n in range(N)]
    hidden = _hidden(cameras, truths)
    ids, points, scores, identity = [], [], [], []
    for c in range(C):
        seen = np.stack([present[n] & ~hidden[n, c].all(axis=-1)
                         & np.isfinite(obs[n].points[c]).all(axis=-1).any(axis=-1) for n in range(N)])
        both = seen.all(axis=0) & hidden[:, c].any(axis=-1).any(axis=0)
        ids.append(_track_ids(seen, both, rng, fragment_after))
    P = max(int(i.max()) + 1 for i in ids)
    points = np.full((C, P, F, N_JOINTS, 2), np.nan, np.float32)
    scores = np.zeros((C, P, F, N_JOINTS), np.float32)
    identity = np.full((C, P, F), -1)
    for c in range(C):
        for n in range(N):
            f = np.flatnonzero(ids[c][n] >= 0)
            p = ids[c][n][f]
            keep = ~hidden[n, c, f]
            points[c, p, f] = np.where(keep[..., None], obs[n].points[c, f], np.nan)
            scores[c, p, f] = np.where(keep, obs[n].scores[c, f], 0.0)
            identity[c, p, f] = n
    return PeopleObservations(points, scores, identity)
