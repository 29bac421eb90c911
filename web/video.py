"""MJPEG preview: ``GET /video_feed/<index>`` (contract)."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from web.state import system

bp = Blueprint("video", __name__)


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


@bp.route("/video_feed/<int:index>")
def video_feed(index: int):
    processor = system().processor
    channel = processor.preview(index)
    if channel is None:
        abort(404)
    response = Response(mjpeg(channel, channel.stop_event),  # ends with the server, or when the camera is removed
                        mimetype="multipart/x-mixed-replace; boundary=frame")
    response.headers["Cache-Control"] = "no-store"
    return response
