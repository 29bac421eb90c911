"""MJPEG preview: one encoder per camera, shared by all its viewers, idle when nobody watches."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
import time

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from capture.camera import CONNECTED
from capture.slot import LatestFrame
from config.schema import PreviewConfig

PREVIEW_BACKLOG = 2  # JPEGs kept per camera for viewers that fall one picture behind


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
    call :meth:`watch` (a context manager) and :meth:`wait_jpeg` until :attr:`stop_event` is
    set (the server stops, or the camera was removed). Thread-safe.
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

    def close(self) -> None:
        """Wake this preview's thread and its viewers after :attr:`stop_event` was set: they end now."""
        self.slot.close()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def stop_event(self) -> threading.Event:
        """Set when this preview ends: viewers must then leave."""
        return self._stop

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
