"""Live pose: every person on every camera in 2D, each person in 3D, and who the worker is,
while someone watches.

A ``live-pose`` thread takes, from the cameras' latest-frame slots, the set of frames nearest
one instant, hands a downscaled copy of each to its camera's worker process (which follows up to
four people from one picture to the next: :mod:`live.workers`), matches the people across the
cameras, follows them from one frame set to the next and triangulates each with the active
calibration (:class:`reconstruction.instant.LivePeople`), decides who the worker is
(:class:`live.people.WorkerChoice`: the person clicked, else the one in the work area) and
pushes a ``pose3d`` event. It runs as fast as the workers answer, only while at least one client
asked for it; a worker that does not answer within :data:`ANSWER_TIMEOUT_S` is left out of that
frame set, so a starved worker slows the rate but never stops the loop.

The ``pose3d`` payload (every field of the single-person payload kept, for the older pages):

- ``seq``, ``t`` (ms, wall clock), ``rate`` (Hz), ``calibrated``;
- ``cameras``: per camera ``{"index", "points", "people"}``: ``points`` the main person's 33
  ``[x, y, score]`` (x, y normalized to the picture) or None, ``people`` every 2D person
  ``{"id" (the 3D person's id, None for nobody's), "points"}``;
- ``points3d``: the main person's 33 ``[x, y, z]`` (m) or None; the main person is the worker,
  else the person seen by the most cameras;
- ``people``: ``{"id", "points3d", "floor" [x, y] m, "views", "worker", "in_area", "chosen"}``;
- ``worker``, ``main``, ``chosen``: person ids or None; ``work_area`` [x0, y0, x1, y1] m or None;
- ``problems``: ``{"code", "message", ...}`` (codes as in the processing report);
- ``ergonomics``: the main person's live posture scores (:func:`live.ergonomics.pose_ergonomics`);
- ``frame_ns`` (monotonic arrival of the oldest frame used) and ``latency_ms`` (from it to the
  event being sent: glass to skeleton, within VSION).
"""
from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from live.ergonomics import pose_ergonomics
from live.people import WorkerChoice, lone_cameras
from live.workers import MAX_SIDE, PoseWorker, close_all, collect

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 5.0    # a worker slower than this on one frame set is left out of it
STRAGGLER_S = 1.0         # nor is a worker this much slower than the first to answer waited for
IDLE_STOP_S = 30.0        # workers are stopped after this long without a viewer
SIZE_TOLERANCE = 0.02
STALE_NS = 1_000_000_000  # a camera whose newest frame is older is skipped


def _rounded(points: np.ndarray, digits: int = 4) -> list:
    """(N, D) floats as lists, None for a row with a NaN."""
    return [None if not np.isfinite(p).all() else [round(float(v), digits) for v in p] for p in points]


class LivePose:
    """Owns the live pose thread and its worker processes. ``enable``/``disable`` are thread-safe."""

    def __init__(self, processor, settings, emit):
        self.processor = processor
        self.names = [c.name for c in settings.cameras]
        self.calibration_path = Path(settings.calibration_path)
        self._emit = emit
        self._clients: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-pose", daemon=True)
        self._workers: list[PoseWorker | None] = [None] * len(self.names)
        self._reformatters = [VideoReformatter() for _ in self.names]  # this thread's own
        self._calibration = (None, None)  # (mtime, CameraGroup | None)
        self._scene = (None, None, None, "none")  # (CameraGroup, LivePeople, WorkArea | None, its source)
        self._warned: set[str] = set()
        self.choice = WorkerChoice()
        self._pending_names: list[str] | None = None  # a new camera list, applied by the live-pose thread
        self.rate = 0.0
        self.seq = 0

    # ------------------------------------------------------------------ control
    def start(self) -> LivePose:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and the workers: returns within a few seconds whatever they do."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5.0)  # it checks the stop flag at least every 0.25 s
        self._close_workers()

    def enable(self, client: str, on: bool) -> dict:
        """Client ``client`` wants (or no longer wants) live pose; returns the state to show it."""
        with self._lock:
            (self._clients.add if on else self._clients.discard)(client)
        self._wake.set()
        group = self.calibration()
        return {"enabled": on, "available": True, "calibrated": group is not None,
                "message": None if group is not None else "live_pose_no_calibration", "chosen": self.choice.chosen}

    def set_cameras(self, names: list[str]) -> None:
        """The cameras changed (names in their new order): the live-pose thread takes the new
        list before its next frame set (workers of the cameras that stay are kept). Thread-safe."""
        with self._lock:
            self._pending_names = list(names)
        self._wake.set()

    def _take_cameras(self) -> None:
        """Apply a camera list given to :meth:`set_cameras` (in the live-pose thread)."""
        with self._lock:
            names, self._pending_names = self._pending_names, None
        if names is None:
            return
        workers = dict(zip(self.names, self._workers))
        self._workers = [workers.pop(name, None) for name in names]
        close_all(list(workers.values()))
        self.names = names
        self._reformatters = [VideoReformatter() for _ in names]
        self._calibration = (None, None)  # restricted to the old cameras
        self._scene = (None, None, None, "none")
        self._warned.clear()
        logger.info("live pose: cameras now %s", ", ".join(names))

    def forget(self, client: str) -> None:
        self.enable(client, False)

    def choose(self, person: int | None) -> dict:
        """Make ``person`` (an id of the live view) the worker while they stay in view; None: the
        work area decides. Raises :class:`live.people.ChoiceError`. Thread-safe."""
        return {"chosen": self.choice.choose(person)}

    def chosen_places(self, start_ns: int, stop_ns: int) -> list[list[float]]:
        """Where the chosen worker stood between two monotonic times (see
        :meth:`live.people.WorkerChoice.samples`). Thread-safe."""
        return self.choice.samples(start_ns, stop_ns)

    @property
    def wanted(self) -> bool:
        with self._lock:
            return bool(self._clients)

    # ------------------------------------------------------------------ calibration
    def calibration(self):
        """The active calibration restricted to this rig's cameras (None if fewer than two)."""
        from calibration.camera import CameraGroup
        from calibration.io import CalibrationFileError, load_toml

        try:
            mtime = self.calibration_path.stat().st_mtime_ns
        except OSError:
            return None
        if self._calibration[0] != mtime:
            try:
                group = load_toml(self.calibration_path)
                cams = [group[n] for n in self.names if n in group.names]
                group = CameraGroup(cams, dict(group.metadata)) if len(cams) >= 2 else None
            except (CalibrationFileError, OSError, ValueError) as exc:
                logger.warning("live pose: calibration %s unusable (%s)", self.calibration_path, exc)
                group = None
            self._calibration = (mtime, group)
        return self._calibration[1]

    def _scene_for(self, group):
        """The people follower and the work area of ``group``, made again when the calibration changes."""
        from reconstruction.instant import LivePeople
        from reconstruction.interest import work_area_for

        if self._scene[0] is not group:
            area, source = work_area_for(group) if group is not None else (None, "none")
            self._scene = (group, LivePeople(group) if group is not None else None, area, source)
            self.choice.forget()
        return self._scene

    # ------------------------------------------------------------------ workers
    def _close_workers(self) -> None:
        close_all(self._workers)
        self._workers = [None] * len(self._workers)

    def _worker(self, i: int) -> PoseWorker:
        worker = self._workers[i]
        if worker is None or worker.stuck(time.monotonic()):
            if worker is not None:
                logger.warning("live pose: the worker of camera %s %s; restarting it", self.names[i],
                               "ended" if not worker.process.is_alive() else "stopped answering")
                close_all([worker])
            worker = self._workers[i] = PoseWorker(multiprocessing.get_context("spawn"))
        return worker

    def _frames(self) -> dict[int, object]:
        """The frame of each delivering camera nearest the oldest of their latest frames."""
        recent = {i: slot.recent() for i, slot in enumerate(self.processor.slots)}
        recent = {i: frames for i, frames in recent.items() if frames and frames[-1].image is not None}
        if not recent:
            return {}
        now = time.monotonic_ns()
        recent = {i: f for i, f in recent.items() if now - f[-1].monotonic_ns < STALE_NS}  # stale: skip
        if not recent:
            return {}
        target = min(f[-1].monotonic_ns for f in recent.values())
        return {i: min(f, key=lambda fr: abs(fr.monotonic_ns - target)) for i, f in recent.items()}

    # ------------------------------------------------------------------ loop
    def _idle(self, idle_since: float) -> None:
        self.processor.set_image_demand("live pose", ())
        if any(self._workers) and time.monotonic() - idle_since > IDLE_STOP_S:
            self._close_workers()
        self.choice.forget()
        if self._scene[1] is not None:
            self._scene[1].reset()  # who is in view after a pause is found anew
        self._wake.wait(1.0)
        self._wake.clear()

    def _run(self) -> None:
        idle_since = time.monotonic()
        last = None
        while not self._stop.is_set():
            self._take_cameras()
            if self.processor.names != self.names:  # the cameras just changed: their list follows
                self._stop.wait(0.05)
                continue
            if not self.wanted:
                self._idle(idle_since)
                last = None
                continue
            idle_since = time.monotonic()
            self.processor.set_image_demand("live pose", range(len(self.names)))
            try:
                frames = self._frames()
                payload = self._estimate(frames) if frames else None
            except Exception:  # noqa: BLE001 - live pose must keep running whatever one frame set does
                logger.exception("live pose failed on one frame set")
                self._close_workers()
                self._stop.wait(1.0)
                continue
            if payload is None:
                self._stop.wait(0.05)
                continue
            now = time.monotonic()
            if last is not None:
                dt = now - last
                self.rate = 1.0 / dt if self.rate == 0 else 0.8 * self.rate + 0.2 / dt
            last = now
            payload["rate"] = round(self.rate, 2)
            payload["latency_ms"] = round((time.monotonic_ns() - payload["frame_ns"]) / 1e6, 1)
            self._emit("pose3d", payload)
        self.processor.set_image_demand("live pose", ())

    def _submit(self, frames: dict[int, object]) -> tuple[dict[int, PoseWorker], dict[int, tuple[int, int]], int]:
        """Give each idle worker its camera's frame: (workers given one, original sizes (w, h) px,
        arrival of the oldest frame given, monotonic ns)."""
        self.seq += 1
        given, sizes, oldest = {}, {}, None
        for i, frame in frames.items():
            worker = self._worker(i)
            worker.receive()  # a late answer to an earlier frame set: of no use now
            image = frame.image
            if image is None or not worker.idle:
                continue
            w, h = (image.width, image.height) if hasattr(image, "width") else (image.shape[1], image.shape[0])
            bgr = frame.bgr(min(w, int(w * MAX_SIDE / max(w, h))) // 2 * 2, self._reformatters[i])
            if bgr is None or not worker.submit(self.seq, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)):
                continue
            # A sub-stream's landmarks (normalized) are placed on the main stream's pictures, which
            # takes and the calibration are made of (the main stream's size for every camera).
            sizes[i] = self.processor.stream_size(i) or (w, h)
            given[i] = worker
            oldest = frame.monotonic_ns if oldest is None else min(oldest, frame.monotonic_ns)
        return given, sizes, oldest

    def _estimate(self, frames: dict[int, object]) -> dict | None:
        given, sizes, oldest = self._submit(frames)
        if not given:
            return None
        answers = collect(given, self.seq, ANSWER_TIMEOUT_S, STRAGGLER_S, self._stop)
        if not answers:
            return None
        group = self.calibration()
        payload = {"seq": self.seq, "t": int(time.time() * 1000), "calibrated": group is not None,
                   "frame_ns": oldest, "work_area": None, "people": [], "worker": None, "main": None,
                   "chosen": None, "problems": [], "points3d": None}
        if group is None:
            payload["cameras"] = self._cameras_2d(answers, None, {})
        else:
            self._with_people(payload, group, answers, sizes)
        payload["ergonomics"] = pose_ergonomics(payload["points3d"])  # the main person's posture scores
        return payload

    # ------------------------------------------------------------------ 2D and 3D
    def _calibrated_size(self, group, name: str, size: tuple[int, int]) -> bool:
        cam = group[name]
        w, h = size
        if abs(w - cam.size[0]) <= SIZE_TOLERANCE * cam.size[0] and abs(h - cam.size[1]) <= SIZE_TOLERANCE * cam.size[1]:
            return True
        if name not in self._warned:
            self._warned.add(name)
            logger.warning("live pose: camera %s delivers %dx%d but was calibrated at %dx%d; left out of 3D",
                           name, w, h, *cam.size)
        return False

    def _people2d(self, group, answers: dict, sizes: dict) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per calibrated camera (group order): its 2D people in px of its picture, or nobody."""
        out = []
        for name in group.names:
            i = self.names.index(name)
            answer = answers.get(i)
            if answer is None or not self._calibrated_size(group, name, sizes[i]):
                out.append((np.zeros((0, 33, 2), np.float32), np.zeros((0, 33), np.float32)))
                continue
            out.append((answer.points * np.array(sizes[i], np.float32), answer.scores))
        return out

    def _with_people(self, payload: dict, group, answers: dict, sizes: dict) -> dict:
        _, follower, area, _ = self._scene_for(group)
        people2d = self._people2d(group, answers, sizes)
        instant = follower.update(people2d, self.rate if self.rate > 0 else 5.0)
        lone = [group.names[c] for c in lone_cameras(instant, people2d)]
        verdict = self.choice.decide(instant, follower.tracker.people(), area, lone, time.monotonic_ns())
        owners = {self.names.index(name): instant.owners[c] for c, name in enumerate(group.names)}
        payload["cameras"] = self._cameras_2d(answers, verdict.main, owners)
        payload["people"] = [{"id": p.id, "points3d": _rounded(p.points), "floor": _rounded(p.floor[None], 3)[0],
                              "views": p.views, "worker": p.id == verdict.worker, "in_area": p.id in verdict.inside,
                              "chosen": p.id == verdict.chosen} for p in instant.people]
        main = instant.by_id(verdict.main) if verdict.main is not None else None
        payload.update(worker=verdict.worker, main=verdict.main, chosen=verdict.chosen,
                       work_area=area.as_list() if area is not None else None, problems=list(verdict.problems),
                       points3d=_rounded(main.points) if main is not None and np.isfinite(main.points).any() else None)
        return payload

    def _cameras_2d(self, answers: dict, main: int | None, owners: dict[int, np.ndarray]) -> list[dict]:
        """The ``cameras`` entries: every 2D person with the id of the 3D person they are, and the
        main person's points (without calibration: each camera's largest person)."""
        cameras = []
        for i in range(len(self.names)):
            answer = answers.get(i)
            if answer is None or not len(answer.ids):
                cameras.append({"index": i, "points": None, "people": []})
                continue
            ids = owners.get(i, np.zeros(len(answer.ids), int))
            rows = [np.column_stack([answer.points[k], answer.scores[k]]).round(4).tolist() for k in range(len(answer.ids))]
            people = [{"id": int(ids[k]) or None, "points": rows[k]} for k in range(len(rows))]
            if main is None:  # nobody in 3D (or no calibration): the camera's largest person
                pick = int(np.argmax(answer.sizes))
            else:
                pick = next((k for k in range(len(rows)) if ids[k] == main), None)
            cameras.append({"index": i, "points": rows[pick] if pick is not None else None, "people": people})
        return cameras
