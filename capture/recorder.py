"""Recording one camera of a take: a fragmented MP4 and its timestamps file, written by one thread.

The camera thread offers frames without ever blocking (a bounded queue with an explicit overflow
policy); the writer thread remuxes H.264 packets or encodes pictures with libx264, and writes one
row per frame to ``<camera>.timestamps.csv`` (``frame,pts,monotonic_ns,wall_time_ns,missing_before``).
"""
from __future__ import annotations

import csv
import errno
import logging
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from capture.camera import CameraHandler, Frame
from common.takefolder import TIMESTAMP_COLUMNS, timestamps_name, video_name
from config.schema import RecordingConfig

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)  # MP4 timestamps (pts column of <camera>.timestamps.csv)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
ENCODE_QUEUE_S = 2.0
MAX_GAPS_LISTED = 500  # gaps listed per camera in take.json (all are counted, every row says its own)


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
        self.mp4, self.csv_path = take_dir / video_name(self.name), take_dir / timestamps_name(self.name)
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
