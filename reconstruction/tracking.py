"""3D identities over time: the candidates of each frame linked into people.

Each person is a track whose centre (the torso's mean, see
:meth:`reconstruction.association.Candidates.centres`) moves at constant velocity between
frames (a velocity no faster than ``max_speed_mps``). At every frame the tracks and the frame's
candidates are matched by the Hungarian method on their distances (to the predicted centre, or
to the last one seen, whichever is nearer), within a gate that widens with the time a track has
gone unseen; confirmed tracks are served before tentative ones. A candidate left over starts a
tentative track, confirmed after ``confirm_s`` of nearly continuous presence; a track unseen
for ``max_missed_s`` ends. A candidate close to a person already matched at that frame, seen by
other cameras than theirs, is that person seen by cameras the association split off: it is
merged into them, not born as somebody new. People present for less than ``min_duration_s``
in all are dropped (a passing mismatch, not a person).

Pure; thread-safe (no shared state).
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingOptions:
    """Tracking settings: distances in m, speeds in m/s, durations in s."""

    gate_m: float = 0.5               # farthest a centre may be from its prediction one frame on
    max_speed_mps: float = 3.0        # widens the gate for each frame a person went unseen
    confirm_s: float = 0.1            # presence before a new person is believed (at least 3 frames)
    max_missed_s: float = 1.0         # absence after which a person has left
    min_duration_s: float = 0.3       # people seen for less are dropped
    duplicate_m: float = 0.3          # a candidate this close to a matched person is that person


DEFAULT_TRACKING = TrackingOptions()


@dataclass
class _Track:
    index: int
    position: np.ndarray
    velocity: np.ndarray
    last: int
    hits: int = 1
    confirmed: bool = False
    frames: list[tuple[int, int]] = field(default_factory=list)   # (frame, candidate)

    def predict(self, f: int) -> np.ndarray:
        return self.position + self.velocity * (f - self.last)

    def update(self, f: int, k: int, centre: np.ndarray, max_step: float) -> None:
        dt = f - self.last
        step = (centre - self.position) / max(dt, 1)
        # Nobody moves faster than max_step a frame: a centre thrown off by a poor candidate
        # must not throw the prediction off too.
        size = float(np.linalg.norm(step))
        if size > max_step:
            step *= max_step / size
        # Half the new step, half the old velocity: one noisy centre does not throw the prediction.
        self.velocity = step if self.hits == 1 else 0.5 * (self.velocity + step)
        self.position, self.last = centre, f
        self.hits += 1
        self.frames.append((f, k))


def _match(tracks: list[_Track], centres: np.ndarray, free: np.ndarray, f: int, options: TrackingOptions,
           fps: float) -> list[tuple[_Track, int]]:
    """Hungarian matching of ``tracks`` to the ``free`` candidates (indices into centres (K, 3)) within the gate."""
    if not tracks or not len(free):
        return []
    predicted = np.stack([t.predict(f) for t in tracks])
    last = np.stack([t.position for t in tracks])
    # Near the prediction, or near where they were last seen (should the velocity be off).
    cost = np.minimum(np.linalg.norm(predicted[:, None] - centres[free][None], axis=-1),
                      np.linalg.norm(last[:, None] - centres[free][None], axis=-1))
    gate = np.array([options.gate_m + options.max_speed_mps / fps * (f - t.last - 1) for t in tracks])
    big = 1e6
    cost = np.where(cost <= gate[:, None], cost, big)
    rows, cols = linear_sum_assignment(cost)
    return [(tracks[r], int(free[c])) for r, c in zip(rows, cols) if cost[r, c] < big]


def _duplicates(matched: list[tuple[_Track, int]], centres: np.ndarray, cameras: np.ndarray, free: np.ndarray,
                options: TrackingOptions) -> list[tuple[_Track, int]]:
    """Free candidates that are a matched person seen by other cameras: (that person's track, candidate)."""
    out = []
    for k in free:
        for track, j in matched:
            near = np.linalg.norm(centres[k] - centres[j]) < options.duplicate_m
            if near and not (cameras[k] & cameras[j]).any():
                out.append((track, int(k)))
                break
    return out


def _step(f: int, tracks: list[_Track], centres: np.ndarray, cameras: np.ndarray, options: TrackingOptions,
          fps: float, merged: list[tuple[int, int, int]], numbers: Iterator[int]) -> list[_Track]:
    """Advance every track to frame f; returns the tracks still alive (new ones included)."""
    free = np.flatnonzero(np.isfinite(centres).all(axis=1))
    matched = []
    for confirmed in (True, False):
        group = [t for t in tracks if t.confirmed == confirmed]
        pairs = _match(group, centres, free, f, options, fps)
        for track, k in pairs:
            track.update(f, k, centres[k], options.max_speed_mps / fps)
        matched += pairs
        free = np.setdiff1d(free, [k for _, k in pairs])
    for track, k in _duplicates(matched, centres, cameras, free, options):
        merged.append((f, k, track.index))
        free = free[free != k]
    confirm = max(3, int(round(options.confirm_s * fps)))
    max_missed = max(1, int(round(options.max_missed_s * fps)))
    alive = []
    for t in tracks:
        t.confirmed = t.confirmed or t.hits >= confirm
        # A tentative track must be seen nearly every frame; a confirmed one may go unseen a while.
        if f - t.last <= (max_missed if t.confirmed else 2):
            alive.append(t)
    for k in free:
        t = _Track(next(numbers), centres[k].copy(), np.zeros(3), f)
        t.frames.append((f, int(k)))
        alive.append(t)
    return alive


def track_people(centres: np.ndarray, cameras: np.ndarray, fps: float,
                 options: TrackingOptions = TrackingOptions()) -> np.ndarray:
    """Link per-frame candidates into people.

    ``centres`` (F, K, 3) m, NaN where there is no candidate; ``cameras`` (F, K, C) bool, the
    cameras of each candidate; ``fps`` frames per second. Returns (F, K) int: the person of each
    candidate, 0..N-1 in order of first appearance, -1 for candidates that are nobody.
    """
    F, K = centres.shape[:2]
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    tracks: list[_Track] = []
    finished: list[_Track] = []
    merged: list[tuple[int, int, int]] = []
    numbers = itertools.count()
    for f in range(F):
        alive = _step(f, tracks, centres[f], cameras[f], options, fps, merged, numbers)
        ids = {id(t) for t in alive}
        finished += [t for t in tracks if id(t) not in ids]
        tracks = alive
    everyone = [t for t in finished + tracks if t.confirmed]
    return _labels(everyone, merged, (F, K), max(1, int(round(options.min_duration_s * fps))))


def _labels(tracks: list[_Track], merged: list[tuple[int, int, int]], shape: tuple[int, int],
            min_frames: int) -> np.ndarray:
    """(F, K) person labels from the confirmed tracks that lasted ``min_frames`` frames, numbered by first frame."""
    kept = sorted((t for t in tracks if len(t.frames) >= min_frames), key=lambda t: t.frames[0][0])
    labels = np.full(shape, -1)
    number = {}
    for n, t in enumerate(kept):
        number[t.index] = n
        for f, k in t.frames:
            labels[f, k] = n
    for f, k, index in merged:
        if index in number:
            labels[f, k] = number[index]
    return labels


@dataclass(frozen=True)
class Followed:
    """One candidate's identity at the latest :meth:`OnlineTracker.update`: ``person`` the stable
    id (1, 2, ...; None while the track is not confirmed yet) and ``track`` the internal track."""

    person: int | None
    track: int


WALK_MPS = 1.5  # live updates come a fraction of a second apart: the gate widens by a walk's distance between two


class OnlineTracker:
    """:func:`track_people` one frame at a time, for live use: the same motion model, gates and
    confirmation, counted in updates (``rate_hz`` tells how far apart they are; the gate widens by
    :data:`WALK_MPS` / ``rate_hz``, the way a person walks between two updates).

    A confirmed person gets the smallest id (from 1) that no other living person holds, and
    keeps it until they are unseen for ``max_missed_s``. Not thread-safe: one caller feeds it.
    """

    def __init__(self, options: TrackingOptions = DEFAULT_TRACKING):
        self.options = options
        self._tracks: list[_Track] = []
        self._numbers = itertools.count()
        self._ids: dict[int, int] = {}   # track index -> person id
        self._frame = -1

    def reset(self) -> None:
        """Forget everybody (the next update starts from nobody)."""
        self._tracks, self._ids, self._frame = [], {}, -1

    def update(self, centres: np.ndarray, cameras: np.ndarray, rate_hz: float) -> list[Followed | None]:
        """Link this instant's candidates (``centres`` (K, 3) m, NaN for none; ``cameras`` (K, C)
        bool) to the people followed so far; ``rate_hz`` the updates per second (> 0). Returns,
        per candidate, who it is (None: nobody, e.g. a candidate without a centre)."""
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        self._frame += 1
        f = self._frame
        merged: list[tuple[int, int, int]] = []
        options = replace(self.options, gate_m=self.options.gate_m + WALK_MPS / rate_hz)
        self._tracks = _step(f, self._tracks, np.asarray(centres, np.float64), np.asarray(cameras, bool),
                             options, rate_hz, merged, self._numbers)
        self._name_confirmed()
        out: list[Followed | None] = [None] * len(centres)
        for t in self._tracks:
            if t.frames and t.frames[-1][0] == f:
                out[t.frames[-1][1]] = Followed(self._ids.get(t.index), t.index)
        for _, k, index in merged:
            out[k] = Followed(self._ids.get(index), index)
        for t in self._tracks:  # only the current frame is needed: keep memory bounded
            del t.frames[:-1]
        return out

    def _name_confirmed(self) -> None:
        alive = {t.index for t in self._tracks}
        self._ids = {index: person for index, person in self._ids.items() if index in alive}
        taken = set(self._ids.values())
        for t in self._tracks:
            if t.confirmed and t.index not in self._ids:
                person = next(n for n in itertools.count(1) if n not in taken)
                self._ids[t.index] = person
                taken.add(person)

    def people(self) -> list[int]:
        """The ids of the people followed now (seen lately, confirmed), ascending."""
        return sorted(self._ids.values())
