#!/usr/bin/env python
"""The production server against the development server, under the same load, in one run.

For each server (gunicorn, the default; Werkzeug, ``serve --debug``): a real VSION process on six
1280x720 30 fps RTSP cameras (gst-rtsp-server on 127.0.0.1), first one short take to replay, then
for ``--seconds``: a take recording on all six cameras, ``--replayers`` clients replaying that
first take (a 256 KB Range request on one of its camera videos every ``--replay-period`` s each, as
a player streams; 0: as fast as the server answers), and ``--viewers`` MJPEG viewers (spread over the cameras). Prints one JSON object with,
per server: capture fps per camera (frames recorded / recorded span), frames dropped by the
recording (target 0), replay latency p50/p95 (ms) and requests served, preview fps per viewer,
and the CPU of the server's processes (cores, user + system). The machine's load average is
given with each phase: on a shared machine, compare the two servers, not absolute figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.media import make_test_streams  # noqa: E402
from tests.helpers.servers import EventClient, RtspServer, VsionServer, mjpeg_viewer  # noqa: E402

CHUNK = 256 * 1024
LIMITS = {"mjpeg_per_user": 64, "mjpeg_total": 64, "sockets_per_user": 64, "takes_per_hour": 1000}


def cpu_s(root: psutil.Process) -> float:
    """User + system CPU seconds of ``root`` and its children (gunicorn's worker, pose workers)."""
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def replayer(vsion: VsionServer, session, take: dict, stop: threading.Event, latencies: list, errors: list,
             seed: int, period_s: float):
    """Range requests on the take's videos, one every ``period_s`` (as a player streams: 256 KB/s
    at the default 1 s, about a 720p video), until ``stop``: (latency s) per request."""
    rng = random.Random(seed)
    videos = [(cam["name"], cam["size"]) for cam in take["cameras"]]
    due = time.monotonic() + rng.random() * period_s
    while not stop.is_set():
        stop.wait(max(0.0, due - time.monotonic()))
        due += period_s
        name, size = rng.choice(videos)
        start = rng.randrange(0, max(1, size - CHUNK))
        t0 = time.perf_counter()
        reply = session.get(f"{vsion.url}/api/takes/{take['id']}/video/{name}", timeout=30,
                            headers={"Range": f"bytes={start}-{start + CHUNK - 1}"})
        body = reply.content
        if reply.status_code == 206 and len(body) > 0:
            latencies.append(time.perf_counter() - t0)
        else:
            errors.append(reply.status_code)


def first_take(vsion: VsionServer, events: EventClient, seconds: float) -> dict:
    started = events.call("start recording", {"label": "to replay"})
    assert started["ok"], started
    time.sleep(seconds)
    stopped = events.call("stop recording", {})
    assert stopped["ok"], stopped
    folder = vsion.data_dir / "takes" / stopped["take_id"]
    cameras = [{"name": c["name"], "size": (folder / f"{c['name']}.mp4").stat().st_size} for c in stopped["take"]["cameras"]]
    return {"id": stopped["take_id"], "cameras": cameras}


def run_load(vsion: VsionServer, take: dict, args) -> dict:
    session = vsion.login()
    events = vsion.socket(session)
    stop = threading.Event()
    latencies, errors = [], []
    frames = [[] for _ in range(args.viewers)]
    signed_in = [vsion.login() for _ in range(args.replayers)]  # before the load: signing in is not measured
    threads = [threading.Thread(target=replayer, args=(vsion, signed_in[n], take, stop, latencies, errors, n,
                                                       args.replay_period), daemon=True) for n in range(args.replayers)]
    threads += [threading.Thread(target=mjpeg_viewer, args=(f"{vsion.url}/video_feed/{v % args.cameras}", session,
                                                            stop, frames[v]), daemon=True)
                for v in range(args.viewers)]
    started = events.call("start recording", {"label": "under load"})
    assert started["ok"], started
    for thread in threads:
        thread.start()
    time.sleep(args.warmup)
    root, load0 = psutil.Process(vsion.proc.pid), os.getloadavg()
    assert len(set(threading.enumerate()) & set(threads)) == len(threads), "a client failed to start"
    cpu0, t0, served0 = cpu_s(root), time.monotonic_ns(), len(latencies)
    time.sleep(args.seconds)
    cpu1, t1, served1 = cpu_s(root), time.monotonic_ns(), len(latencies)
    stop.set()
    stopped = events.call("stop recording", {})
    assert stopped["ok"], stopped
    for thread in threads:
        thread.join(30)
    events.close()
    window = (t1 - t0) / 1e9
    return summary(stopped["take"], latencies[served0:served1], errors, frames, (t0, t1), (cpu1 - cpu0) / window,
                   load0, window)


def summary(take, latencies, errors, frames, window_ns, cores, load0, window) -> dict:
    t0, t1 = window_ns
    cameras = []
    for cam in take["cameras"]:
        span = (cam["last_frame"]["monotonic_ns"] - cam["first_frame"]["monotonic_ns"]) / 1e9
        cameras.append({"name": cam["name"], "capture_fps": round((cam["frames"] - 1) / span, 2),
                        "recording_dropped": cam["dropped"], "missing": cam["missing_frames"]})
    preview = []
    for got in frames:
        inside = [r for r, _ in got if t0 <= r <= t1]
        preview.append(round((len(inside) - 1) / ((inside[-1] - inside[0]) / 1e9), 1) if len(inside) > 1 else 0.0)
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"seconds": round(window, 1), "load_average_1m": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
            "process_cpu_cores": round(cores, 2),
            "capture_fps_min": min(c["capture_fps"] for c in cameras),
            "recording_dropped": sum(c["recording_dropped"] for c in cameras), "per_camera": cameras,
            "replay": {"requests": len(latencies), "per_s": round(len(latencies) / window, 1),
                       "latency_ms_p50": round(float(np.percentile(ms, 50)), 1),
                       "latency_ms_p95": round(float(np.percentile(ms, 95)), 1), "errors": len(errors)},
            "preview_fps_per_viewer": preview}


def measure(kind: str, rtsp: RtspServer, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"vsion-bench-server-{kind}-"))
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i)} for i in range(args.cameras)]
    extra = {"limits": LIMITS, "security": {"login_rate_limit": "1000/minute"}}  # 20 replayers sign in at once
    vsion = VsionServer(work, cams, extra, args=("--debug",) if kind == "werkzeug" else ()).start()
    try:
        vsion.wait_connected(args.cameras)
        events = vsion.socket(vsion.login())
        take = first_take(vsion, events, args.take_seconds)
        events.close()
        return run_load(vsion, take, args)
    finally:
        vsion.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--replayers", type=int, default=20)
    parser.add_argument("--replay-period", type=float, default=1.0, help="s between two Range requests of a client "
                        "(0: as fast as the server answers)")
    parser.add_argument("--viewers", type=int, default=12)
    parser.add_argument("--take-seconds", type=float, default=6.0, help="length of the take replayed")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two servers this many times")
    args = parser.parse_args()
    rtsp = RtspServer(make_test_streams(args.cameras)).start()
    results = {"gunicorn": [], "werkzeug": []}
    try:
        for n in range(args.rounds):  # alternated, so a change in the machine's load hits both
            for kind in ("gunicorn", "werkzeug") if n % 2 == 0 else ("werkzeug", "gunicorn"):
                results[kind].append(measure(kind, rtsp, args))
    finally:
        rtsp.kill()
    print(json.dumps({"benchmark": "server", "cameras": args.cameras, "resolution": "1280x720", "source_fps": 30,
                      "replayers": args.replayers, "viewers": args.viewers, "cpu_count": psutil.cpu_count(),
                      "servers": results}, indent=2))


if __name__ == "__main__":
    main()
