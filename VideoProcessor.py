"""The camera group: threads, Event flags, latest-frame slots, preview encoding and recording.

Data flows one way: each :class:`CameraHandler` thread hands its frames to
:meth:`VideoProcessor._on_frame`, which

- puts the frame in the camera's :class:`LatestFrame` slot (preview and live work read the
  newest frame; older ones are simply replaced),
- keeps the packets since the camera's last keyframe (the pre-roll), so a recording can
  begin at or before the start event although the cameras' keyframes are not aligned,
- offers the frame to the camera's :class:`CameraWriter` while a take records; the writer
  has a bounded queue and an explicit overflow policy.

Threads (one owner each, all joined by :meth:`VideoProcessor.stop`): one reader per camera
(:class:`CameraHandler`), one preview encoder per camera (:class:`PreviewChannel`, idle
unless someone watches), and one writer per camera while a take records.
"""
from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import errno
import json
import logging
import os
import queue
import secrets
import shutil
import statistics
import threading
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from CameraHandler import CONNECTED, CameraHandler, Frame
from settings import PreviewConfig, RecordingConfig, Settings

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)  # MP4 timestamps (pts column of <camera>.timestamps.csv)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
PREROLL_MAX_S = 10.0
ENCODE_QUEUE_S = 2.0
PREVIEW_BACKLOG = 2  # JPEGs kept per camera for viewers that fall one picture behind
MONITOR_PERIOD_S = 0.5  # how often a take checks the disk and rewrites its take.json
MAX_GAPS_LISTED = 500  # gaps listed per camera in take.json (all are counted, every row says its own)
TIMESTAMP_COLUMNS = ["frame", "pts", "monotonic_ns", "wall_time_ns", "missing_before"]
MB = 1024 * 1024


class RecordingError(RuntimeError):
    """A recording request that cannot be honoured; the message is shown to the user."""


# --------------------------------------------------------------------------- latest frame
class LatestFrame:
    """A one-frame slot: the camera thread replaces, readers wait for something newer."""

    def __init__(self, history: int = 4):
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._seq = 0
        self._recent: collections.deque[Frame] = collections.deque(maxlen=history)

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self._recent.append(frame)
            self._cond.notify_all()

    def recent(self) -> list[Frame]:
        """The last few frames, oldest first (for picking the one nearest a given time)."""
        with self._cond:
            return list(self._recent)

    def get(self) -> tuple[int, Frame | None]:
        with self._cond:
            return self._seq, self._frame

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, Frame | None]:
        """Return (seq, frame) once a frame newer than ``seq`` is in, or the current one after ``timeout`` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq != seq, timeout)
            return self._seq, self._frame


# --------------------------------------------------------------------------- preview
def placeholder_jpeg(text: str, width: int, quality: int = 80) -> bytes:
    """A dark card with ``text``, shown in a preview while its camera delivers nothing."""
    height = max(2, width * 9 // 16)
    img = np.full((height, width, 3), 32, np.uint8)
    scale = width / 640
    size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.putText(img, text, ((width - size[0]) // 2, (height + size[1]) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (200, 200, 200), 2, cv2.LINE_AA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


@dataclasses.dataclass(frozen=True)
class Jpeg:
    seq: int
    data: bytes
    frame_monotonic_ns: int  # arrival time of the frame it shows (0 for a placeholder)


class PreviewChannel:
    """Encodes one camera's preview JPEG once for all its viewers, and only while watched.

    Frames are downscaled to ``preview.width`` px and capped at ``preview.fps``. Viewers
    call :meth:`watch` (a context manager) and :meth:`wait_jpeg`. Thread-safe.
    """

    def __init__(self, index: int, name: str, slot: LatestFrame, preview: PreviewConfig, status,
                 stop: threading.Event):
        self.index, self.name, self.slot, self.cfg = index, name, slot, preview
        self._status = status  # callable -> camera status string
        self._stop = stop
        self._watched = threading.Event()
        self._cond = threading.Condition()
        self._viewers = 0
        self._recent: collections.deque[Jpeg] = collections.deque(maxlen=PREVIEW_BACKLOG)
        self._seq = 0
        self.encoded = 0
        self.latencies_ns: collections.deque[int] = collections.deque(maxlen=20000)
        self._reformatter = VideoReformatter()  # this thread's own: frames are shared between threads
        self._thread = threading.Thread(target=self._run, name=f"preview{index}-{name}", daemon=True)

    def start(self) -> PreviewChannel:
        self._thread.start()
        return self

    def join(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    @property
    def viewers(self) -> int:
        return self._viewers

    @contextlib.contextmanager
    def watch(self):
        with self._cond:
            self._viewers += 1
            self._watched.set()
        try:
            yield self
        finally:
            with self._cond:
                self._viewers -= 1
                if self._viewers == 0:
                    self._watched.clear()
                    self._recent.clear()  # a new viewer must not be served a stale picture

    def wait_jpeg(self, after_seq: int, timeout: float) -> Jpeg | None:
        """The next JPEG after ``after_seq``; None on timeout or shutdown.

        The last :data:`PREVIEW_BACKLOG` JPEGs are kept, so a viewer that stalled for a moment
        catches up instead of losing a picture; one further behind jumps to the oldest kept.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._stop.is_set() or (self._recent and self._recent[-1].seq > after_seq),
                                timeout)
            if self._stop.is_set():
                return None
            return next((j for j in self._recent if j.seq > after_seq), None)

    def note_sent(self, jpeg: Jpeg) -> None:
        """Record the frame-to-sent latency of a JPEG a viewer just wrote."""
        if jpeg.frame_monotonic_ns:
            self.latencies_ns.append(time.monotonic_ns() - jpeg.frame_monotonic_ns)

    def _publish(self, data: bytes, frame_ns: int) -> None:
        with self._cond:
            self._seq += 1
            self._recent.append(Jpeg(self._seq, data, frame_ns))
            self._cond.notify_all()

    def _run(self) -> None:
        period = 1.0 / self.cfg.fps
        due = 0.0
        seen = 0
        params = [cv2.IMWRITE_JPEG_QUALITY, self.cfg.quality]
        while not self._stop.is_set():
            if not self._watched.wait(0.5):
                continue
            seq, frame = self.slot.wait_newer(seen, 1.0)
            if self._stop.is_set():
                break
            if seq == seen or frame is None:
                status = self._status()
                if status != CONNECTED:
                    self._publish(placeholder_jpeg(f"{self.name}: {status}", self.cfg.width, self.cfg.quality), 0)
                continue
            seen = seq
            # Deadline schedule on the frames' own arrival times (not this thread's wake-ups, which
            # lag under load), with a quarter-period tolerance: jitter must not turn a 30 fps
            # source into a 10 fps preview, and the average stays <= fps.
            now = frame.monotonic_ns / 1e9
            if now < due - 0.25 * period:
                continue
            due = max(due + period, now - 0.5 * period)
            img = frame.bgr(self.cfg.width, self._reformatter)
            if img is None:
                continue
            ok, buf = cv2.imencode(".jpg", img, params)
            if ok:
                self.encoded += 1
                self._publish(buf.tobytes(), frame.monotonic_ns)


# --------------------------------------------------------------------------- recording
class CameraWriter:
    """Writes one camera of a take: ``<name>.mp4`` (fragmented) and ``<name>.timestamps.csv``.

    H.264 packets are remuxed without re-encoding; other sources are encoded with libx264.
    :meth:`offer` is called from the camera thread and never blocks: the queue holds
    ``queue_seconds`` of frames, and on overflow the frame is dropped and counted (for a
    remuxed stream, every frame up to the next keyframe is dropped too, since they could not
    be decoded). The writer finishes once it has written a frame that arrived at or after
    the stop event, or when ``stop_grace_s`` passes without one (camera down).

    Gaps: each row of the timestamps file says in ``missing_before`` how many frames the
    camera did not deliver just before it (from the stream's pts within one connection, from
    the arrival times across a reconnect), and ``gaps`` lists them for ``take.json``. A
    camera that comes back after a drop rejoins the same file; one that joins late has a
    gap from the take's start, and one still down at the stop a gap up to the stop.
    """

    def __init__(self, take_dir: Path, handler: CameraHandler, cfg: RecordingConfig, start_ns: int | None = None):
        self.handler, self.name = handler, handler.name
        self.mp4, self.csv_path = take_dir / f"{self.name}.mp4", take_dir / f"{self.name}.timestamps.csv"
        info = handler.info
        fps = info.fps if info else 30.0
        self.fps = fps
        # Decoded pictures waiting for the encoder weigh megabytes each: keep at most 2 s of them.
        seconds = cfg.queue_seconds if info is None or info.remux else min(cfg.queue_seconds, ENCODE_QUEUE_S)
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=max(8, int(seconds * fps)))
        self._cfg = cfg
        self._stop_ns: int | None = None
        self._deadline = 0.0
        self._done = threading.Event()
        self._need_key = False
        self.dropped = self.written = 0
        self.first: Frame | None = None
        self.last: Frame | None = None
        self.mode: str | None = None
        self.error: str | None = None
        self.disk_full = False
        self.start_ns = start_ns
        self.gaps: list[dict] = []
        self.missing = 0  # frames the camera did not deliver during the take (sum of the gaps)
        self._out = self._stream = self._csv_file = None
        self._reformatter = VideoReformatter()
        self._gen = self._offset = None
        self._warned_at = 0.0
        self._last_pts = -1
        self._thread = threading.Thread(target=self._run, name=f"rec-{self.name}", daemon=True)

    def start(self) -> CameraWriter:
        self._thread.start()
        return self

    # ---- camera thread side
    def offer(self, frame: Frame) -> None:
        if self._done.is_set():
            return
        remux_frame = frame.packet is not None
        if self._need_key and remux_frame and not frame.keyframe:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(frame)
            self._need_key = False
        except queue.Full:
            self.dropped += 1
            self._need_key = remux_frame
            now = time.monotonic()
            if now - self._warned_at > 1.0:  # once a second at most: this runs in the camera thread
                self._warned_at = now
                logger.warning("recording %s: writer queue full, %d frame(s) dropped so far", self.name, self.dropped)

    # ---- control side
    def request_stop(self, stop_ns: int) -> None:
        self._deadline = time.monotonic() + self._cfg.stop_grace_s  # before _stop_ns: the writer reads both
        self._stop_ns = stop_ns

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # ---- writer thread
    def _run(self) -> None:
        try:
            while True:
                try:
                    frame = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._stop_ns is not None and time.monotonic() > self._deadline:
                        logger.warning("recording %s: no frame after the stop event within %.1f s", self.name,
                                       self._cfg.stop_grace_s)
                        break
                    continue
                self._write(frame)
                if self._stop_ns is not None and frame.monotonic_ns >= self._stop_ns:
                    break
        except Exception as exc:  # noqa: BLE001 - a failed writer must not take the others down
            self.error = f"{type(exc).__name__}: {exc}"
            self.disk_full = getattr(exc, "errno", None) == errno.ENOSPC
            if self.disk_full:
                logger.error("recording %s: the disk is full", self.name)
            else:
                logger.exception("recording %s: writer failed", self.name)
        finally:
            self._done.set()
            self._close()

    def _open(self, frame: Frame) -> None:
        opts = {"movflags": MOVFLAGS, "flush_packets": "1", "frag_duration": str(self._cfg.fragment_ms * 1000)}
        self._out = av.open(str(self.mp4), "w", format="mp4", options=opts)
        if frame.packet is not None:
            with self.handler.lock:
                template = self.handler.template_stream()
                if template is None:
                    raise RuntimeError("camera disconnected before its recording could start")
                self._stream = self._out.add_stream_from_template(template)
            self.mode = "remux"
        else:
            self._stream = self._out.add_stream("libx264", rate=round(self.fps))
            img = frame.image
            w, h = (img.width, img.height) if isinstance(img, av.VideoFrame) else (img.shape[1], img.shape[0])
            self._stream.width, self._stream.height = w - w % 2, h - h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.time_base = TIME_BASE
            self._stream.options = {"preset": "superfast", "crf": "20", "g": str(max(1, round(self.fps))),
                                    "bf": "0", "tune": "zerolatency"}
            self.mode = "encode"
        self._stream.time_base = TIME_BASE
        self._csv_file = open(self.csv_path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(TIMESTAMP_COLUMNS)

    def _pts(self, frame: Frame) -> int:
        """MP4 pts (1/90000 s): the stream's own pts, re-based after each reconnect."""
        src = int(frame.pts * frame.time_base / TIME_BASE)
        if frame.generation != self._gen:
            since_first = (frame.monotonic_ns - self.first.monotonic_ns) * 90000 // 1_000_000_000
            self._gen, self._offset = frame.generation, since_first - src
        pts = max(src + self._offset, self._last_pts + 1)
        self._last_pts = pts
        return pts

    def _write(self, frame: Frame) -> None:
        if self._out is None:
            if frame.packet is not None and not frame.keyframe:
                return  # a remuxed file must begin with a keyframe
            if frame.packet is None and frame.image is None:
                return
            self.first = frame
            self._open(frame)
        if self.mode == "remux":
            if frame.packet is None or (frame.generation != self._gen and not frame.keyframe):
                return  # after a reconnect, resume at a keyframe
            pts = self._pts(frame)
            packet = av.Packet(frame.packet)  # copy: muxing consumes the packet's data
            packet.pts = packet.dts = pts
            packet.duration = round(90000 / self.fps)
            packet.time_base = TIME_BASE
            packet.is_keyframe = frame.keyframe
            packet.stream = self._stream
            self._out.mux(packet)
        else:
            if frame.image is None:
                return
            pts = self._pts(frame)
            img = frame.image
            vf = img if isinstance(img, av.VideoFrame) else av.VideoFrame.from_ndarray(img, format="bgr24")
            vf = self._reformatter.reformat(vf, self._stream.width, self._stream.height, "yuv420p")
            if vf is img:  # no conversion was needed: do not stamp the frame other threads share
                vf = av.VideoFrame.from_ndarray(img.to_ndarray(), format="yuv420p")
            vf.pts, vf.time_base = pts, TIME_BASE
            for packet in self._stream.encode(vf):
                self._out.mux(packet)
        missing = self._missing_before(frame)
        self._csv.writerow([self.written, pts, frame.monotonic_ns, frame.wall_time_ns, missing])
        self._csv_file.flush()
        if missing:
            self._note_gap(self.last, frame, missing)
        self.written += 1
        self.last = frame

    def _period_ns(self) -> float:
        return 1e9 / self.fps if self.fps else 1e9 / 30

    def _missing_before(self, frame: Frame) -> int:
        """Frames the camera did not deliver between the last frame written and ``frame``."""
        period = self._period_ns()
        prev = self.last
        if prev is None:  # the first frame: was the camera there when the take started?
            if self.start_ns is None or frame.monotonic_ns <= self.start_ns:
                return 0
            return max(0, round((frame.monotonic_ns - self.start_ns) / period) - 1)
        if frame.generation == prev.generation and frame.pts is not None and prev.pts is not None:
            elapsed = float((frame.pts - prev.pts) * frame.time_base) * 1e9
        else:  # a reconnect: the stream's clock restarted, only the arrival times compare
            elapsed = frame.monotonic_ns - prev.monotonic_ns
        return max(0, round(elapsed / period) - 1)

    def _note_gap(self, before: Frame | None, after: Frame, missing: int) -> None:
        self.missing += missing
        reconnect = before is not None and before.generation != after.generation
        if before is None:
            logger.warning("recording %s: joined the take late, %d frame(s) missing", self.name, missing)
        elif reconnect:
            logger.warning("recording %s: camera back after %.1f s, %d frame(s) missing; it rejoins the take",
                           self.name, (after.monotonic_ns - before.monotonic_ns) / 1e9, missing)
        if len(self.gaps) < MAX_GAPS_LISTED:
            start_mono = before.monotonic_ns if before else self.start_ns
            self.gaps.append({"after_frame": self.written - 1, "before_frame": self.written, "missing_frames": missing,
                              "from_monotonic_ns": start_mono, "to_monotonic_ns": after.monotonic_ns,
                              "seconds": round((after.monotonic_ns - start_mono) / 1e9, 3),
                              "reason": "late start" if before is None else "reconnect" if reconnect else "lost"})

    def trailing_gap(self, stop_ns: int) -> None:
        """Mark the frames a camera still down at the stop did not deliver (from its last frame)."""
        start = self.last.monotonic_ns if self.last is not None else self.start_ns
        if start is None:
            return
        missing = max(0, round((stop_ns - start) / self._period_ns()) - 1)
        if missing and (self.last is None or self.last.monotonic_ns < stop_ns):
            self.missing += missing
            if len(self.gaps) < MAX_GAPS_LISTED:
                self.gaps.append({"after_frame": self.written - 1, "before_frame": None, "missing_frames": missing,
                                  "from_monotonic_ns": start, "to_monotonic_ns": stop_ns,
                                  "seconds": round((stop_ns - start) / 1e9, 3), "reason": "down at stop"})

    def _close(self) -> None:
        try:
            if self._out is not None and self._stream is not None and self.mode == "encode":
                for packet in self._stream.encode(None):
                    self._out.mux(packet)
        except av.FFmpegError as exc:
            self.error = self.error or f"flush failed: {exc}"
        finally:
            if self._out is not None:
                self._out.close()
            if self._csv_file is not None:
                self._csv_file.close()
            if self.written == 0:  # nothing recorded: leave no empty file behind
                self.mp4.unlink(missing_ok=True)
                self.csv_path.unlink(missing_ok=True)

    def summary(self) -> dict:
        def stamp(frame):
            return None if frame is None else {"monotonic_ns": frame.monotonic_ns, "wall_time_ns": frame.wall_time_ns}

        info = self.handler.info
        return {
            "index": self.handler.index, "name": self.name,
            "file": self.mp4.name if self.written else None,
            "timestamps": self.csv_path.name if self.written else None, "pts_time_base": "1/90000",
            "mode": self.mode, "codec": info.codec if info else None, "width": info.width if info else None,
            "height": info.height if info else None, "fps": self.fps, "frames": self.written,
            "dropped": self.dropped, "first_frame": stamp(self.first), "last_frame": stamp(self.last),
            "error": self.error, "missing_frames": self.missing, "gaps": list(self.gaps),
        }


def _stamp(mono_ns: int, wall_ns: int) -> dict:
    iso = datetime.fromtimestamp(wall_ns / 1e9, UTC).isoformat(timespec="milliseconds")
    return {"monotonic_ns": mono_ns, "wall_time_ns": wall_ns, "iso": iso}


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Take:
    """One recording in progress: its folder, writers and ``take.json``."""

    def __init__(self, take_dir: Path, meta: dict, writers: list[CameraWriter], start_ns: tuple[int, int]):
        self.dir, self.id, self.meta, self.writers = take_dir, take_dir.name, meta, writers
        self.start_mono, self.start_wall = start_ns
        self.stop_mono = self.stop_wall = None
        self.status = "recording"
        self.stop_reason: str | None = None  # why VSION stopped the take by itself (e.g. disk_full)
        self.stop_message: str | None = None
        self.saved_at = time.monotonic()

    def to_dict(self) -> dict:
        fps = [w.fps for w in self.writers]
        return {
            "id": self.id, "status": self.status, **self.meta,
            "start": _stamp(self.start_mono, self.start_wall),
            "stop": _stamp(self.stop_mono, self.stop_wall) if self.stop_mono else None,
            "fps": statistics.median(fps) if fps else None,
            "cameras": [w.summary() for w in self.writers],
            "missing_frames": sum(w.missing for w in self.writers),
            "stop_reason": self.stop_reason, "stop_message": self.stop_message,
        }

    def save(self) -> None:
        write_json_atomic(self.dir / "take.json", self.to_dict())
        self.saved_at = time.monotonic()


def free_mb(path: Path) -> float:
    """Free space (MB) on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free / MB


def _csv_stamp(row: dict) -> dict:
    return _stamp(int(row["monotonic_ns"]), int(row["wall_time_ns"]))


def readable_frames(path: Path) -> int:
    """Frames a player finds in a (possibly cut short) fragmented MP4: the packets of its whole fragments."""
    count = 0
    with contextlib.suppress(av.FFmpegError, OSError):
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                count += packet.size > 0
    return count


def rebuild_interrupted(take_dir: Path, data: dict) -> dict:
    """``take.json`` of a take whose server died while it recorded, completed from what its
    files hold. The video keeps its whole fragments (all but the last ``fragment_ms`` or so):
    each timestamps file is cut to the frames its video holds, then gives the camera's frames,
    first and last frame and missing frames; the last frame kept is the take's stop."""
    last = None
    for cam in data.get("cameras") or []:
        name = cam.get("name")
        stamps = take_dir / f"{name}.timestamps.csv"
        if not isinstance(name, str) or not stamps.is_file():
            continue
        try:
            with open(stamps, newline="", encoding="utf-8") as fh:
                rows = [row for row in csv.DictReader(fh) if row.get("wall_time_ns")]
            video = take_dir / f"{name}.mp4"
            readable = readable_frames(video) if video.is_file() else 0
            if readable < len(rows):
                cam["rows_lost_at_crash"] = len(rows) - readable
                rows = rows[:readable]
                tmp = stamps.with_suffix(".csv.tmp")
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else TIMESTAMP_COLUMNS)
                    writer.writeheader()
                    writer.writerows(rows)
                os.replace(tmp, stamps)
        except (OSError, ValueError, csv.Error):
            continue
        if not rows:
            cam.update(file=None, timestamps=None, frames=0)
            continue
        try:
            missing = [int(row.get("missing_before") or 0) for row in rows]
            cam.update(file=f"{name}.mp4" if (take_dir / f"{name}.mp4").is_file() else None,
                       timestamps=stamps.name, frames=len(rows), first_frame=_csv_stamp(rows[0]),
                       last_frame=_csv_stamp(rows[-1]), missing_frames=sum(missing))
        except (KeyError, ValueError):
            continue
        if last is None or cam["last_frame"]["monotonic_ns"] > last["monotonic_ns"]:
            last = cam["last_frame"]
    data["status"] = "interrupted"
    if data.get("stop") is None and last is not None:
        data["stop"] = last
    data["stop_reason"] = "server stopped"
    data["stop_message"] = "the server stopped while this take recorded; it keeps what was written until then"
    return data


# --------------------------------------------------------------------------- the group
class VideoProcessor:
    """Owns every camera of ``settings``: their threads, slots, previews and recordings.

    ``start()`` returns self. ``stop()`` finishes a take in progress, sets the stop Event,
    and joins every thread it started. All public methods are thread-safe.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self.record_event = threading.Event()  # set while a take records
        self.processing_event = threading.Event()  # set while live work (pose) runs
        self._control = threading.Lock()  # serialises start/stop recording
        n = len(settings.cameras)
        self.slots = [LatestFrame() for _ in range(n)]
        self._cam_locks = [threading.Lock() for _ in range(n)]
        self._preroll: list[list[Frame]] = [[] for _ in range(n)]
        self._writers: list[CameraWriter | None] = [None] * n
        self._demand: dict[str, frozenset[int]] = {}  # who needs decoded pictures of which cameras
        self.handlers = [CameraHandler(i, cam, self._sink(i), settings.camera, self._wants_images_fn(i),
                                       self.record_event.is_set) for i, cam in enumerate(settings.cameras)]
        self.previews = [
            PreviewChannel(i, cam.name, self.slots[i], settings.preview, self._status_fn(i), self.stop_event)
            for i, cam in enumerate(settings.cameras)
        ]
        self.take: Take | None = None
        self.last_take: dict | None = None
        self.interrupted: list[dict] = []  # take.json of the takes a killed server left, found at start
        # Called (from the take monitor's thread) with the take.json of a take VSION stopped by
        # itself, e.g. when the disk fills up; the take's stop_message says why.
        self.on_auto_stop = None
        self._monitor: threading.Thread | None = None
        self._monitor_stop = threading.Event()
        self._started = False

    # ---- lifecycle
    def start(self) -> VideoProcessor:
        self.takes_dir.mkdir(parents=True, exist_ok=True)
        self._mark_interrupted_takes()
        for handler in self.handlers:
            handler.start()
        for channel in self.previews:
            channel.start()
        self._started = True
        logger.info("video processor started with %d camera(s)", len(self.handlers))
        return self

    def stop(self) -> None:
        """Finish a take in progress, then stop and join every thread (all signalled first)."""
        with contextlib.suppress(RecordingError):
            self.stop_recording()
        with self._control:
            self._started = False  # no take can start any more
        self.stop_event.set()
        for handler in self.handlers:
            handler.request_stop()
        for handler in self.handlers:
            handler.stop()
        for channel in self.previews:
            channel.join()
        logger.info("video processor stopped")

    @property
    def takes_dir(self) -> Path:
        return self.settings.data_dir / "takes"

    def set_image_demand(self, owner: str, cameras) -> None:
        """Declare which cameras ``owner`` needs decoded pictures of (empty: none). Thread-safe."""
        self._demand = {**self._demand, owner: frozenset(cameras)}  # replaced whole: readers never lock

    def _wants_images_fn(self, i):
        def wants() -> bool:
            return (self.previews[i].viewers > 0 or self.processing_event.is_set()
                    or any(i in cams for cams in self._demand.values()))

        return wants

    def _status_fn(self, i):
        return lambda: self.handlers[i].health().status

    def _mark_interrupted_takes(self) -> None:
        """A take left 'recording' by a killed server is marked 'interrupted', its take.json
        completed from its files (which stay readable); they are kept in :attr:`interrupted`."""
        self.interrupted = []
        for path in sorted(self.takes_dir.glob("*/take.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("status") == "recording":
                data = rebuild_interrupted(path.parent, data)
                write_json_atomic(path, data)
                self.interrupted.append(data)
                frames = ", ".join(f"{c.get('name')}={c.get('frames')}" for c in data.get("cameras") or [])
                logger.warning("take %s was interrupted (server stopped while recording); kept: %s", data.get("id"),
                               frames)

    # ---- camera threads
    def _sink(self, i: int):
        slot, lock, max_preroll, generation = self.slots[i], self._cam_locks[i], None, None

        def on_frame(frame: Frame) -> None:
            nonlocal max_preroll, generation
            slot.put(frame)
            light = dataclasses.replace(frame, image=None) if frame.packet is not None else frame
            with lock:
                preroll = self._preroll[i]
                if frame.keyframe or frame.generation != generation:  # nothing from an old connection
                    preroll.clear()
                    generation = frame.generation
                preroll.append(light)
                if max_preroll is None:
                    info = self.handlers[i].info
                    max_preroll = int(PREROLL_MAX_S * (info.fps if info else 30))
                if len(preroll) > max_preroll:
                    del preroll[0]
                writer = self._writers[i]
            if writer is not None:
                writer.offer(frame)

        return on_frame

    # ---- queries
    def health(self) -> list[dict]:
        out = []
        for handler, channel in zip(self.handlers, self.previews):
            item = handler.health().to_dict()
            item["viewers"] = channel.viewers
            out.append(item)
        return out

    def recording_state(self) -> dict:
        take = self.take
        if take is None:
            return {"recording": False, "last_take": self.last_take}
        return {"recording": True, "take_id": take.id, "folder": str(take.dir), "started_at": take.start_wall / 1e9,
                "elapsed_s": (time.monotonic_ns() - take.start_mono) / 1e9, "cameras": [w.name for w in take.writers]}

    # ---- recording
    def start_recording(self, meta: dict | None = None) -> dict:
        """Start a take on every camera; returns its state. Raises RecordingError if one runs."""
        with self._control:
            if self.take is not None:
                raise RecordingError(f"a take is already recording ({self.take.id}); stop it first")
            if not self._started:
                raise RecordingError("the cameras are not running")
            cfg = self.settings.recording
            free = free_mb(self.takes_dir)
            if free < cfg.min_free_mb:
                raise RecordingError(f"not enough disk space to record: {free:.0f} MB free on the takes' disk, "
                                     f"{cfg.min_free_mb:.0f} MB needed to start; delete old takes or free space")
            mono, wall = time.monotonic_ns(), time.time_ns()
            take_id = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall / 1e9)) + "-" + secrets.token_hex(2)
            take_dir = self.takes_dir / take_id
            meta = {"calibration": None, "work_card": None, **(meta or {})}
            writers = [CameraWriter(take_dir, h, cfg, mono) for h in self.handlers]
            take = Take(take_dir, meta, writers, (mono, wall))
            try:
                take_dir.mkdir(parents=True)
                calibration = self.settings.calibration_path
                if calibration.is_file():
                    shutil.copy2(calibration, take_dir / "calibration.toml")
                    meta["calibration"] = "calibration.toml"
                take.save()
            except OSError as exc:
                shutil.rmtree(take_dir, ignore_errors=True)
                raise RecordingError(f"cannot create the take folder in {self.takes_dir}: {exc.strerror}") from None
            oldest = mono - int(PREROLL_MAX_S * 1e9)
            for i, writer in enumerate(writers):
                writer.start()
                with self._cam_locks[i]:
                    for frame in self._preroll[i]:
                        if frame.monotonic_ns >= oldest:
                            writer.offer(frame)
                    self._writers[i] = writer
            self.take = take
            self.record_event.set()
            self._monitor_stop.clear()
            self._monitor = threading.Thread(target=self._watch_take, args=(take,), name="take-monitor", daemon=True)
            self._monitor.start()
            logger.info("take %s: recording %d camera(s) into %s (%.0f MB free)", take_id, len(writers), take_dir,
                        free)
            return self.recording_state()

    def _watch_take(self, take: Take) -> None:
        """While ``take`` records: rewrite its take.json (so a killed server leaves it current),
        and stop it cleanly when the disk is about to fill up or a writer found it full."""
        cfg = self.settings.recording
        while not self._monitor_stop.wait(MONITOR_PERIOD_S):
            try:
                free = free_mb(take.dir)
                full = [w.name for w in take.writers if w.disk_full]
                if free < cfg.stop_free_mb or full:
                    message = (f"recording stopped: the disk is almost full ({free:.1f} MB free, the limit is "
                               f"{cfg.stop_free_mb:.1f} MB); the take is kept up to this point")
                    self._auto_stop(take, "disk_full", message)
                    return
                if self.take is take:
                    take.save()
            except RecordingError:
                return  # stopped meanwhile
            except Exception:  # noqa: BLE001 - the monitor must not die while the take records
                logger.exception("take %s: monitor failed", take.id)

    def _auto_stop(self, take: Take, reason: str, message: str) -> None:
        logger.error("take %s: %s", take.id, message)
        take.stop_reason, take.stop_message = reason, message
        stopped = self.stop_recording(take.id)
        callback = self.on_auto_stop
        if callback is not None:
            callback(stopped)

    def stop_recording(self, take_id: str | None = None) -> dict:
        """Stop the take once every camera has a frame at or after now; returns its take.json.

        With ``take_id``, only that take may be stopped. A camera whose writer failed or did
        not finish in time makes the take ``incomplete``.
        """
        with self._control:
            take = self.take
            if take is None:
                raise RecordingError("nothing is recording")
            if take_id is not None and take_id != take.id:
                raise RecordingError(f"take {take_id} is not the one recording ({take.id})")
            take.stop_mono, take.stop_wall = time.monotonic_ns(), time.time_ns()
            self._monitor_stop.set()
            for writer in take.writers:
                writer.request_stop(take.stop_mono)
            for i, writer in enumerate(take.writers):
                writer.join(self.settings.recording.stop_grace_s + self.settings.recording.queue_seconds + 5)
                with self._cam_locks[i]:
                    self._writers[i] = None
                writer.trailing_gap(take.stop_mono)
            monitor = self._monitor
            if monitor is not None and monitor is not threading.current_thread():
                monitor.join(5)
            self._monitor = None
            # A writer stopped by a full disk closed its files cleanly: that take is complete.
            failed = [w.name for w in take.writers if w.alive or (w.error and not w.disk_full)]
            if failed:
                logger.error("take %s: camera(s) %s did not record to the end", take.id, ", ".join(failed))
            take.status = "incomplete" if failed else "complete"
            take.save()
            self.take = None
            self.record_event.clear()
            self.last_take = take.to_dict()
            frames = ", ".join(f"{w.name}={w.written}" for w in take.writers)
            logger.info("take %s: stopped (%s frames)", take.id, frames)
            return self.last_take
