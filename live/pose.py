"""Live pose: 2D landmarks on every camera and the 3D skeleton, while someone watches.

A ``live-pose`` thread takes, from the cameras' latest-frame slots, the set of frames nearest
one instant, hands a downscaled copy of each to its own MediaPipe worker process (one graph
per camera, so tracking works, at a lower CPU priority than capture and recording),
triangulates the answers with the active calibration and pushes a ``pose3d`` event. It runs
as fast as the workers answer, and only while at least one client asked for it.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

logger = logging.getLogger(__name__)

MAX_SIDE = 640            # pictures sent to MediaPipe fit in 640x640 px (it works at 256x256)
WORKER_NICE = 10          # below capture and recording
ANSWER_TIMEOUT_S = 5.0
IDLE_STOP_S = 30.0        # workers are stopped after this long without a viewer
SIZE_TOLERANCE = 0.02


def _worker(conn, nice: int) -> None:
    """One MediaPipe graph answering (seq, h, w, rgb bytes) with (seq, points (33,2) normalized, scores)."""
    from reconstruction.pose2d import PoseEstimator, quiet_native_logs

    quiet_native_logs()
    if nice:
        os.nice(nice)

    with PoseEstimator() as estimator:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            seq, h, w, data = message
            rgb = np.frombuffer(data, np.uint8).reshape(h, w, 3)
            points, scores = estimator.process(rgb)
            conn.send((seq, points / np.array([w, h], np.float32), scores))


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, WORKER_NICE), name="live-pose-worker", daemon=True)
        self.process.start()
        child.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(3)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(3)
        self.conn.close()


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
        self._workers: list[_Worker | None] = [None] * len(self.names)
        self._reformatters = [VideoReformatter() for _ in self.names]  # this thread's own
        self._calibration = (None, None)  # (mtime, CameraGroup | None)
        self._warned: set[str] = set()
        self._pending_names: list[str] | None = None  # a new camera list, applied by the live-pose thread
        self.rate = 0.0
        self.seq = 0

    # ------------------------------------------------------------------ control
    def start(self) -> LivePose:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(ANSWER_TIMEOUT_S * len(self.names) + 5)  # it may be waiting on each worker
        self._close_workers()

    def enable(self, client: str, on: bool) -> dict:
        """Client ``client`` wants (or no longer wants) live pose; returns the state to show it."""
        with self._lock:
            (self._clients.add if on else self._clients.discard)(client)
        self._wake.set()
        group = self.calibration()
        return {"enabled": on, "available": True, "calibrated": group is not None,
                "message": None if group is not None else "live_pose_no_calibration"}

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
        for worker in workers.values():
            if worker is not None:
                worker.close()
        self.names = names
        self._reformatters = [VideoReformatter() for _ in names]
        self._calibration = (None, None)  # restricted to the old cameras
        self._warned.clear()
        logger.info("live pose: cameras now %s", ", ".join(names))

    def forget(self, client: str) -> None:
        self.enable(client, False)

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
                group = CameraGroup(cams) if len(cams) >= 2 else None
            except (CalibrationFileError, OSError, ValueError) as exc:
                logger.warning("live pose: calibration %s unusable (%s)", self.calibration_path, exc)
                group = None
            self._calibration = (mtime, group)
        return self._calibration[1]

    # ------------------------------------------------------------------ loop
    def _close_workers(self) -> None:
        for i, worker in enumerate(self._workers):
            if worker is not None:
                worker.close()
                self._workers[i] = None

    def _worker(self, i: int) -> _Worker:
        worker = self._workers[i]
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                logger.warning("live pose: worker of camera %s ended; restarting it", self.names[i])
                worker.close()
            worker = self._workers[i] = _Worker(multiprocessing.get_context("spawn"))
        return worker

    def _frames(self) -> dict[int, object]:
        """The frame of each delivering camera nearest the oldest of their latest frames."""
        recent = {i: slot.recent() for i, slot in enumerate(self.processor.slots)}
        recent = {i: frames for i, frames in recent.items() if frames and frames[-1].image is not None}
        if not recent:
            return {}
        now = time.monotonic_ns()
        recent = {i: f for i, f in recent.items() if now - f[-1].monotonic_ns < 1_000_000_000}  # stale: skip
        if not recent:
            return {}
        target = min(f[-1].monotonic_ns for f in recent.values())
        return {i: min(f, key=lambda fr: abs(fr.monotonic_ns - target)) for i, f in recent.items()}

    def _run(self) -> None:
        idle_since = time.monotonic()
        last = None
        while not self._stop.is_set():
            self._take_cameras()
            if self.processor.names != self.names:  # the cameras just changed: their list follows
                self._stop.wait(0.05)
                continue
            if not self.wanted:
                self.processor.set_image_demand("live pose", ())
                if any(self._workers) and time.monotonic() - idle_since > IDLE_STOP_S:
                    self._close_workers()
                self._wake.wait(1.0)
                self._wake.clear()
                last = None
                continue
            idle_since = time.monotonic()
            self.processor.set_image_demand("live pose", range(len(self.names)))
            try:
                frames = self._frames()
                if not frames:
                    self._stop.wait(0.1)
                    continue
                payload = self._estimate(frames)
            except Exception:  # noqa: BLE001 - live pose must keep running whatever one frame set does
                logger.exception("live pose failed on one frame set")
                self._close_workers()
                self._stop.wait(1.0)
                continue
            now = time.monotonic()
            if last is not None:
                dt = now - last
                self.rate = 1.0 / dt if self.rate == 0 else 0.8 * self.rate + 0.2 / dt
            last = now
            payload["rate"] = round(self.rate, 2)
            self._emit("pose3d", payload)
        self.processor.set_image_demand("live pose", ())

    def _estimate(self, frames: dict[int, object]) -> dict:
        self.seq += 1
        sizes, sent = {}, []
        for i, frame in frames.items():
            image = frame.image
            if image is None:
                continue
            w, h = (image.width, image.height) if hasattr(image, "width") else (image.shape[1], image.shape[0])
            bgr = frame.bgr(min(w, int(w * MAX_SIDE / max(w, h))) // 2 * 2, self._reformatters[i])
            if bgr is None:
                continue
            # A sub-stream's landmarks (normalized) are placed on the main stream's pictures, which
            # takes and the calibration are made of.
            sizes[i] = (self.processor.has_substream(i) and self.processor.stream_size(i)) or (w, h)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self._worker(i).conn.send((self.seq, rgb.shape[0], rgb.shape[1], rgb.tobytes()))
            sent.append(i)
        answers = {}
        for i in sent:
            conn = self._workers[i].conn
            if not conn.poll(ANSWER_TIMEOUT_S):
                raise TimeoutError(f"camera {self.names[i]}: no answer from its pose worker")
            seq, points, scores = conn.recv()
            answers[i] = (points, scores)
        cameras = []
        for i in range(len(self.names)):
            if i in answers and np.isfinite(answers[i][0]).any():
                points, scores = answers[i]
                cameras.append({"index": i, "points": np.column_stack([points, scores]).round(4).tolist()})
            else:
                cameras.append({"index": i, "points": None})
        group = self.calibration()
        points3d = self._triangulate(group, answers, sizes) if group is not None else None
        return {"seq": self.seq, "t": int(time.time() * 1000), "calibrated": group is not None,
                "cameras": cameras, "points3d": points3d}

    def _triangulate(self, group, answers: dict, sizes: dict) -> list | None:
        from reconstruction.triangulate import triangulate

        names = group.names
        points = np.full((len(names), 1, 33, 2), np.nan)
        scores = np.zeros((len(names), 1, 33))
        for i, (pts, sc) in answers.items():
            name = self.names[i]
            if name not in names:
                continue
            cam = group[name]
            w, h = sizes[i]
            if abs(w - cam.size[0]) > SIZE_TOLERANCE * cam.size[0] or abs(h - cam.size[1]) > SIZE_TOLERANCE * cam.size[1]:
                if name not in self._warned:
                    self._warned.add(name)
                    logger.warning("live pose: camera %s delivers %dx%d but was calibrated at %dx%d; left out of 3D",
                                   name, w, h, *cam.size)
                continue
            c = names.index(name)
            points[c, 0] = pts * np.array([w, h])
            scores[c, 0] = sc
        if (scores.max(axis=2) > 0).sum() < 2:
            return None
        X = triangulate(group, points, scores).points[0]
        if not np.isfinite(X).any():
            return None
        return [None if not np.isfinite(p).all() else [round(float(v), 4) for v in p] for p in X]
