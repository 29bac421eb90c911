"""MJPEG preview: ``GET /video_feed/<index>`` (contract).

Each viewer holds a server thread for as long as it watches, so viewers are capped per user
(``limits.mjpeg_per_user``, past it 429) and in total (``limits.mjpeg_total``, past it 503). The
JPEGs themselves are encoded once per camera for every viewer (:mod:`capture.preview`): a viewer
never slows capture or recording down.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter

from flask import Blueprint, Response, abort, current_app, jsonify
from flask_login import current_user

from web.state import system

logger = logging.getLogger(__name__)
bp = Blueprint("video", __name__)
VIEWERS = "vsion.viewers"


class Viewers:
    """Open MJPEG streams per user. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open: Counter = Counter()

    def take(self, user_id: int, per_user: int, total: int) -> str | None:
        """Count one more stream of ``user_id``; None, or which limit refuses it (``user`` / ``total``)."""
        with self._lock:
            if sum(self._open.values()) >= total:
                return "total"
            if self._open[user_id] >= per_user:
                return "user"
            self._open[user_id] += 1
            return None

    def give_back(self, user_id: int) -> None:
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]


def mjpeg(channel, stop_event):
    """Yield multipart JPEG parts from ``channel`` until the client leaves or the server stops.

    Every part carries ``X-Frame-Monotonic-Ns``, the host monotonic time (ns) at which the
    frame it shows arrived, so a client on the same machine can measure preview latency.
    """
    with channel.watch():
        seq = 0
        while not stop_event.is_set():
            jpeg = channel.wait_jpeg(seq, timeout=1.0)
            if jpeg is None:
                continue
            seq = jpeg.seq
            yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame-Monotonic-Ns: %d\r\n\r\n"
                   % (len(jpeg.data), jpeg.frame_monotonic_ns)) + jpeg.data + b"\r\n"
            channel.note_sent(jpeg)  # runs once the server has written the part


def _refused(which: str, per_user: int, total: int):
    if which == "user":
        reply = jsonify(error=f"too many live previews open for your account (at most {per_user}, "
                              "limits.mjpeg_per_user): close some")
        reply.status_code = 429
    else:
        reply = jsonify(error=f"the server already serves {total} live previews (limits.mjpeg_total): try again later")
        reply.status_code = 503
    reply.headers["Retry-After"] = "10"
    logger.warning("live preview refused for %s: %s limit reached", current_user.username, which)
    return reply


@bp.route("/video_feed/<int:index>")
def video_feed(index: int):
    running = system()
    channel = running.processor.preview(index)
    if channel is None:
        abort(404)
    limits = running.settings.limits
    viewers = current_app.extensions.setdefault(VIEWERS, Viewers())
    user_id = current_user.id
    refused = viewers.take(user_id, limits.mjpeg_per_user, limits.mjpeg_total)
    if refused:
        return _refused(refused, limits.mjpeg_per_user, limits.mjpeg_total)
    response = Response(mjpeg(channel, channel.stop_event),  # ends with the server, or when the camera is removed
                        mimetype="multipart/x-mixed-replace; boundary=frame")
    response.headers["Cache-Control"] = "no-store"
    response.call_on_close(lambda: viewers.give_back(user_id))
    return response
