"""Everybody at one instant, for the live view: each camera's 2D people of one frame set matched
across the cameras (:func:`reconstruction.association.associate`), followed from one frame set to
the next (:class:`reconstruction.tracking.OnlineTracker`) and triangulated
(:func:`reconstruction.triangulate.triangulate`, left/right swaps undone per person).

No filtering: the live view shows each frame set as it comes. Shapes: C cameras (in the
calibration's order), P_c 2D people in camera c, 33 joints; pixels are distorted image pixels of
the calibrated picture size. Not thread-safe (:class:`LivePeople` keeps the tracker's state).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraGroup

from .association import associate
from .landmarks import INDEX, N_JOINTS
from .tracking import DEFAULT_TRACKING, OnlineTracker, TrackingOptions
from .triangulate import DEFAULT_MIN_SCORE, triangulate

logger = logging.getLogger(__name__)

_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]


@dataclass(frozen=True, eq=False)
class InstantPerson:
    """One person at this instant: ``id`` stable while they are followed (1, 2, ...); ``points``
    (33, 3) m, world frame, NaN where unknown; ``members`` (C,) int: which of each camera's 2D
    people they are (-1 where that camera does not see them); ``centre`` (3,) m, their torso's
    centre as the association found it."""

    id: int
    points: np.ndarray
    members: np.ndarray
    centre: np.ndarray

    @property
    def floor(self) -> np.ndarray:
        """(2,) m: the pelvis (mid-hips) on the floor, else the torso's centre; NaN if neither is known."""
        hips = self.points[_HIPS]
        if np.isfinite(hips).all():
            return hips.mean(axis=0)[:2]
        return self.centre[:2].copy()

    @property
    def views(self) -> int:
        """How many cameras see them."""
        return int((self.members >= 0).sum())


@dataclass(frozen=True, eq=False)
class Instant:
    """The people of one frame set (id order) and, per camera, the id of the person each 2D person
    is (``owners``: C arrays (P_c,) int, 0 for a 2D person nobody was made of)."""

    people: tuple[InstantPerson, ...]
    owners: tuple[np.ndarray, ...]

    def by_id(self, person: int) -> InstantPerson | None:
        return next((p for p in self.people if p.id == person), None)


def _padded(people2d: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-camera 2D people as (C, P, 1, 33, 2) px and (C, P, 1, 33), padded with NaN / 0."""
    P = max(1, max((len(points) for points, _ in people2d), default=0))
    points = np.full((len(people2d), P, 1, N_JOINTS, 2), np.nan, np.float32)
    scores = np.zeros((len(people2d), P, 1, N_JOINTS), np.float32)
    for c, (p, s) in enumerate(people2d):
        if len(p):
            points[c, :len(p), 0], scores[c, :len(p), 0] = p, s
    return points, scores


class LivePeople:
    """Follows the people that the calibrated cameras see, one frame set at a time.

    ``group``: the calibration (its camera order is the order of :meth:`update`'s input).
    """

    def __init__(self, group: CameraGroup, min_score: float = DEFAULT_MIN_SCORE,
                 tracking: TrackingOptions = DEFAULT_TRACKING):
        self.group, self.min_score = group, min_score
        self.tracker = OnlineTracker(tracking)

    def reset(self) -> None:
        """Forget everybody (after a pause: the next people are new)."""
        self.tracker.reset()

    def _members(self, candidates, followed) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Person id -> (members (C,), centre (3,)) at this instant, a person's candidates joined."""
        members, centres = candidates.members[0], candidates.centres()[0]
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k, who in enumerate(followed):
            if who is None or who.person is None:
                continue
            if who.person in out:  # a candidate merged into this person: the cameras it adds
                mine, centre = out[who.person]
                out[who.person] = (np.where(mine >= 0, mine, members[k]), centre)
            else:
                out[who.person] = (members[k].copy(), centres[k])
        return out

    def update(self, people2d: list[tuple[np.ndarray, np.ndarray]], rate_hz: float) -> Instant:
        """The people of one frame set: ``people2d`` per camera (group order) a pair of
        (P_c, 33, 2) px and (P_c, 33) landmark scores; ``rate_hz`` how many frame sets come a
        second (> 0). Raises ValueError when the camera count is not the calibration's."""
        if len(people2d) != len(self.group):
            raise ValueError(f"{len(people2d)} cameras of 2D people but {len(self.group)} in the calibration")
        points, scores = _padded(people2d)
        candidates = associate(self.group, points, scores, min_score=self.min_score)
        followed = self.tracker.update(candidates.centres()[0], candidates.members[0] >= 0, rate_hz)
        found = self._members(candidates, followed)
        owners = tuple(np.zeros(len(p), int) for p, _ in people2d)
        if not found:
            return Instant((), owners)
        ids = sorted(found)
        C = len(self.group)
        own = np.full((C, len(ids), N_JOINTS, 2), np.nan, np.float32)
        own_scores = np.zeros((C, len(ids), N_JOINTS), np.float32)
        for n, person in enumerate(ids):
            for c, m in enumerate(found[person][0]):
                if m >= 0:
                    own[c, n], own_scores[c, n] = points[c, m, 0], scores[c, m, 0]
                    owners[c][m] = person
        # One "frame" per person: the triangulation is vectorised over frames.
        solved = triangulate(self.group, own, own_scores, min_score=self.min_score).points
        people = tuple(InstantPerson(person, solved[n], found[person][0], found[person][1])
                       for n, person in enumerate(ids))
        return Instant(people, owners)
