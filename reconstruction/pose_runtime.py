"""Every person in every picture: BlazePose detection, per-person landmarks and tracking, for one camera.

:class:`MultiPoseEstimator` follows up to ``max_people`` people through the frames of one camera,
the way MediaPipe's pose graph follows one: each person's region of interest in a frame comes from
their landmarks in the frame before (:func:`reconstruction.blazepose.next_roi`), so the detector
runs only when needed. The detection policy:

- the detector runs on the first frame, on the frame after a person was lost (their pose flag fell
  below ``min_tracking_confidence``), and every ``detect_every`` frames while fewer than
  ``max_people`` are followed (to find newcomers);
- a detection whose region overlaps a followed person's region by more than ``duplicate_iou``
  is that person, and is dropped; the others start new tracks, best score first, unless their
  landmarks span less than ``min_extent`` of their region (a crumpled pose the landmark model
  makes up in part of someone else's body);
- after the landmarks, two people whose median landmark distance is below ``duplicate_distance``
  times their region side are one person seen twice: the younger track is dropped;
- a new track takes the id of a track lost less than ``forget_frames`` ago whose last region
  overlaps its own by more than ``reuse_iou``, else the next unused id, so a person who vanishes
  for a few frames keeps their id.

With one person in view this is MediaPipe's legacy Pose in video mode (``static_image_mode=False``,
``smooth_landmarks=False``), step for step, plus a detector run every ``detect_every`` frames.

The video-level helpers (:func:`stack_people`, :func:`link_tracks`, :func:`main_track`) turn the
per-frame answers into arrays with a person axis.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .blazepose import AUX_FILTER, N_LANDMARKS, Detector, LandmarkModel, OneEuroFilter, Roi, next_roi
from .landmarks import INDEX, N_JOINTS

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One person in one picture.

    ``track_id``: stable for this person within the estimator's frames (ids start at 0);
    ``points``: ``(33, 2)`` float32 px of the picture (may fall outside it for landmarks guessed
    off-screen); ``scores``: ``(33,)`` float32 landmark visibility in [0, 1]; ``roi``: the region the
    landmarks were read in; ``presence``: the model's pose flag in [0, 1].
    """

    track_id: int
    points: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    roi: Roi
    presence: float


@dataclass(eq=False)
class _Track:
    track_id: int  # -1 until the track survives its first frame
    roi: Roi  # where to look in the next frame
    smoother: OneEuroFilter  # of the auxiliary landmarks that place the next region


@dataclass(frozen=True)
class _Lost:
    track_id: int
    roi: Roi
    frame: int


class MultiPoseEstimator:
    """Follows up to ``max_people`` people through consecutive frames of one camera.

    Not thread-safe: it keeps tracking state and owns two TFLite interpreters; give each thread or
    process its own, feed it frames in order, call :meth:`reset` before a frame that does not follow
    the previous one. See the module docstring for the detection policy.
    """

    def __init__(self, max_people: int = 4, detect_every: int = 30, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, duplicate_iou: float = 0.7, duplicate_distance: float = 0.1,
                 min_extent: float = 0.45, reuse_iou: float = 0.3, retry_every: int = 10,
                 forget_frames: int = 30, tiles: bool = True, num_threads: int = 1, batch: bool = False):
        if max_people < 1 or detect_every < 1:
            raise ValueError(f"max_people and detect_every must be at least 1, got {max_people}, {detect_every}")
        self.max_people, self.detect_every, self.retry_every = max_people, detect_every, retry_every
        self.min_tracking_confidence = min_tracking_confidence
        self.duplicate_iou, self.duplicate_distance = duplicate_iou, duplicate_distance
        self.min_extent, self.reuse_iou, self.forget_frames = min_extent, reuse_iou, forget_frames
        self.detector = Detector(min_score=min_detection_confidence, num_threads=num_threads, tiles=tiles)
        self.landmarks = LandmarkModel(num_threads=num_threads, batch=batch)
        self.reset()

    def reset(self) -> None:
        """Forget everyone: the next frame runs the detector and ids start again at 0."""
        self._tracks: list[_Track] = []
        self._lost: list[_Lost] = []
        self._frame = 0
        self._last_detection = -self.detect_every
        self._lost_last_frame = False
        self._next_id = 0
        self.detections = 0  # detector runs since the last reset (for benchmarks)

    def _needs_detection(self) -> bool:
        if not self._tracks or self._lost_last_frame:
            return True
        every = self.retry_every if self._lost else self.detect_every
        return len(self._tracks) < self.max_people and self._frame - self._last_detection >= every

    def _new_regions(self, rgb: np.ndarray) -> list[Roi]:
        """Regions of detected people who are not followed yet, best first."""
        self._last_detection = self._frame
        self.detections += 1
        taken = [t.roi for t in self._tracks]
        new: list[Roi] = []
        for detection in self.detector(rgb):
            roi = detection.roi
            if roi.size <= 0 or any(roi.iou(other) > self.duplicate_iou for other in taken + new):
                continue
            new.append(roi)
            if len(self._tracks) + len(new) >= self.max_people:
                break
        return new

    def process(self, rgb: np.ndarray) -> list[PersonPose]:
        """Everyone in one ``(H, W, 3)`` uint8 RGB frame, by track id."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        new = self._new_regions(rgb) if self._needs_detection() else []
        rois = [t.roi for t in self._tracks] + new
        found = self.landmarks(rgb, rois)
        kept: list[tuple[_Track, PersonPose]] = []
        lost_now = False
        for i, roi in enumerate(rois):
            track = self._tracks[i] if i < len(self._tracks) else None
            if found.flag[i] < self.min_tracking_confidence:
                logger.debug("frame %d: track %d lost (pose flag %.2f)", self._frame, -1 if track is None else
                             track.track_id, found.flag[i])
                if track is not None:
                    self._lost.append(_Lost(track.track_id, roi, self._frame))
                    lost_now = True
                continue
            pose = PersonPose(-1 if track is None else track.track_id, found.points[i, :N_LANDMARKS].copy(),
                              found.visibility[i, :N_LANDMARKS].copy(), roi, float(found.flag[i]))
            if track is None and np.ptp(pose.points, axis=0).max() < self.min_extent * roi.size:
                logger.debug("frame %d: a detection gave a crumpled pose, dropped", self._frame)
                continue
            twin = next((other for other, seen in kept if self._same_person(pose, seen)), None)
            if twin is not None:  # tracks come oldest first: the younger one goes
                logger.debug("frame %d: track %d is track %d seen twice", self._frame, pose.track_id, twin.track_id)
                continue
            if track is None:
                track = _Track(-1, roi, OneEuroFilter(*AUX_FILTER))
            track.roi = next_roi(found.points[i], track.smoother)
            kept.append((track, pose))
        return self._commit(kept, lost_now)

    def _same_person(self, a: PersonPose, b: PersonPose) -> bool:
        """Whether two answers are one person: their median landmark distance is below
        ``duplicate_distance`` times their mean region side."""
        gap = float(np.median(np.linalg.norm(a.points - b.points, axis=1)))
        return gap < self.duplicate_distance * (a.roi.size + b.roi.size) / 2

    def _commit(self, kept: list[tuple[_Track, PersonPose]], lost_now: bool) -> list[PersonPose]:
        self._lost = [lost for lost in self._lost if self._frame - lost.frame <= self.forget_frames]
        out = []
        for track, pose in kept:
            if track.track_id < 0:
                track.track_id = self._claim_id(pose.roi)
                pose = PersonPose(track.track_id, pose.points, pose.scores, pose.roi, pose.presence)
            out.append(pose)
        self._tracks = [track for track, _ in kept]
        self._lost_last_frame = lost_now
        self._frame += 1
        return sorted(out, key=lambda p: p.track_id)

    def _claim_id(self, roi: Roi) -> int:
        """The id of the lost track that best overlaps ``roi``, else a new one."""
        best, best_iou = None, self.reuse_iou
        for lost in self._lost:
            iou = roi.iou(lost.roi)
            if iou > best_iou:
                best, best_iou = lost, iou
        if best is not None:
            self._lost.remove(best)
            return best.track_id
        self._next_id += 1
        return self._next_id - 1


# ---------------------------------------------------------------------------------------------- video level
@dataclass(frozen=True, eq=False)
class PeopleArrays:
    """The people of consecutive frames: ``points`` ``(P, F, 33, 2)`` float32 px, NaN where a person
    is missing; ``scores`` ``(P, F, 33)`` float32 visibility, 0 there; ``sizes`` ``(P, F)`` float32
    region side (px), 0 there; ``ids`` ``(P,)`` the track ids, ordered by first appearance."""

    points: np.ndarray
    scores: np.ndarray
    sizes: np.ndarray
    ids: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """``(P, F)`` bool: whether each person was found in each frame."""
        return self.sizes > 0


def stack_people(frames: Sequence[Sequence[PersonPose]]) -> PeopleArrays:
    """Per-frame answers of :meth:`MultiPoseEstimator.process` as arrays with a person axis."""
    order: list[int] = []
    for people in frames:
        for person in people:
            if person.track_id not in order:
                order.append(person.track_id)
    row = {track_id: i for i, track_id in enumerate(order)}
    n, p = len(frames), len(order)
    points = np.full((p, n, N_JOINTS, 2), np.nan, np.float32)
    scores = np.zeros((p, n, N_JOINTS), np.float32)
    sizes = np.zeros((p, n), np.float32)
    for f, people in enumerate(frames):
        for person in people:
            i = row[person.track_id]
            points[i, f], scores[i, f], sizes[i, f] = person.points, person.scores, person.roi.size
    return PeopleArrays(points, scores, sizes, np.asarray(order, np.int64))


def main_track(sizes: np.ndarray) -> int | None:
    """Row of the person with the most and largest presence: the largest sum of region sides over
    the frames (``sizes`` ``(P, F)`` px, 0 where absent); ``None`` when nobody was seen."""
    if sizes.size == 0 or not sizes.any():
        return None
    return int(np.argmax(sizes.sum(axis=1)))


def _ends(present: np.ndarray, window: int, last: bool) -> list[int | None]:
    """For each person, the frame nearest the start (``last=False``) or the end of ``present``
    ``(P, F)`` among the ``window`` frames there, where they are present; ``None`` if none."""
    frames = present.shape[1]
    span = range(frames - 1, max(-1, frames - 1 - window), -1) if last else range(min(window, frames))
    out: list[int | None] = []
    for row in present:
        out.append(next((f for f in span if row[f]), None))
    return out


def link_tracks(before: PeopleArrays, after: PeopleArrays, window: int = 5, max_distance: float = 0.25) -> dict[int, int]:
    """Which rows of ``after`` (a chunk of frames) continue which rows of ``before`` (the frames just
    before it), by landmark proximity across the boundary.

    A person's position is taken on their last frame among the last ``window`` of ``before`` and
    their first among the first ``window`` of ``after``; the cost of a pair is the median landmark
    distance divided by the person's region side; pairs are assigned (Hungarian) up to
    ``max_distance``. Returns ``{row of after: row of before}``.
    """
    ends, starts = _ends(before.present, window, last=True), _ends(after.present, window, last=False)
    cost = np.full((len(ends), len(starts)), np.inf)
    for i, fi in enumerate(ends):
        for j, fj in enumerate(starts):
            if fi is None or fj is None:
                continue
            gap = np.linalg.norm(before.points[i, fi] - after.points[j, fj], axis=-1)
            scale = max(float(before.sizes[i, fi]), float(after.sizes[j, fj]), 1.0)
            cost[i, j] = float(np.nanmedian(gap)) / scale
    finite = np.where(np.isfinite(cost), cost, 1e9)
    rows, cols = linear_sum_assignment(finite) if cost.size else ([], [])
    return {int(j): int(i) for i, j in zip(rows, cols) if cost[i, j] <= max_distance}


def join_chunks(chunks: Sequence[PeopleArrays], window: int = 5, max_distance: float = 0.25) -> PeopleArrays:
    """Consecutive chunks (each tracked from scratch) as one :class:`PeopleArrays` whose rows are the
    same people over the whole video: each chunk's people are linked to the previous chunk's by
    :func:`link_tracks`; unlinked people get new rows, in order of first appearance."""
    total = sum(c.points.shape[1] for c in chunks)
    rows: list[dict] = []  # per global person: {"start": frame, "parts": [(chunk index, row)]}
    previous: dict[int, int] = {}  # row of the previous chunk -> global person
    for k, chunk in enumerate(chunks):
        links = link_tracks(chunks[k - 1], chunk, window, max_distance) if k else {}
        current: dict[int, int] = {}
        for row in range(chunk.points.shape[0]):
            person = previous.get(links[row]) if row in links else None
            if person is None:
                person = len(rows)
                rows.append({"parts": []})
            rows[person]["parts"].append((k, row))
            current[row] = person
        previous = current
    return _assemble(chunks, rows, total)


def _assemble(chunks: Sequence[PeopleArrays], rows: list[dict], total: int) -> PeopleArrays:
    starts = np.cumsum([0] + [c.points.shape[1] for c in chunks])
    points = np.full((len(rows), total, N_JOINTS, 2), np.nan, np.float32)
    scores = np.zeros((len(rows), total, N_JOINTS), np.float32)
    sizes = np.zeros((len(rows), total), np.float32)
    for person, entry in enumerate(rows):
        for k, row in entry["parts"]:
            span = slice(starts[k], starts[k + 1])
            points[person, span], scores[person, span] = chunks[k].points[row], chunks[k].scores[row]
            sizes[person, span] = chunks[k].sizes[row]
    first = [int(np.argmax(s > 0)) if (s > 0).any() else total for s in sizes]
    order = np.argsort(first, kind="stable")
    return PeopleArrays(points[order], scores[order], sizes[order], np.arange(len(rows), dtype=np.int64))


def identity_jumps(points: np.ndarray, max_step: float = 0.25) -> int:
    """How many times a person's row seems to jump to someone else, in ``points`` ``(P, F, 33, 2)`` px
    (NaN where absent): their hip centre (mean of the two hips) moves more than ``max_step`` times
    their size (the larger side of their landmarks' bounding box) between two consecutive frames."""
    hips = points[:, :, [INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=2)  # (P, F, 2)
    size = (np.fmax.reduce(points, axis=2) - np.fmin.reduce(points, axis=2)).max(axis=-1)  # NaN where absent
    step = np.linalg.norm(np.diff(hips, axis=1), axis=-1)  # NaN unless present in both frames
    with np.errstate(invalid="ignore"):
        return int(np.sum(step > max_step * size[:, 1:]))
