"""One camera: open an RTSP / USB / file / demo source, read it, timestamp it, reconnect it.

A :class:`CameraHandler` owns one thread. The thread is a supervisor loop: open the
source, hand every frame to the ``sink`` callback, and when the source is lost (error,
end of a live stream, stall past the read timeout) wait with capped exponential backoff
and open it again. Every attempt is logged, with URL credentials masked.

File and demo sources loop at their native frame rate, like a live camera. RTSP is read
with PyAV over TCP with open/read timeouts. USB cameras are read with OpenCV.

Every :class:`Frame` carries the stream pts and the host's monotonic and wall-clock
times of arrival (ns). H.264 sources without B-frames also carry the encoded packet so
that recording can remux it without re-encoding.
"""
from __future__ import annotations

import collections
import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from config.masking import mask_secrets
from config.schema import CameraConfig, CameraTuning

logger = logging.getLogger(__name__)

CONNECTING, CONNECTED, RECONNECTING, FAILED, STOPPED = "connecting", "connected", "reconnecting", "failed", "stopped"
FPS_WINDOW_S = 2.0
REMUX_CODECS = ("h264",)
URGENT_BACKOFF_S = 0.25  # the longest wait between reconnect attempts while a take records


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture from one camera.

    ``pts`` is the stream's clock in ``time_base`` units (s), the host's monotonic clock for
    sources without one (USB); ``monotonic_ns`` / ``wall_time_ns`` are the host
    clocks when the frame arrived. ``packet`` is the encoded access unit when the source can
    be remuxed (H.264 without B-frames), else None. ``image`` is an ``av.VideoFrame``, a BGR
    ``ndarray`` (H x W x 3, uint8), or None when the packet could not be decoded yet.
    ``generation`` counts the connections of the camera: it changes after a reconnect.
    """

    camera: int
    seq: int
    pts: int | None
    time_base: Fraction
    monotonic_ns: int
    wall_time_ns: int
    keyframe: bool
    generation: int
    packet: av.Packet | None = None
    image: av.VideoFrame | np.ndarray | None = None

    def bgr(self, width: int | None = None, reformatter: VideoReformatter | None = None) -> np.ndarray | None:
        """The picture as a BGR uint8 array, downscaled to ``width`` px (aspect kept, even height).

        Several threads read the same frame: each must pass its own ``reformatter`` (a
        ``VideoFrame``'s built-in one is not thread-safe).
        """
        img = self.image
        if img is None:
            return None
        src_w, src_h = (img.width, img.height) if isinstance(img, av.VideoFrame) else (img.shape[1], img.shape[0])
        if width is None or width >= src_w:
            width, height = src_w, src_h
        else:
            height = max(2, round(src_h * width / src_w / 2) * 2)
        if isinstance(img, av.VideoFrame):
            converter = reformatter or VideoReformatter()
            return converter.reformat(img, width, height, "bgr24", interpolation="FAST_BILINEAR").to_ndarray()
        if (width, height) == (src_w, src_h):
            return img
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


    def gray(self, reformatter: VideoReformatter | None = None) -> np.ndarray | None:
        """The picture as a full-resolution grayscale uint8 array (same thread rule as :meth:`bgr`)."""
        img = self.image
        if img is None:
            return None
        if isinstance(img, av.VideoFrame):
            return (reformatter or VideoReformatter()).reformat(img, format="gray").to_ndarray()
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


@dataclass(frozen=True)
class StreamInfo:
    """What a connection delivers: codec, size (px), nominal fps, and whether it is remuxable."""

    codec: str
    width: int
    height: int
    fps: float
    remux: bool


@dataclass(frozen=True)
class CameraHealth:
    """A camera's health snapshot, safe to show (the URL is masked)."""

    index: int
    name: str
    url: str
    status: str
    fps: float
    frames: int
    dropped: int
    reconnects: int
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    error: str | None = None
    since: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {
            "index": self.index, "name": self.name, "url": self.url, "status": self.status,
            "fps": round(self.fps, 2), "frames": self.frames, "dropped": self.dropped,
            "reconnects": self.reconnects, "width": self.width, "height": self.height,
            "codec": self.codec, "error": self.error, "since": self.since,
        }


def describe(exc: BaseException) -> str:
    """A short, password-free reason for a PyAV / OS error (without the URL it names)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return mask_secrets(reason)


class SourceError(RuntimeError):
    """The source cannot be opened or was lost; the message is safe to show. ``kind`` says why,
    as a connection test reports it (:data:`FAILURE_KINDS`)."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind


# Why a source cannot be used: a wrong password (RTSP 401 or 403), a stream path the camera does
# not have (404), nothing answers at that address, no answer in time, no video track, a codec
# FFmpeg cannot decode, or anything else.
FAILURE_KINDS = ("unauthorized", "not_found", "unreachable", "timeout", "no_video", "unsupported_codec", "error")
_UNREACHABLE_ERRNOS = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ECONNRESET)


def failure_kind(exc: BaseException, elapsed_s: float, timeout_s: float) -> str:
    """The :data:`FAILURE_KINDS` entry for a PyAV error raised after ``elapsed_s`` of a
    ``timeout_s`` open."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return "unauthorized"
    if isinstance(exc, av.error.HTTPNotFoundError):
        return "not_found"
    if isinstance(exc, av.error.DecoderNotFoundError):
        return "unsupported_codec"
    if isinstance(exc, av.ExitError | TimeoutError) or elapsed_s >= 0.9 * timeout_s:
        return "timeout"
    if getattr(exc, "errno", None) in _UNREACHABLE_ERRNOS or isinstance(exc, ConnectionError):
        return "unreachable"
    return "error"


def _has_no_video(url: str, tuning: CameraTuning) -> bool:
    """Whether an RTSP source that refused a video-only session offers no video at all: asked for
    video only, a camera that sends sound only answers with a client error. (Asked again at once,
    some servers are still closing the refused session: one more try after a moment.)"""
    for attempt in range(2):
        try:
            with av.open(url, options={"rtsp_transport": "tcp"},
                         timeout=(tuning.open_timeout_s, tuning.read_timeout_s)) as container:
                return not container.streams.video
        except (av.FFmpegError, OSError):
            time.sleep(0.5 * (attempt + 1))
    return False


def open_container(url: str, tuning: CameraTuning, live: bool):
    """``url`` opened with PyAV (RTSP over TCP for a live source, with the open and read
    timeouts), its first video stream checked. Raises :class:`SourceError` with its ``kind``."""
    options = {"rtsp_transport": "tcp", "allowed_media_types": "video", "fflags": "nobuffer"} if live else {}
    started = time.monotonic()
    try:
        container = av.open(url, options=options, timeout=(tuning.open_timeout_s, tuning.read_timeout_s))
    except (av.FFmpegError, OSError) as exc:
        kind = failure_kind(exc, time.monotonic() - started, tuning.open_timeout_s)
        if kind == "timeout":
            raise SourceError(f"no answer within {tuning.open_timeout_s:g} s", kind) from None
        if live and isinstance(exc, av.error.HTTPOtherClientError) and _has_no_video(url, tuning):
            raise SourceError("no video stream", "no_video") from None
        raise SourceError(f"cannot open: {describe(exc)}", kind) from None
    if not container.streams.video:
        container.close()
        raise SourceError("no video stream", "no_video")
    return container


class _Source:
    """A connected source: ``info`` and an iterator of frames. Closing releases it."""

    info: StreamInfo
    live = True

    def frames(self) -> Iterator[tuple]:
        """Yield (pts, time_base, keyframe, packet, image, monotonic_ns, wall_time_ns) tuples.

        The host times are taken when the frame arrives (right after demuxing, before decoding),
        or when a file source's frame is due.
        """
        raise NotImplementedError

    def close(self) -> None:
        pass


def _decodable(ctx) -> bool:
    """Whether FFmpeg has a decoder for a stream's codec context."""
    try:
        return ctx is not None and ctx.codec is not None and bool(ctx.codec.is_decoder)
    except (AttributeError, ValueError, av.FFmpegError):
        return False


class _AvSource(_Source):
    """A source read with PyAV: RTSP (live) or a video file (looped at its native fps)."""

    def __init__(self, url: str, tuning: CameraTuning, live: bool, stop: threading.Event, wants_images=None):
        self.live, self._stop = live, stop
        self._wants_images = wants_images or (lambda: True)
        self._resync = False
        self.container = open_container(url, tuning, live)
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        if not _decodable(ctx):
            self.container.close()
            raise SourceError(f"unsupported codec {getattr(ctx, 'name', None) or 'unknown'}", "unsupported_codec")
        ctx.thread_count = 1  # six cameras already spread over the cores; one thread keeps latency low
        rate = self.stream.average_rate or self.stream.guessed_rate or 30
        remux = ctx.name in REMUX_CODECS and not ctx.has_b_frames
        self.info = StreamInfo(ctx.name, ctx.width, ctx.height, float(rate), remux)
        self.time_base = self.stream.time_base or Fraction(1, 90000)

    def frames(self):
        if self.live:
            yield from self._live()
        else:
            yield from self._looped()

    def _decode(self, packet):
        """Decoded frames of ``packet``; none for a remuxable stream while nobody needs pictures
        (decoding then resumes at the next keyframe)."""
        if self.info.remux:
            if not self._wants_images():
                self._resync = True
                return []
            if self._resync:
                if not packet.is_keyframe:
                    return []
                self._resync = False
        try:
            return packet.decode()
        except av.FFmpegError as exc:  # a damaged packet costs its frame, not the connection
            logger.debug("decode error: %s", exc)
            return []

    def _live(self):
        for packet in self.container.demux(self.stream):
            mono, wall = time.monotonic_ns(), time.time_ns()
            if packet.size == 0:  # demuxer flush packet: end of stream
                return
            decoded = self._decode(packet)
            if self.info.remux:
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:  # RTSP's first packet can come before the stream clock is known
                    continue
                yield pts, self.time_base, packet.is_keyframe, packet, decoded[-1] if decoded else None, mono, wall
            else:
                for fr in decoded:
                    if fr.pts is not None:
                        yield fr.pts, self.time_base, True, None, fr, mono, wall

    def _looped(self):
        """Play the file forever at its native rate; pts are rewritten to run on across loops."""
        period = 1.0 / self.info.fps
        step = max(1, round(period / self.time_base))
        n, start = 0, time.monotonic()
        while not self._stop.is_set():
            self.container.seek(0, stream=self.stream)
            got = 0
            for packet in self.container.demux(self.stream):
                if self._stop.is_set():
                    return
                if packet.size == 0:
                    continue
                decoded = self._decode(packet)
                if self.info.remux:
                    items = [(packet, decoded[-1] if decoded else None)]
                else:
                    items = [(None, f) for f in decoded]
                for pkt, fr in items:
                    delay = start + n * period - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                    if delay < -1.0:  # we fell far behind (machine busy): re-base the schedule, pts run on
                        start = time.monotonic() - n * period
                    key = pkt.is_keyframe if pkt is not None else True
                    yield n * step, self.time_base, key, pkt, fr, time.monotonic_ns(), time.time_ns()
                    n += 1
                    got += 1
            if not got:
                raise SourceError("the video file has no frames")

    def close(self):
        self.container.close()


class _UsbSource(_Source):
    """A USB camera read with OpenCV; frames are BGR arrays, never remuxable."""

    def __init__(self, index: int):
        self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"no USB camera at index {index}", "not_found")
        w, h = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.info = StreamInfo("rawvideo", w, h, float(self.cap.get(cv2.CAP_PROP_FPS) or 30), False)

    def frames(self):
        while True:
            ok, img = self.cap.read()
            if not ok:
                raise SourceError("the USB camera stopped delivering frames")
            mono = time.monotonic_ns()  # no stream clock: the host's is the pts
            yield mono, Fraction(1, 1_000_000_000), True, None, img, mono, time.time_ns()

    def close(self):
        self.cap.release()


def open_source(url: int | str, tuning: CameraTuning, stop: threading.Event,
                wants_images: Callable[[], bool] | None = None) -> _Source:
    """A camera source connected: a USB index, ``demo:N``, an RTSP (network) URL, or a video file.
    Raises :class:`SourceError` (with its ``kind``)."""
    if isinstance(url, int):
        return _UsbSource(url)
    if url.startswith("demo:"):
        from capture import demo  # resolving a demo camera may fetch and prepare its video once

        path = demo.demo_video(int(url.split(":", 1)[1]))
        return _AvSource(str(path), tuning, False, stop, wants_images)
    if "://" in url and not url.startswith("file://"):
        return _AvSource(url, tuning, True, stop, wants_images)
    path = Path(url.removeprefix("file://"))
    if not path.is_file():
        raise SourceError(f"no such video file: {path}", "not_found")
    return _AvSource(str(path), tuning, False, stop, wants_images)


class CameraHandler:
    """Reads one camera in its own thread and hands every :class:`Frame` to ``sink``.

    ``sink(frame)`` runs in this camera's thread and must return quickly. With
    ``wants_images``, a remuxable stream is decoded only while it returns True (frames then
    carry ``image=None``): pictures cost CPU, packets do not. While ``urgent`` returns True
    (a take records), reconnect attempts come at least every :data:`URGENT_BACKOFF_S`, so a
    camera that comes back rejoins the take at once. ``start()``
    returns self; ``stop()`` sets the stop Event, closes the source and joins the thread.
    :meth:`health` and :attr:`info` are safe to call from any thread.
    """

    def __init__(self, index: int, config: CameraConfig, sink: Callable[[Frame], None],
                 tuning: CameraTuning | None = None, wants_images: Callable[[], bool] | None = None,
                 urgent: Callable[[], bool] | None = None):
        self.index, self.config, self.name = index, config, config.name
        self._sink = sink
        self._wants_images = wants_images  # None: always decode
        self._urgent = urgent
        self.tuning = tuning or CameraTuning()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"cam{index}-{config.name}", daemon=True)
        self._source: _Source | None = None
        self._status, self._since, self._error = CONNECTING, time.time(), None
        self._times: collections.deque[int] = collections.deque()
        self._frames = self._dropped = self._reconnects = self._generation = 0
        self._last_pts: int | None = None
        self._frames_this_connection = 0
        self.info: StreamInfo | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> CameraHandler:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the thread to stop (returns at once; :meth:`stop` also joins)."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop reading and join the thread.

        A read blocked on a silent network returns within PyAV's open/read timeouts.
        """
        self._stop.set()
        if timeout is None:
            timeout = self.tuning.open_timeout_s + self.tuning.read_timeout_s + 2.0
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error("camera %s: thread did not stop within %.0f s", self.name, timeout)
        self._set_status(STOPPED)

    # ----------------------------------------------------------------- health
    def health(self) -> CameraHealth:
        with self._lock:
            now = time.monotonic_ns()
            while self._times and now - self._times[0] > FPS_WINDOW_S * 1e9:
                self._times.popleft()
            fps = 0.0
            if len(self._times) >= 2:
                fps = (len(self._times) - 1) / ((self._times[-1] - self._times[0]) / 1e9)
            info = self.info
            return CameraHealth(
                self.index, self.name, self.config.safe_url, self._status, fps, self._frames, self._dropped,
                self._reconnects, info.width if info else None, info.height if info else None,
                info.codec if info else None, self._error, self._since,
            )

    def _set_status(self, status: str, error: str | None = None) -> None:
        with self._lock:
            if status != self._status:
                self._status, self._since = status, time.time()
            self._error = error

    # ----------------------------------------------------------------- source
    def _open(self) -> _Source:
        return open_source(self.config.url, self.tuning, self._stop, self._wants_images)

    def template_stream(self):
        """The current PyAV input stream (to copy codec parameters from), or None.

        Hold :attr:`lock` while using it: the connection is only closed under that lock.
        """
        source = self._source
        return source.stream if isinstance(source, _AvSource) else None

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    # ----------------------------------------------------------------- supervisor loop
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                source = self._open()
            except SourceError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - any failure to open is retried, not fatal
                error = mask_secrets(f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self._source, self.info = source, source.info
                    self._generation += 1
                    self._last_pts = None
                logger.info("camera %s: connected to %s (%s %dx%d @ %.2f fps, %s)", self.name,
                            self.config.safe_url, source.info.codec, source.info.width, source.info.height,
                            source.info.fps, "remux" if source.info.remux else "re-encode")
                error = self._read(source)
                with self._lock:
                    self._source = None
                    source.close()
                if error is None:  # stopped
                    break
                failures = 0 if self._frames_this_connection else failures
            if self._stop.is_set():
                break
            failures += 1
            delay = min(self.tuning.backoff_max_s, self.tuning.backoff_initial_s * 2 ** (failures - 1))
            if self._urgent is not None and self._urgent():
                delay = min(delay, URGENT_BACKOFF_S)
            status = FAILED if failures >= self.tuning.failed_after else RECONNECTING
            with self._lock:
                self._reconnects += 1
            self._set_status(status, error)
            logger.warning("camera %s: %s; reconnect attempt %d in %.1f s (%s)", self.name, error, failures,
                           delay, self.config.safe_url)
            self._stop.wait(delay)
        logger.info("camera %s: stopped", self.name)

    def _read(self, source: _Source) -> str | None:
        """Pump frames until the source fails (returns the reason) or we are stopped (None)."""
        self._frames_this_connection = 0
        period_ns = 1e9 / source.info.fps if source.info.fps else None
        try:
            for pts, time_base, key, packet, image, mono, wall in source.frames():
                if self._stop.is_set():
                    return None
                self._account(pts, time_base, mono, period_ns)
                if self._frames_this_connection == 0:
                    self._set_status(CONNECTED)
                self._frames_this_connection += 1
                frame = Frame(self.index, self._frames, pts, time_base, mono, wall, key, self._generation, packet, image)
                self._sink(frame)
            return None if self._stop.is_set() else "end of stream"
        except SourceError as exc:
            return str(exc)
        except av.ExitError:  # PyAV's read timeout interrupted a read that got nothing
            return None if self._stop.is_set() else f"no data for {self.tuning.read_timeout_s:g} s (stream stalled)"
        except av.FFmpegError as exc:
            return None if self._stop.is_set() else f"stream lost: {describe(exc)}"
        except Exception as exc:  # noqa: BLE001 - the supervisor must survive any reader failure
            logger.exception("camera %s: reader failed", self.name)
            return mask_secrets(f"{type(exc).__name__}: {exc}")

    def _account(self, pts, time_base, mono_ns, period_ns) -> None:
        """Count the frame, and the frames a pts gap says the camera sent but we never got."""
        with self._lock:
            self._frames += 1
            self._times.append(mono_ns)
            if self._last_pts is not None and period_ns:
                gap_ns = (pts - self._last_pts) * time_base * 1_000_000_000
                missing = round(float(gap_ns) / period_ns) - 1
                if missing > 0:
                    self._dropped += missing
            self._last_pts = pts
