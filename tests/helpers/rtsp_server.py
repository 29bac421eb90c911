#!/usr/bin/python3
"""A real RTSP server for VSION's tests and benchmarks (gst-rtsp-server, Debian's python3-gi).

Runs under the system interpreter (/usr/bin/python3), not the project's venv, because
GStreamer's Python bindings come from Debian. It serves pre-encoded H.264 files
(Annex-B, one access unit per frame, no B-frames) as live cameras:

    /usr/bin/python3 tests/helpers/rtsp_server.py --port 8554 --fps 30 \
        --stream cam1=/path/cam1.h264 --stream cam2=/path/cam2.h264 [--auth user:pass] \
        [--stream cam1-sub=/path/cam1-640x360.h264] [--audio-only sound]

Each stream's access units are pushed from an ``appsrc`` on a clock schedule, looping
forever, with pts on the pipeline's running-time clock at exact frame intervals, like a
camera's encoder clock: a looping ``multifilesrc`` gives frames without timestamps. ``h264parse config-interval=-1``
repeats SPS/PPS before every keyframe so a client joining mid-stream can start at the
next keyframe. Only TCP interleaved transport is offered and the address pool is
limited to 127.0.0.1, so no port opens on another interface.

Any number of streams may be served, e.g. a low-resolution ``camN-sub`` beside each ``camN``
(an IP camera's preview sub-stream). ``--audio-only NAME`` serves a mount with one audio track
and no video. Prints ``READY <port>`` on stdout once it listens.
"""
import argparse
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def read_access_units(path):
    """Return [(bytes, is_keyframe)] for every access unit of an Annex-B H.264 file."""
    pipe = Gst.parse_launch(
        f'filesrc location="{path}" ! h264parse ! '
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    units = []
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        units.append((bytes(info.data), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
        buf.unmap(info)
    pipe.set_state(Gst.State.NULL)
    if not units or not units[0][1]:
        raise SystemExit(f"{path}: no access units, or the first is not a keyframe")
    return units


class Feeder(threading.Thread):
    """Pushes one media's access units into its appsrc at ``fps``, looping, until refused."""

    def __init__(self, appsrc, units, fps, name):
        super().__init__(name=f"feed-{name}", daemon=True)
        self.appsrc, self.units, self.period = appsrc, units, 1.0 / fps
        self.stop = threading.Event()

    def run(self):
        clock = None
        while clock is None and not self.stop.wait(0.01):
            clock = self.appsrc.get_clock()  # set once the media's pipeline plays
        if clock is None:
            return
        pts0 = clock.get_time() - self.appsrc.get_base_time()
        start = time.monotonic()
        i = 0
        while not self.stop.is_set():
            delay = start + i * self.period - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            data, key = self.units[i % len(self.units)]
            buf = Gst.Buffer.new_wrapped(data)
            buf.pts = buf.dts = pts0 + round(i * self.period * Gst.SECOND)
            buf.duration = int(self.period * Gst.SECOND)
            if not key:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            if self.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                break
            i += 1


def make_factory(name, units, fps, pool, auth_role):
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( appsrc name=src is-live=true format=time "
        f'caps="video/x-h264,stream-format=byte-stream,alignment=au,framerate={fps}/1" '
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    factory.set_address_pool(pool)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if auth_role:
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role(auth_role, "media.factory.access", True)
        perms.add_permission_for_role(auth_role, "media.factory.construct", True)
        factory.set_permissions(perms)

    def configure(_factory, media):
        appsrc = media.get_element().get_child_by_name("src")
        feeder = Feeder(appsrc, units, fps, name)
        media.connect("unprepared", lambda *_: feeder.stop.set())
        feeder.start()

    factory.connect("media-configure", configure)
    return factory


def make_audio_factory(pool):
    """A mount with one audio track and no video (a camera set to send sound only)."""
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! "
                       "audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay0 pt=0 )")
    factory.set_shared(True)
    factory.set_address_pool(pool)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    return factory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--stream", action="append", required=True, help="NAME=FILE.h264")
    parser.add_argument("--auth", help="USER:PASSWORD required on every stream")
    parser.add_argument("--audio-only", action="append", default=[], help="NAME of a mount with sound and no video")
    args = parser.parse_args()
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", 50000, 60000, 0)
    role = None
    if args.auth:
        user, password = args.auth.split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "camera")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        role = "camera"
    mounts = server.get_mount_points()
    for spec in args.stream:
        name, path = spec.split("=", 1)
        mounts.add_factory(f"/{name}", make_factory(name, read_access_units(path), args.fps, pool, role))
    for name in args.audio_only:
        mounts.add_factory(f"/{name}", make_audio_factory(pool))
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port}")
    print(f"READY {args.port}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
