"""Who the worker is in the live view, what is wrong with the scene, and where a chosen worker stood.

The worker (the person of interest) is the person a user clicked in the live view while they
stay in view; otherwise the person inside the work area (the one already taken while they stay
in it, else the one seen by the most cameras). The problems shown are those of the processing
report (:mod:`reconstruction.interest`), with the same codes, once they have lasted
:data:`PERSIST_S`: ``no_one_in_work_area``, ``several_in_work_area`` and
``seen_by_one_camera``.

While a chosen person is in view, their floor position is kept every :data:`SAMPLE_S` (for
:data:`KEEP_S` at most): a take recorded meanwhile keeps those positions, and its processing
takes the person found there as the worker (:func:`reconstruction.interest.nearest_to_hint`),
since the live ids mean nothing to the processing, which follows people anew.
"""
from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from common.errors import ServiceError
from reconstruction.association import MIN_JOINTS
from reconstruction.instant import Instant, InstantPerson
from reconstruction.interest import WorkArea
from reconstruction.triangulate import DEFAULT_MIN_SCORE

logger = logging.getLogger(__name__)

PERSIST_S = 1.0        # a problem is shown once it has lasted this long
SAMPLE_S = 0.2         # a chosen worker's place is kept this often
KEEP_S = 4 * 3600.0    # and for this long (the longest take and then some)


class ChoiceError(ServiceError):
    """The person clicked cannot be chosen (no longer in view); the message says so."""


@dataclass(frozen=True)
class Verdict:
    """One frame set's decision: the ``worker`` (id or None), the ``main`` person the older
    clients are shown (the worker, else the person seen by the most cameras), who is ``inside``
    the work area, the ``chosen`` person (clicked, still followed) and the ``problems``
    (``{"code", "message", ...}`` dicts, codes as in the processing report)."""

    worker: int | None
    main: int | None
    inside: tuple[int, ...]
    chosen: int | None
    problems: tuple[dict, ...] = field(default=())


def _most_seen(people: list[InstantPerson]) -> int | None:
    return min(people, key=lambda p: (-p.views, p.id)).id if people else None


def lone_cameras(instant: Instant, people2d: list[tuple[np.ndarray, np.ndarray]],
                 min_score: float = DEFAULT_MIN_SCORE) -> list[int]:
    """Cameras (group order) that see somebody (enough confident joints) who is nobody in 3D."""
    out = []
    for c, ((_, scores), owners) in enumerate(zip(people2d, instant.owners)):
        seen = (np.asarray(scores) >= min_score).sum(axis=-1) >= MIN_JOINTS
        if (seen & (owners == 0)).any():
            out.append(c)
    return out


class WorkerChoice:
    """The live worker and the scene's problems. :meth:`choose` and :meth:`samples` may be called
    from any thread; :meth:`decide` from the live pose thread only."""

    def __init__(self):
        self._lock = threading.Lock()
        self._chosen: int | None = None
        self._followed: set[int] = set()      # ids followed at the last frame set
        self._worker: int | None = None
        self._since: dict[str, float] = {}    # problem key -> when it was first met (monotonic s)
        self._samples: collections.deque = collections.deque(maxlen=int(KEEP_S / SAMPLE_S))
        self._next_sample_ns = 0

    @property
    def chosen(self) -> int | None:
        with self._lock:
            return self._chosen

    def choose(self, person: int | None) -> int | None:
        """Make ``person`` the worker while they stay in view (None: the work area decides again).
        Raises :class:`ChoiceError` for somebody not followed now. Thread-safe."""
        with self._lock:
            if person is not None and person not in self._followed:
                raise ChoiceError(f"person {person} is not in view any more: click a person shown now")
            self._chosen = person
            self._since.clear()
        logger.info("live pose: %s", f"person {person} chosen as the worker" if person else "the work area decides")
        return person

    def forget(self) -> None:
        """Nobody is followed any more (live pose paused): the choice lapses."""
        with self._lock:
            self._chosen, self._worker, self._followed = None, None, set()
            self._since.clear()

    def samples(self, start_ns: int, stop_ns: int) -> list[list[float]]:
        """Where a chosen worker stood between two monotonic times (ns): rows [time (s) from
        ``start_ns``, x (m), y (m)], oldest first. Thread-safe."""
        with self._lock:
            rows = [row for row in self._samples if start_ns <= row[0] <= stop_ns]
        return [[round((t - start_ns) / 1e9, 3), round(x, 3), round(y, 3)] for t, x, y in rows]

    def decide(self, instant: Instant, followed: list[int], area: WorkArea | None, lone: list[str],
               now_ns: int) -> Verdict:
        """The worker and the problems at this frame set: ``followed`` the ids alive in the
        tracker (seen lately), ``lone`` the names of the cameras seeing somebody nobody is made
        of, ``now_ns`` the monotonic time (ns)."""
        people = list(instant.people)
        inside = tuple(p.id for p in people if area is not None and bool(area.contains(p.floor)))
        with self._lock:
            self._followed = set(followed)
            if self._chosen is not None and self._chosen not in self._followed:
                logger.info("live pose: person %d, chosen as the worker, left", self._chosen)
                self._chosen = None
            chosen = self._chosen
        worker = self._pick(instant, inside, chosen)
        self._keep_sample(instant, chosen, now_ns)
        main = worker if worker is not None else _most_seen(people)
        problems = self._problems(people, inside, chosen, area, lone, now_ns / 1e9)
        return Verdict(worker, main, inside, chosen, tuple(problems))

    def _pick(self, instant: Instant, inside: tuple[int, ...], chosen: int | None) -> int | None:
        if chosen is not None:
            worker = chosen if instant.by_id(chosen) is not None else None
        elif self._worker in inside:
            worker = self._worker  # whoever was taken stays the worker while inside
        else:
            worker = _most_seen([p for p in instant.people if p.id in inside])
        self._worker = worker
        return worker

    def _keep_sample(self, instant: Instant, chosen: int | None, now_ns: int) -> None:
        person = instant.by_id(chosen) if chosen is not None else None
        if person is None or now_ns < self._next_sample_ns:
            return
        x, y = (float(v) for v in person.floor)
        if np.isfinite([x, y]).all():
            with self._lock:
                self._samples.append((now_ns, x, y))
            self._next_sample_ns = now_ns + int(SAMPLE_S * 1e9)

    def _problems(self, people: list[InstantPerson], inside: tuple[int, ...], chosen: int | None,
                  area: WorkArea | None, lone: list[str], now: float) -> list[dict]:
        met: dict[str, dict] = {}
        if people and area is not None and not inside and chosen is None:
            met["no_one_in_work_area"] = {"code": "no_one_in_work_area", "message": "nobody is in the work area "
                                          f"({area.describe()})"}
        if len(inside) >= 2 and chosen is None:
            met["several_in_work_area"] = {"code": "several_in_work_area", "people": list(inside),
                                           "message": f"{len(inside)} people are in the work area: click the worker "
                                                      "to choose them"}
        for name in lone:
            met[f"seen_by_one_camera:{name}"] = {"code": "seen_by_one_camera", "camera": name,
                                                 "message": f"{name} sees a person that no other camera sees: "
                                                            "they cannot be placed in 3D"}
        self._since = {key: self._since.get(key, now) for key in met}
        return [problem for key, problem in met.items() if now - self._since[key] >= PERSIST_S]
