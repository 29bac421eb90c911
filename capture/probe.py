"""Test a camera source without using it: connect, read a few frames, say what was found or why not.

:func:`probe` opens the source with the same code as a camera thread (:func:`capture.camera.open_source`),
within the connection timeouts, and reads a few frames: codec, resolution, frame rate, a JPEG
snapshot, and for a network camera the round-trip time of a TCP connection to it. A failure is
one of :data:`capture.camera.FAILURE_KINDS`, or ``resolution_mismatch`` when the picture's size
differs from the calibration's. Each failure has a code (the page's label key), an English
message and its parameters, and never a password. Nothing is changed; thread-safe.
"""
from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import av
import cv2

from capture.camera import SourceError, describe, failure_kind, open_source
from config.masking import mask_secrets
from config.schema import CameraConfig, CameraTuning

logger = logging.getLogger(__name__)

PROBE_FRAMES = 5        # decoded frames read before answering
SNAPSHOT_WIDTH = 640    # px
RTSP_PORT = 554
MESSAGES = {
    "unauthorized": "the camera refused the user name or the password (RTSP 401)",
    "not_found": "nothing at this address: {reason}",
    "unreachable": "the camera cannot be reached at {host}: {reason}",
    "timeout": "no answer from the camera within {seconds} s",
    "no_video": "the source has no video track",
    "unsupported_codec": "the video codec {codec} cannot be decoded",
    "resolution_mismatch": "the camera sends {width}x{height} but was calibrated at {calibrated}: calibrate it again, "
                           "or set the camera back to {calibrated}",
    "no_frames": "connected, but no picture came within {seconds} s",
    "error": "the source cannot be read: {reason}",
}


@dataclasses.dataclass(frozen=True)
class ProbeFailure:
    """Why a test failed: ``code`` (a key of :data:`MESSAGES`), its parameters, the English message."""

    code: str
    params: dict

    @property
    def message(self) -> str:
        return mask_secrets(MESSAGES[self.code].format(**self.params))

    def to_dict(self) -> dict:
        return {"code": self.code, "params": self.params, "message": self.message}


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What a test found. Times in ms; ``snapshot`` a JPEG (at most :data:`SNAPSHOT_WIDTH` px wide)."""

    failure: ProbeFailure | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    rtt_ms: float | None = None
    open_ms: float | None = None
    first_frame_ms: float | None = None
    frames: int = 0
    snapshot: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict:
        """JSON-ready, the snapshot as a ``data:image/jpeg;base64,...`` URL."""
        import base64

        out = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("failure", "snapshot")}
        out.update(ok=self.ok, failure=self.failure.to_dict() if self.failure else None,
                   snapshot=("data:image/jpeg;base64," + base64.b64encode(self.snapshot).decode("ascii"))
                   if self.snapshot else None)
        return out


def round_trip_ms(url: str, timeout_s: float) -> tuple[float | None, ProbeFailure | None]:
    """The time (ms) a TCP connection to ``url``'s host and port takes (one network round trip),
    or the failure (unknown host, refused, unreachable, timeout)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or RTSP_PORT
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return None, ProbeFailure("unreachable", {"host": host, "reason": "unknown host name"})
    started = time.monotonic()
    try:
        with socket.create_connection(addresses[0][4][:2], timeout=timeout_s):
            return round((time.monotonic() - started) * 1000, 2), None
    except TimeoutError:
        return None, ProbeFailure("timeout", {"seconds": f"{timeout_s:g}"})
    except OSError as exc:
        return None, ProbeFailure("unreachable", {"host": host, "reason": exc.strerror or type(exc).__name__})


def _failure(exc: SourceError, url, tuning: CameraTuning) -> ProbeFailure:
    kind = exc.kind
    if kind == "unauthorized" or kind == "no_video":
        return ProbeFailure(kind, {})
    if kind == "timeout":
        return ProbeFailure(kind, {"seconds": f"{tuning.open_timeout_s:g}"})
    if kind == "unreachable":
        return ProbeFailure(kind, {"host": urlsplit(str(url)).hostname or str(url), "reason": str(exc)})
    if kind == "unsupported_codec":
        return ProbeFailure(kind, {"codec": str(exc).rsplit(" ", 1)[-1]})
    return ProbeFailure(kind if kind == "not_found" else "error", {"reason": mask_secrets(str(exc))})


def _snapshot(image) -> bytes | None:
    if isinstance(image, av.VideoFrame):
        width = min(SNAPSHOT_WIDTH, image.width)
        height = max(2, round(image.height * width / image.width / 2) * 2)
        bgr = image.reformat(width, height, "bgr24").to_ndarray()
    else:
        width = min(SNAPSHOT_WIDTH, image.shape[1])
        bgr = cv2.resize(image, (width, max(2, round(image.shape[0] * width / image.shape[1]))))
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None


def _read(source, deadline: float, started: float) -> dict:
    """Read until :data:`PROBE_FRAMES` pictures are decoded or ``deadline`` (monotonic s) passes."""
    got = {"frames": 0, "first_frame_ms": None, "image": None, "keyframes": 0}
    for _pts, _tb, key, _packet, image, _mono, _wall in source.frames():
        got["keyframes"] += bool(key)
        if image is not None:
            got["frames"] += 1
            if got["image"] is None:
                got["image"] = image
                got["first_frame_ms"] = round((time.monotonic() - started) * 1000, 1)
        if got["frames"] >= PROBE_FRAMES or time.monotonic() > deadline:
            break
    return got


def _size_failure(width: int, height: int, expected: tuple[int, int] | None) -> ProbeFailure | None:
    if expected is None or (width, height) == tuple(expected):
        return None
    return ProbeFailure("resolution_mismatch", {"width": width, "height": height,
                                                "calibrated": f"{expected[0]}x{expected[1]}"})


def _connected(source, started: float, tuning: CameraTuning, expected) -> ProbeResult:
    """Read a connected source and describe it."""
    info = source.info
    open_ms = round((time.monotonic() - started) * 1000, 1)
    try:
        got = _read(source, time.monotonic() + tuning.read_timeout_s, started)
    except (SourceError, av.FFmpegError, OSError) as exc:
        logger.info("camera test: reading failed (%s)", describe(exc))
        got = {"frames": 0, "first_frame_ms": None, "image": None, "keyframes": 0}
    if got["image"] is None:  # keyframes came and none decoded: the codec is the problem
        failure = ProbeFailure("unsupported_codec", {"codec": info.codec}) if got["keyframes"] \
            else ProbeFailure("no_frames", {"seconds": f"{tuning.read_timeout_s:g}"})
    else:
        failure = _size_failure(info.width, info.height, expected)
    return ProbeResult(failure, info.codec, info.width, info.height, round(info.fps, 3), None, open_ms,
                       got["first_frame_ms"], got["frames"], _snapshot(got["image"]) if got["image"] is not None
                       else None)


def probe_url(url: int | str, tuning: CameraTuning, expected_size: tuple[int, int] | None = None) -> ProbeResult:
    """Test one source (see the module's docstring). Blocks for at most about the open timeout
    plus the read timeout (s) of ``tuning``."""
    rtt = None
    if isinstance(url, str) and "://" in url and not url.startswith("file://"):
        rtt, failure = round_trip_ms(url, tuning.open_timeout_s)
        if failure is not None:
            return ProbeResult(failure)
    stop = threading.Event()
    started = time.monotonic()
    try:
        source = open_source(url, tuning, stop)
    except SourceError as exc:
        return ProbeResult(_failure(exc, url, tuning), rtt_ms=rtt)
    except Exception as exc:  # noqa: BLE001 - a test answers with a reason whatever the source does
        kind = failure_kind(exc, time.monotonic() - started, tuning.open_timeout_s)
        return ProbeResult(_failure(SourceError(describe(exc), kind), url, tuning), rtt_ms=rtt)
    try:
        result = _connected(source, started, tuning, expected_size)
    finally:
        stop.set()
        source.close()
    return dataclasses.replace(result, rtt_ms=rtt)


def probe(camera: CameraConfig, tuning: CameraTuning, expected_size: tuple[int, int] | None = None) -> dict:
    """Test ``camera``'s main stream (its size checked against ``expected_size``, the calibration's,
    px) and its sub-stream when it has one: ``{"main": ProbeResult dict, "preview": ... | None}``."""
    main = probe_url(camera.url, tuning, expected_size)
    logger.info("camera test of %s: %s", camera.safe_url, main.failure.message if main.failure else
                f"{main.codec} {main.width}x{main.height} @ {main.fps} fps")
    preview = probe_url(camera.preview_url, tuning) if camera.preview_url is not None else None
    return {"main": main.to_dict(), "preview": preview.to_dict() if preview else None}
