"""Several people: from every camera's 2D people to each person's 3D trajectory.

1. :func:`reconstruction.association.associate` matches the 2D people of the cameras into 3D
   candidates at every frame;
2. :func:`reconstruction.tracking.track_people` links the candidates into people over time;
3. each person's own 2D (the detections of their candidates, camera by camera) is triangulated
   with :func:`reconstruction.triangulate.triangulate` (robust DLT, left/right swaps undone,
   views of somebody else set aside) and filtered like a single person (spikes removed, short
   gaps filled, low-pass).

2D people that belong to nobody for a while are reported: a person that only one camera sees
cannot be reconstructed. Shapes: C cameras, P 2D people (tracks) per camera, F frames, 33 joints.
Pure; thread-safe.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraGroup

from . import filtering, metrics
from .association import MIN_JOINTS, Candidates, associate
from .interest import Problem
from .landmarks import INDEX
from .tracking import DEFAULT_TRACKING, TrackingOptions, track_people
from .triangulate import DEFAULT_MIN_SCORE, Triangulation, triangulate

logger = logging.getLogger(__name__)

LONE_S = 1.0   # a 2D person alone in its camera this long is reported


@dataclass(frozen=True, eq=False)
class Person:
    """One reconstructed person.

    ``id`` 1, 2, ... in order of first appearance. ``points`` (F, 33, 3) m, filtered, NaN where
    absent; ``triangulation`` the raw result of their 2D; ``points2d`` (C, F, 33, 2) px and
    ``scores2d`` (C, F, 33) their detections in every camera (NaN / 0 elsewhere); ``tracks``
    (C, F) int the 2D person (track index) each camera saw them as, -1 where none; ``present``
    (F,) bool the frames they were found on (before gap filling).
    """

    id: int
    points: np.ndarray
    triangulation: Triangulation
    points2d: np.ndarray
    scores2d: np.ndarray
    tracks: np.ndarray
    present: np.ndarray

    def floor(self) -> np.ndarray:
        """(F, 2) m: the pelvis (mid-hips) on the floor, NaN where unknown."""
        hips = (self.points[:, INDEX["left_hip"]] + self.points[:, INDEX["right_hip"]]) / 2
        return hips[:, :2]

    def summary(self, fps: float) -> dict:
        """id, frames present (count and [first, last] runs), mean limb lengths (m)."""
        runs = filtering._runs(self.present)
        variation = metrics.segment_variation(self.points)
        return {"id": self.id, "frames": int(self.present.sum()),
                "frames_present": [[int(a), int(b) - 1] for a, b in runs],
                "seconds": round(float(self.present.sum()) / fps, 3),
                "limb_lengths_m": {k: (None if v["mean_m"] is None else round(v["mean_m"], 4))
                                   for k, v in variation.items()},
                "mean_segment_cv_pct": metrics.mean_segment_cv(variation)}


@dataclass(frozen=True, eq=False)
class People:
    """Everybody reconstructed in a take: ``people`` (in id order), the per-frame ``candidates``,
    and ``lone`` (C, P) int: frames each 2D person was seen while belonging to nobody."""

    people: tuple[Person, ...]
    candidates: Candidates
    lone: np.ndarray

    def by_id(self, person: int) -> Person:
        return next(p for p in self.people if p.id == person)

    def problems(self, cameras: list[str], fps: float) -> list[Problem]:
        """A camera that sees somebody no other camera sees, for :data:`LONE_S` or more."""
        out = []
        for c, name in enumerate(cameras):
            frames = int(self.lone[c].max(initial=0))
            if frames >= LONE_S * fps:
                out.append(Problem("seen_by_one_camera", f"{name} sees a person that no other camera sees "
                                   f"({frames / fps:.1f} s): they cannot be reconstructed", camera=name))
        return out


def _own_2d(points: np.ndarray, scores: np.ndarray, members: np.ndarray,
            mine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's detections: (C, F, 33, 2) px, (C, F, 33) and their track index (C, F), -1 where none.

    ``members`` (F, K, C) track index per candidate, ``mine`` (F, K) bool: the person's candidates.
    """
    C, _, F = points.shape[:3]
    tracks = np.full((C, F), -1)
    f, k = np.nonzero(mine)
    for c in range(C):
        m = members[f, k, c]
        tracks[c, f[m >= 0]] = m[m >= 0]
    c, f = np.nonzero(tracks >= 0)
    own = np.full((C, F) + points.shape[3:], np.nan, np.float32)
    own_scores = np.zeros((C, F) + scores.shape[3:], np.float32)
    own[c, f] = points[c, tracks[c, f], f]
    own_scores[c, f] = scores[c, tracks[c, f], f]
    return own, own_scores, tracks


def _lone(points: np.ndarray, scores: np.ndarray, taken: np.ndarray, min_score: float) -> np.ndarray:
    """(C, P) frames each 2D person was seen (enough confident joints) without being anybody's."""
    seen = ((scores >= min_score) & np.isfinite(points).all(axis=-1)).sum(axis=-1) >= MIN_JOINTS
    return (seen & ~taken).sum(axis=-1)


def reconstruct_people(group: CameraGroup, points: np.ndarray, scores: np.ndarray, fps: float, *,
                       min_score: float = DEFAULT_MIN_SCORE, cutoff_hz: float | None = filtering.DEFAULT_CUTOFF_HZ,
                       max_gap: int = filtering.DEFAULT_MAX_GAP, tracking: TrackingOptions = DEFAULT_TRACKING,
                       timings: dict | None = None) -> People:
    """Every person's 3D trajectory from the 2D people of calibrated cameras.

    ``points`` (C, P, F, 33, 2) distorted px, NaN where missing; ``scores`` (C, P, F, 33) in
    0..1; cameras in ``group`` order; ``fps`` frames per second. ``cutoff_hz`` None: no
    low-pass. ``timings`` (if given) receives the seconds spent on ``association`` (with the
    tracking), ``triangulation`` and ``filtering``. Raises ValueError on bad shapes or a cutoff
    at or above half the frame rate.
    """
    timings = {} if timings is None else timings
    points = np.asarray(points, np.float32)
    scores = np.asarray(scores, np.float32)
    C, P, F = points.shape[:3]
    t0 = time.perf_counter()
    candidates = associate(group, points, scores, min_score=min_score)
    labels = track_people(candidates.centres(), candidates.members >= 0, fps, tracking)
    timings["association"] = round(time.perf_counter() - t0, 3)
    spent = {"triangulation": 0.0, "filtering": 0.0}
    people = []
    taken = np.zeros((C, P, F), bool)
    for n in range(int(labels.max(initial=-1)) + 1):
        own, own_scores, tracks = _own_2d(points, scores, candidates.members, labels == n)
        c, f = np.nonzero(tracks >= 0)
        taken[c, tracks[c, f], f] = True
        t1 = time.perf_counter()
        tri = triangulate(group, own, own_scores, min_score=min_score)
        t2 = time.perf_counter()
        smooth = filtering.smooth(tri.points, fps, cutoff_hz, max_gap)
        spent["triangulation"] += t2 - t1
        spent["filtering"] += time.perf_counter() - t2
        people.append(Person(n + 1, smooth, tri, own, own_scores, tracks, (labels == n).any(axis=1)))
    timings.update({k: round(v, 3) for k, v in spent.items()})
    logger.info("%d people reconstructed from %d cameras over %d frames", len(people), C, F)
    return People(tuple(people), candidates, _lone(points, scores, taken, min_score))
