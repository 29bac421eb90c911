#!/usr/bin/env python
"""Live capture benchmark: six 720p30 RTSP cameras, recording on, two MJPEG viewers per camera.

Starts a real RTSP server (gst-rtsp-server on 127.0.0.1) and a real VSION server process,
records for ``--seconds`` while ``--viewers`` clients per camera read ``/video_feed/<i>``,
and prints one JSON object:

- capture fps per camera (frames recorded / recorded time span),
- frames dropped in the recording (writer overflow) and frames missing from the stream,
- preview fps per viewer,
- VSION process CPU (cores, user + system, over the measured window),
- glass-to-preview latency: frame arrival in VSION (``X-Frame-Monotonic-Ns``, host
  monotonic clock) to JPEG received by the viewer, p50 / p95 in ms.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.media import make_test_streams  # noqa: E402
from tests.helpers.servers import RtspServer, VsionServer  # noqa: E402
from tests.helpers.servers import mjpeg_viewer as viewer  # noqa: E402

TARGETS = {"recording_dropped": 0, "preview_fps_min": 15.0, "process_cpu_cores_max": 1.2, "latency_p95_ms_max": 150.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--viewers", type=int, default=2, help="MJPEG viewers per camera")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()

    streams = make_test_streams(args.cameras)
    rtsp = RtspServer(streams).start()
    work = Path(tempfile.mkdtemp(prefix="vsion-bench-live-"))
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i)} for i in range(args.cameras)]
    vsion = VsionServer(work, cams).start()
    try:
        vsion.wait_connected(args.cameras)
        session = vsion.login()
        events = vsion.socket(session)
        started = events.call("start recording", {"label": "bench"})
        assert started["ok"], started
        stop = threading.Event()
        received = [[[] for _ in range(args.viewers)] for _ in range(args.cameras)]
        threads = [threading.Thread(target=viewer, args=(f"{vsion.url}/video_feed/{c}", session, stop, received[c][v]),
                                    daemon=True)
                   for c in range(args.cameras) for v in range(args.viewers)]
        for t in threads:
            t.start()
        time.sleep(args.warmup)
        proc = psutil.Process(vsion.proc.pid)
        cpu0, t0 = proc.cpu_times(), time.monotonic_ns()
        time.sleep(args.seconds)
        cpu1, t1 = proc.cpu_times(), time.monotonic_ns()
        stop.set()
        stopped = events.call("stop recording", {})
        assert stopped["ok"], stopped
        health = session.get(vsion.url + "/api/cameras").json()
        events.close()
    finally:
        vsion.stop()
        rtsp.kill()

    window_s = (t1 - t0) / 1e9
    cores = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / window_s
    take = stopped["take"]
    per_camera, all_lat = [], []
    for c, cam in enumerate(take["cameras"]):
        span = (cam["last_frame"]["monotonic_ns"] - cam["first_frame"]["monotonic_ns"]) / 1e9
        fps_viewers, lat = [], []
        for got in received[c]:
            inside = [(r, f) for r, f in got if t0 <= r <= t1]
            span_s = (inside[-1][0] - inside[0][0]) / 1e9 if len(inside) > 1 else 0
            fps_viewers.append(round((len(inside) - 1) / span_s, 2) if span_s else 0.0)
            lat += [(r - f) / 1e6 for r, f in inside if f]
        all_lat += lat
        per_camera.append({
            "name": cam["name"], "capture_fps": round((cam["frames"] - 1) / span, 2), "recorded_frames": cam["frames"],
            "recording_dropped": cam["dropped"], "stream_frames_missing": health[c]["dropped"],
            "preview_fps_per_viewer": fps_viewers,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
        })
    result = {
        "benchmark": "live", "seconds": round(window_s, 1), "cameras": args.cameras, "resolution": "1280x720",
        "source_fps": 30, "viewers_per_camera": args.viewers, "cpu_count": psutil.cpu_count(),
        "process_cpu_cores": round(cores, 3),
        "latency_ms_p95_all": round(float(np.percentile(all_lat, 95)), 1) if all_lat else None,
        "per_camera": per_camera, "targets": TARGETS,
    }
    result["meets_targets"] = {
        "recording_dropped": all(c["recording_dropped"] <= TARGETS["recording_dropped"] for c in per_camera),
        "preview_fps": all(min(c["preview_fps_per_viewer"]) >= TARGETS["preview_fps_min"] for c in per_camera),
        "process_cpu": cores <= TARGETS["process_cpu_cores_max"],
        "latency_p95": all((c["latency_ms_p95"] or 1e9) <= TARGETS["latency_p95_ms_max"] for c in per_camera),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
