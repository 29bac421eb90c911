"""2D pose of every person in every frame of a take's videos, in worker processes.

``probe_video`` lists a video's frames (their pts) without decoding. ``estimate_videos`` cuts every
video into chunks of consecutive frames and runs the chunks on a pool of worker processes, so that
all cores work even for one camera; each frame's result lands at the position of its pts in the
sorted pts of the video, so the output does not depend on how the chunks were cut or in which order
frames came out of the decoder. ``bare_inference`` runs the same chunks on the same pool without
keeping anything, for the benchmark in ``bench/``.

Two engines:

- ``"blazepose"`` (the default): :class:`reconstruction.pose_runtime.MultiPoseEstimator`, MediaPipe's
  BlazePose models run by VSION on a TFLite runtime, following up to ``max_people`` people;
- ``"legacy"``: :class:`PoseEstimator`, MediaPipe's legacy ``solutions.pose`` graph (one person),
  kept only as the reference that the tests and the benchmark compare the default engine with.

Tracking restarts at every chunk (a chunk is tracked from scratch, its first frame runs the
detector); the people of consecutive chunks are then linked by landmark proximity across the
boundary (:func:`reconstruction.pose_runtime.join_chunks`), so a person keeps one row over the
whole video.

Points are in pixels of the video's frames (x to the right, y down, origin at the top-left corner
of the top-left pixel); scores are MediaPipe's landmark visibility in [0, 1].
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from reconstruction.blazepose import Roi
from reconstruction.landmarks import N_JOINTS
from reconstruction.pose_runtime import (
    MultiPoseEstimator,
    PeopleArrays,
    PersonPose,
    join_chunks,
    main_track,
    stack_people,
)

logger = logging.getLogger(__name__)

STAGE = "2d pose"
PROGRESS_PERIOD_S = 0.5  # the caller hears about progress at least this often
_WORKER_REPORT_S = 0.25  # a worker sends its count at most this often
_PROGRESS_QUEUE_SIZE = 1024

Progress = Callable[[int, int, str], None]
ENGINES = ("blazepose", "legacy")
DEFAULT_MAX_PEOPLE = 4


class PoseError(ValueError):
    """A video cannot be read or its 2D pose cannot be estimated; the message names the file or camera."""


@dataclass(frozen=True, eq=False)
class VideoInfo:
    """What ``probe_video`` learns about a video without decoding it.

    ``pts`` (``(frames,)`` int64, read-only, sorted) holds the presentation timestamp of every frame
    in units of ``time_base`` (s); frame ``i`` of the video is the frame whose pts is ``pts[i]``.
    ``fps`` is the stream's nominal rate (frames/s); ``width`` and ``height`` are in px.
    Compared by identity (it holds an array).
    """

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    pts: np.ndarray = field(repr=False)
    time_base: Fraction

    @property
    def times(self) -> np.ndarray:
        """``(frames,)`` float64: each frame's presentation time (s) on the stream's clock."""
        return self.pts.astype(np.float64) * float(self.time_base)


@dataclass(frozen=True, eq=False)
class CameraKeypoints:
    """2D pose of every frame of one camera's video.

    ``points``: ``(F, 33, 2)`` float32 px in the video's frames, NaN where the main person was not
    found or the frame could not be decoded; ``scores``: ``(F, 33)`` float32 landmark visibility in
    [0, 1], 0 there. ``F == info.frames`` and row ``i`` belongs to the frame with pts ``info.pts[i]``.
    The main person is the one with the most and largest presence
    (:func:`reconstruction.pose_runtime.main_track`).

    ``points_people``: ``(P, F, 33, 2)`` float32 px and ``scores_people``: ``(P, F, 33)`` float32,
    every person followed in this camera (NaN / 0 where absent), ordered by first appearance; ``main``
    is the main person's row (``None`` when nobody was seen). Person rows are per camera: row ``p``
    of two cameras need not be the same person.
    """

    info: VideoInfo
    points: np.ndarray
    scores: np.ndarray
    points_people: np.ndarray | None = None
    scores_people: np.ndarray | None = None
    main: int | None = None


# ---------------------------------------------------------------------------------------------- probing
def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise PoseError(f"{path}: no such video file")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise PoseError(f"{path}: not a readable video ({exc})") from exc


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """List the frames of a video's first video stream in one demux pass (no decoding).

    Works on VSION's fragmented MP4 recordings (whose header announces 0 frames) as on ordinary
    files. A file cut short after its first packets (a recording that was killed) keeps the frames
    read so far. Raises :class:`PoseError` for a missing, unreadable or empty file or a file
    without a video stream. Thread-safe (nothing is shared).
    """
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise PoseError(f"{path}: no video stream")
        stream = container.streams.video[0]
        pts: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size and packet.pts is not None:
                    pts.append(packet.pts)
        except (av.FFmpegError, OSError) as exc:
            if not pts:
                raise PoseError(f"{path}: not a readable video ({exc})") from exc
            logger.warning("%s: unreadable after %d frames, keeping those (%s)", path, len(pts), exc)
        if not pts:
            raise PoseError(f"{path}: the video has no frames")
        times = np.sort(np.asarray(pts, dtype=np.int64))
        times.setflags(write=False)
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            fps = float(rate)
        elif len(times) > 1 and np.median(np.diff(times)) > 0:
            fps = 1.0 / (float(np.median(np.diff(times))) * float(time_base))
        else:
            raise PoseError(f"{path}: cannot tell the frame rate")
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise PoseError(f"{path}: the video stream has no picture size")
    return VideoInfo(path=path, frames=len(times), fps=fps, width=width, height=height, pts=times,
                     time_base=time_base)


# ---------------------------------------------------------------------------------------------- one graph
class PoseEstimator:
    """One MediaPipe legacy Pose graph in tracking mode (``model_complexity=1``, no smoothing): one person.

    The reference for the tests and the benchmark of the default engine
    (:class:`reconstruction.pose_runtime.MultiPoseEstimator`); it needs ``mediapipe``'s legacy
    ``solutions`` API, which mediapipe 0.10.30 removed.

    Not thread-safe: the graph keeps tracking state from frame to frame, so every thread or process
    needs its own estimator and must feed it frames in order. Call :meth:`reset` before a frame that
    does not follow the previous one. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        import mediapipe as mp  # heavy (~0.5 s): only where a graph is really built

        self._pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False,
                                            enable_segmentation=False,
                                            min_detection_confidence=min_detection_confidence,
                                            min_tracking_confidence=min_tracking_confidence)

    def process(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pose of one ``(H, W, 3)`` uint8 RGB image.

        Returns ``points`` ``(33, 2)`` float32 px of this image (x = landmark.x * W, y = landmark.y
        * H; may fall outside the image for landmarks MediaPipe guesses off-screen) and ``scores``
        ``(33,)`` float32 visibility in [0, 1]. With nobody found: points all NaN, scores all 0.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return np.full((N_JOINTS, 2), np.nan, np.float32), np.zeros(N_JOINTS, np.float32)
        values = np.array([(lm.x, lm.y, lm.visibility) for lm in result.pose_landmarks.landmark], np.float64)
        height, width = rgb.shape[:2]
        points = (values[:, :2] * (width, height)).astype(np.float32)
        return points, values[:, 2].astype(np.float32)

    def reset(self) -> None:
        """Forget the tracked person: the next frame runs the detector."""
        self._pose.reset()

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- chunks
@dataclass(frozen=True, eq=False)
class _Chunk:
    """Frames ``start .. start + len(pts) - 1`` of one camera's video (``pts``: their sorted pts)."""

    task: int
    camera: str
    path: str
    start: int
    pts: np.ndarray = field(repr=False)


def _plan(infos: dict[str, VideoInfo], chunk_frames: int) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    for camera, info in infos.items():
        for start in range(0, info.frames, chunk_frames):
            chunks.append(_Chunk(len(chunks), camera, str(info.path), start, info.pts[start:start + chunk_frames]))
    return chunks


def _decoded(container, stream) -> Iterator[av.VideoFrame]:
    """Decode ``stream`` from the container's position; a packet that does not decode is skipped."""
    try:
        for packet in container.demux(stream):
            try:
                yield from stream.decode(packet)
            except av.FFmpegError as exc:
                logger.debug("%s: a packet at pts %s did not decode (%s)", container.name, packet.pts, exc)
    except (av.FFmpegError, OSError) as exc:
        logger.warning("%s: reading stopped (%s)", container.name, exc)


def _chunk_frames(path: str, start: int, pts: np.ndarray) -> Iterator[tuple[int, av.VideoFrame]]:
    """Yield ``(i, frame)`` for the frames of a chunk, ``i`` = position of the frame's pts in ``pts``.

    Seeks to the keyframe at or before the chunk's first frame and decodes from there. Should the
    seek fail or land past that frame (an index that is not precise enough), decodes from the
    beginning of the file instead. A frame that does not decode is simply not yielded.
    """
    first, last = int(pts[0]), int(pts[-1])
    for from_start in (start == 0, True):
        with av.open(path) as container:
            stream = container.streams.video[0]
            if not from_start:
                try:
                    container.seek(first, stream=stream, backward=True, any_frame=False)
                except av.FFmpegError as exc:
                    logger.debug("%s: seek to pts %d failed (%s), decoding from the start", path, first, exc)
                    continue
            overshot, seen_any = False, False
            for frame in _decoded(container, stream):
                if frame.pts is None:
                    continue
                if not seen_any and not from_start and frame.pts > first:
                    overshot = True
                    break
                seen_any = True
                if frame.pts < first:
                    continue
                if frame.pts > last:
                    return
                i = int(np.searchsorted(pts, frame.pts))
                if i < len(pts) and pts[i] == frame.pts:
                    yield i, frame
            if from_start or (seen_any and not overshot):
                return
            logger.debug("%s: seek to pts %d landed %s, decoding from the start", path, first,
                         f"on pts {frame.pts}" if overshot else "past the end")


@dataclass(frozen=True)
class _Engine:
    """What each worker process builds: ``name`` in :data:`ENGINES`, at most ``max_people`` people."""

    name: str = "blazepose"
    max_people: int = DEFAULT_MAX_PEOPLE

    def build(self) -> MultiPoseEstimator | PoseEstimator:
        if self.name == "legacy":
            return PoseEstimator()
        return MultiPoseEstimator(max_people=self.max_people)


# Worker-process state, set once per process by _init_worker (spawned processes share nothing).
_ESTIMATOR: MultiPoseEstimator | PoseEstimator | None = None
_PROGRESS = None


def quiet_native_logs() -> None:
    """Send this worker process's native standard error (MediaPipe's and TensorFlow Lite's
    start-up chatter, written by C++ straight to fd 2) to /dev/null. Workers report errors to
    their parent through their results, not through standard error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _init_worker(progress_queue, nice: int, engine: _Engine) -> None:
    global _ESTIMATOR, _PROGRESS
    quiet_native_logs()
    if nice > 0:
        os.nice(nice)
    if progress_queue is not None:
        progress_queue.cancel_join_thread()  # a count lost at exit is harmless; a hang on exit is not
    _PROGRESS = progress_queue
    cv2.setNumThreads(1)  # the pool already keeps every core busy
    _ESTIMATOR = engine.build()


def _people_of(estimator: MultiPoseEstimator | PoseEstimator, rgb: np.ndarray) -> list:
    """One frame's people as :class:`reconstruction.pose_runtime.PersonPose` (the legacy graph's
    one person gets track id 0 and, as region, the square around their landmarks)."""
    if isinstance(estimator, MultiPoseEstimator):
        return estimator.process(rgb)
    points, scores = estimator.process(rgb)
    if np.isnan(points[0, 0]):
        return []
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    roi = Roi(float(x0 + x1) / 2, float(y0 + y1) / 2, float(max(x1 - x0, y1 - y0, 1.0)))
    return [PersonPose(0, points, scores, roi, 1.0)]


def _report(task: int, done: int, last: float) -> float:
    """Send a worker's progress at most every ``_WORKER_REPORT_S``; returns the time of the last report."""
    now = time.monotonic()
    if _PROGRESS is not None and now - last >= _WORKER_REPORT_S:
        try:
            _PROGRESS.put_nowait((task, done))
        except queue_module.Full:
            pass  # progress is advisory: drop the count, the next one says more
        return now
    return last


def _run_chunk(chunk: _Chunk, bare: bool) -> tuple[int, PeopleArrays | None, int]:
    """Pose of one chunk in a worker: ``(task, people of its frames | None, decoded frames)``.

    Tracking starts afresh at the chunk's first frame. ``bare`` only decodes, converts to RGB and
    runs the estimator, keeping nothing (benchmark).
    """
    estimator = _ESTIMATOR
    if estimator is None:
        raise RuntimeError("worker process was not initialized")
    estimator.reset()
    frames: list[list] = [[] for _ in range(len(chunk.pts))]
    decoded, last_report = 0, time.monotonic()
    for i, frame in _chunk_frames(chunk.path, chunk.start, chunk.pts):
        people = _people_of(estimator, frame.to_ndarray(format="rgb24"))
        decoded += 1
        if not bare:
            frames[i] = people
            last_report = _report(chunk.task, i + 1, last_report)
    return chunk.task, None if bare else stack_people(frames), decoded


def _run_chunks(chunks: list[_Chunk], workers: int | None, nice: int, bare: bool,
                progress: Progress | None, engine: _Engine = _Engine()) -> tuple[list[tuple], float, int]:
    """Run ``chunks`` on a spawn process pool of ``engine`` estimators: ``(results by task, seconds, workers)``.

    ``seconds``: wall time from the pool's creation to its last result. Progress goes to ``progress``
    from this thread. The pool is shut down whatever happens."""
    total = sum(len(c.pts) for c in chunks)
    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    ctx = multiprocessing.get_context("spawn")
    progress_queue = ctx.Queue(_PROGRESS_QUEUE_SIZE) if progress is not None else None
    counts = [0] * len(chunks)
    results: list[tuple | None] = [None] * len(chunks)
    reported, last_call = -1, time.monotonic()

    def report(force: bool = False) -> None:
        nonlocal reported, last_call
        if progress_queue is not None:
            while True:
                try:
                    task, count = progress_queue.get_nowait()
                except queue_module.Empty:
                    break
                if results[task] is None:
                    counts[task] = max(counts[task], count)
        done = sum(counts)
        now = time.monotonic()
        if progress is not None and (force or done != reported or now - last_call >= PROGRESS_PERIOD_S):
            progress(done, total, STAGE)
            reported, last_call = done, now

    started = time.perf_counter()
    executor = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                      initargs=(progress_queue, nice, engine))
    futures: dict[cf.Future, _Chunk] = {}
    try:
        futures = {executor.submit(_run_chunk, chunk, bare): chunk for chunk in chunks}
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=_WORKER_REPORT_S, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                chunk = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - any worker failure becomes a PoseError naming the video
                    raise PoseError(f"camera {chunk.camera}: 2D pose failed on {Path(chunk.path).name} (frames "
                                    f"{chunk.start}-{chunk.start + len(chunk.pts) - 1}): {exc}") from exc
                results[chunk.task] = result
                counts[chunk.task] = len(chunk.pts)
                if result[2] < len(chunk.pts):
                    logger.warning("camera %s: %d of frames %d-%d did not decode", chunk.camera,
                                   len(chunk.pts) - result[2], chunk.start, chunk.start + len(chunk.pts) - 1)
            report(force=bool(finished))
        seconds = time.perf_counter() - started
    finally:
        for future in futures:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        if progress_queue is not None:
            progress_queue.close()
    return results, seconds, workers


def _probe_all(videos: dict[str, Path | VideoInfo]) -> dict[str, VideoInfo]:
    infos = {}
    for camera, path in videos.items():
        if isinstance(path, VideoInfo):  # probed already
            infos[camera] = path
            continue
        try:
            infos[camera] = probe_video(path)
        except PoseError as exc:
            raise PoseError(f"camera {camera}: {exc}") from exc
    return infos


def _check_options(chunk_frames: int, engine: str, max_people: int) -> _Engine:
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    if engine not in ENGINES:
        raise ValueError(f"unknown 2D pose engine {engine!r}: use one of {', '.join(ENGINES)}")
    if max_people < 1:
        raise ValueError(f"max_people must be at least 1, got {max_people}")
    return _Engine(engine, max_people)


def _camera_keypoints(info: VideoInfo, parts: list[PeopleArrays]) -> CameraKeypoints:
    """One camera's chunks (in order) joined into its :class:`CameraKeypoints`."""
    people = join_chunks(parts)
    main = main_track(people.sizes)
    if main is None:
        points = np.full((info.frames, N_JOINTS, 2), np.nan, np.float32)
        scores = np.zeros((info.frames, N_JOINTS), np.float32)
    else:
        points, scores = people.points[main].copy(), people.scores[main].copy()
    return CameraKeypoints(info=info, points=points, scores=scores, points_people=people.points,
                           scores_people=people.scores, main=main)


def estimate_videos(videos: dict[str, Path | VideoInfo], workers: int | None = None, progress: Progress | None = None,
                    chunk_frames: int = 240, nice: int = 0, timings: dict | None = None, engine: str = "blazepose",
                    max_people: int = DEFAULT_MAX_PEOPLE) -> dict[str, CameraKeypoints]:
    """2D pose of every person in every frame of every video (camera name -> path, or its
    :class:`VideoInfo`), on a pool of worker processes.

    Each video is cut into chunks of ``chunk_frames`` consecutive frames; ``workers`` processes
    (default: the number of cores, at most the number of chunks) each hold one estimator of
    ``engine`` (see the module docstring; ``max_people`` people at most per frame) and take chunks
    in turn, tracking from frame to frame inside a chunk and detecting anew at its start; people
    are linked across chunk boundaries. Workers run at niceness ``nice`` when it is positive (so
    that a live server stays responsive). ``progress(done_frames, total_frames, "2d pose")`` is
    called from this thread after every chunk and at least every 0.5 s, and once at the end with
    done == total.

    Returns camera name -> :class:`CameraKeypoints` with ``F == info.frames`` frames. ``timings``,
    when given, receives ``seconds`` (wall time from pool creation to the last result), ``frames``,
    ``fps`` and ``workers``. Raises :class:`PoseError` naming the camera for a video that cannot
    be read or a worker that fails, ValueError for bad options. Blocking; safe to call from any
    thread (each call has its own pool). On any exception (KeyboardInterrupt too) queued chunks are
    cancelled and the pool is shut down before the exception propagates.
    """
    spec = _check_options(chunk_frames, engine, max_people)
    infos = _probe_all(videos)
    chunks = _plan(infos, chunk_frames)
    if not chunks:
        return {}
    results, seconds, used = _run_chunks(chunks, workers, nice, bare=False, progress=progress, engine=spec)
    out = {camera: _camera_keypoints(info, [results[c.task][1] for c in chunks if c.camera == camera])
           for camera, info in infos.items()}
    frames = sum(info.frames for info in infos.values())
    logger.info("2D pose of %d frames from %d cameras in %.1f s (%.1f frames/s, %d workers, %s)", frames, len(infos),
                seconds, frames / seconds, used, engine)
    if timings is not None:
        timings.update(seconds=seconds, frames=frames, fps=frames / seconds, workers=used)
    return out


def bare_inference(videos: dict[str, Path], workers: int | None = None, chunk_frames: int = 240,
                   engine: str = "blazepose", max_people: int = DEFAULT_MAX_PEOPLE) -> dict:
    """Benchmark baseline: the chunks and pool of :func:`estimate_videos`, keeping no result.

    Each chunk is decoded, converted to RGB and run through the ``engine``'s estimator; nothing
    else. Returns ``{"frames": n, "seconds": wall time (s) from pool creation to the last result,
    "fps": frames/s, "workers": w}``.
    """
    spec = _check_options(chunk_frames, engine, max_people)
    infos = _probe_all(videos)
    chunks = _plan(infos, chunk_frames)
    if not chunks:
        return {"frames": 0, "seconds": 0.0, "fps": 0.0, "workers": 0}
    results, seconds, used = _run_chunks(chunks, workers, nice=0, bare=True, progress=None, engine=spec)
    frames = sum(result[2] for result in results)
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "workers": used}
