"""The live pose's worker processes: one per camera, following every person in that camera's frames.

Each worker holds a :class:`reconstruction.pose_runtime.MultiPoseEstimator` (BlazePose on the
TFLite runtime: light to import, no MediaPipe graph) and runs at a lower CPU priority than
capture and recording. Processes rather than threads: measured side by side on the Pose2Sim
``Demo_MultiPerson`` frames (4 cameras, 2 shared cores), four estimator threads and four
processes gave the same frame sets per second, but the threads' Python steps held the GIL long
enough to double the 99th-percentile wake-up delay of the process's other threads (the cameras').

Nothing here blocks without a bound:

- a picture goes through shared memory (:data:`FRAME_BYTES` per worker); the pipe carries only
  small messages (the request, the answer: a few kB), one in flight per worker, so sending never
  waits on a pipe buffer;
- the caller waits for answers with a deadline (:func:`collect`); a worker that has not answered
  is skipped until it does, and one silent for :data:`STUCK_S` is killed and replaced;
- :meth:`PoseWorker.close` asks, then terminates, then kills, within :data:`CLOSE_S`;
- a worker whose parent died exits within a second.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.shared_memory import SharedMemory

import numpy as np

logger = logging.getLogger(__name__)

MAX_SIDE = 640            # pictures sent to a worker fit in 640x640 px (the detector works at 224, landmarks at 256)
FRAME_BYTES = MAX_SIDE * MAX_SIDE * 3
WORKER_NICE = 10          # below capture and recording
MAX_PEOPLE = 4            # people followed per camera
DETECT_EVERY = 10         # frame sets between two looks for newcomers (about 2 s live)
STUCK_S = 10.0            # a worker silent this long on one picture is replaced
START_S = 60.0            # a worker not ready this long after its start (loaded machine: imports are slow) too
CLOSE_S = 2.0             # how long a worker is given to end by itself, then to die when terminated
RESET_AFTER_S = 1.0       # a worker given no picture for this long starts its tracking afresh


@dataclass(frozen=True, eq=False)
class Answer:
    """A worker's people in one picture: ``ids`` (P,) track ids (per camera), ``points`` (P, 33, 2)
    float32 normalized to the picture (0..1), ``scores`` (P, 33) float32, ``sizes`` (P,) region
    side as a fraction of the picture's larger side (how big each person looks)."""

    seq: int
    ids: np.ndarray
    points: np.ndarray
    scores: np.ndarray
    sizes: np.ndarray


def _serve(conn, shm_name: str, nice: int, max_people: int, detect_every: int) -> None:
    """A worker process: answer each (seq, h, w, reset) with the people of the picture in shared memory."""
    from reconstruction.pose2d import quiet_native_logs
    from reconstruction.pose_runtime import MultiPoseEstimator

    quiet_native_logs()
    if nice:
        os.nice(nice)
    parent = os.getppid()
    shm = SharedMemory(name=shm_name)
    estimator = MultiPoseEstimator(max_people=max_people, detect_every=detect_every)
    try:
        conn.send("ready")
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent:
                    return  # orphaned: the server died
                continue
            message = conn.recv()
            if message is None:
                return
            seq, h, w, reset = message
            if reset:
                estimator.reset()
            rgb = np.ndarray((h, w, 3), np.uint8, shm.buf).copy()
            people = estimator.process(rgb)
            scale = np.array([w, h], np.float32)
            conn.send(Answer(seq, np.array([p.track_id for p in people], np.int64),
                             np.array([p.points / scale for p in people], np.float32).reshape(-1, 33, 2),
                             np.array([p.scores for p in people], np.float32).reshape(-1, 33),
                             np.array([p.roi.size / max(h, w) for p in people], np.float32)))
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        shm.close()


class PoseWorker:
    """One camera's worker process, its shared picture buffer and its pipe. Used by one thread."""

    def __init__(self, ctx, max_people: int = MAX_PEOPLE, detect_every: int = DETECT_EVERY):
        self.shm = SharedMemory(create=True, size=FRAME_BYTES)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, self.shm.name, WORKER_NICE, max_people, detect_every),
                                   name="live-pose-worker", daemon=True)
        self.process.start()
        child.close()
        self.started_at = time.monotonic()
        self.ready = False               # its estimator is built (it said so)
        self.pending: int | None = None  # seq of the picture it works on
        self.sent_at = 0.0
        self.last_sent = 0.0

    @property
    def idle(self) -> bool:
        """Ready and without a picture in work (a worker that just started is not ready yet)."""
        if not self.ready:
            try:
                self.ready = self.conn.poll(0) and self.conn.recv() == "ready"
            except (EOFError, OSError):  # the process died: stuck() says so, and it is replaced
                return False
        return self.ready and self.pending is None

    def submit(self, seq: int, rgb: np.ndarray) -> bool:
        """Hand ``rgb`` ((H, W, 3) uint8, H, W <= :data:`MAX_SIDE`) over; False (nothing sent) while
        the worker still works on an earlier picture."""
        if not self.idle:
            return False
        h, w = rgb.shape[:2]
        if h > MAX_SIDE or w > MAX_SIDE:
            raise ValueError(f"a live pose picture is at most {MAX_SIDE}x{MAX_SIDE} px, got {w}x{h}")
        np.ndarray((h, w, 3), np.uint8, self.shm.buf)[:] = rgb
        now = time.monotonic()
        try:
            self.conn.send((seq, h, w, now - self.last_sent > RESET_AFTER_S))
        except (OSError, ValueError):  # the process died: stuck() says so, and it is replaced
            return False
        self.pending, self.sent_at, self.last_sent = seq, now, now
        return True

    def receive(self) -> Answer | None:
        """The answer to the picture in work if it is in (never waits); the worker is then idle."""
        if self.pending is None:
            return None
        try:
            if not self.conn.poll(0):
                return None
            answer = self.conn.recv()
        except (EOFError, OSError):  # the process died: stuck() says so, and it is replaced
            answer = None
        self.pending = None
        return answer

    def stuck(self, now: float) -> bool:
        """Dead, not ready :data:`START_S` after its start, or silent on one picture for :data:`STUCK_S`."""
        if not self.process.is_alive():
            return True
        if not self.ready:
            return not self.idle and now - self.started_at > START_S
        return self.pending is not None and now - self.sent_at > STUCK_S

    def ask_to_end(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def close(self, deadline: float | None = None) -> None:
        """End the process (asked, then terminated, then killed) and free its buffer; returns
        within about 2 x :data:`CLOSE_S` (``deadline``: a monotonic time shared by several)."""
        self.ask_to_end()
        deadline = deadline if deadline is not None else time.monotonic() + CLOSE_S
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(CLOSE_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(CLOSE_S)
        self.conn.close()
        self.shm.close()
        try:
            self.shm.unlink()
        except FileNotFoundError:
            pass


def close_all(workers: list[PoseWorker | None]) -> None:
    """Close several workers at once: all are asked first, then given one shared :data:`CLOSE_S`."""
    alive = [w for w in workers if w is not None]
    for worker in alive:
        worker.ask_to_end()
    deadline = time.monotonic() + CLOSE_S
    for worker in alive:
        worker.close(deadline)


def collect(workers: dict[int, PoseWorker], seq: int, timeout: float, straggler: float,
            stop: threading.Event | None = None) -> dict[int, Answer]:
    """The answers about picture set ``seq`` of ``workers`` (index -> worker given a picture of
    it) that come within ``timeout`` s, and within ``straggler`` s of the first answer (a slow
    worker does not hold the others back long); ``stop`` set: return at once. Those that have not
    answered by then are left out and stay busy: the caller drops their answer when it comes."""
    answers: dict[int, Answer] = {}
    deadline = time.monotonic() + timeout
    waiting = dict(workers)
    while waiting and not (stop is not None and stop.is_set()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready = wait([w.conn for w in waiting.values()], min(remaining, 0.25))
        for i, worker in list(waiting.items()):
            if worker.conn in ready:
                answer = worker.receive()
                if worker.idle or not worker.process.is_alive():
                    waiting.pop(i)
                if answer is not None and answer.seq == seq:
                    answers[i] = answer
                    deadline = min(deadline, time.monotonic() + straggler) if len(answers) == 1 else deadline
    return answers
