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
  monotonic clock) to JPEG received by the viewer, p50 / p95 in ms,
- the machine's load average before and after (the machine may be shared).

``--setup main`` decodes the 720p main streams for the previews (cameras without a sub-stream);
``--setup sub`` gives every camera a 640x360 preview sub-stream (``preview_url``), so previews
decode it and the main streams are only remuxed into the take; ``both`` (default) runs one after
the other with the same streams, viewers and duration, for a side-by-side comparison.
"""
from __future__ import annotations

import argparse
import json
import os
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
SUB_SIZE = (640, 360)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(vsion: VsionServer, args) -> dict:
    """Record with viewers on every camera; the raw figures of the measured window."""
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
    cores = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / ((t1 - t0) / 1e9)
    return {"window": (t0, t1), "cores": cores, "take": stopped["take"], "health": health, "received": received}


def per_camera(raw: dict) -> tuple[list[dict], list[float]]:
    """Capture fps, drops, preview fps and latency per camera, and every latency (ms)."""
    t0, t1 = raw["window"]
    out, all_lat = [], []
    for c, cam in enumerate(raw["take"]["cameras"]):
        span = (cam["last_frame"]["monotonic_ns"] - cam["first_frame"]["monotonic_ns"]) / 1e9
        fps_viewers, lat = [], []
        for got in raw["received"][c]:
            inside = [(r, f) for r, f in got if t0 <= r <= t1]
            span_s = (inside[-1][0] - inside[0][0]) / 1e9 if len(inside) > 1 else 0
            fps_viewers.append(round((len(inside) - 1) / span_s, 2) if span_s else 0.0)
            lat += [(r - f) / 1e6 for r, f in inside if f]
        all_lat += lat
        out.append({
            "name": cam["name"], "capture_fps": round((cam["frames"] - 1) / span, 2), "recorded_frames": cam["frames"],
            "recorded_size": f"{cam['width']}x{cam['height']}", "recording_dropped": cam["dropped"],
            "stream_frames_missing": raw["health"][c]["dropped"], "preview_fps_per_viewer": fps_viewers,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
        })
    return out, all_lat


def run_setup(setup: str, rtsp: RtspServer, args) -> dict:
    """One VSION server on the RTSP cameras, with (``sub``) or without (``main``) preview sub-streams."""
    work = Path(tempfile.mkdtemp(prefix=f"vsion-bench-live-{setup}-"))
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i), **({"preview_url": rtsp.url(i, sub=True)} if setup == "sub"
                                                           else {})} for i in range(args.cameras)]
    load_before = load_average()
    vsion = VsionServer(work, cams).start()
    try:
        vsion.wait_connected(args.cameras)
        raw = measure(vsion, args)
    finally:
        vsion.stop()
    cameras, all_lat = per_camera(raw)
    cores = raw["cores"]
    return {
        "setup": setup, "preview_source": f"{SUB_SIZE[0]}x{SUB_SIZE[1]} sub-stream" if setup == "sub" else "main stream",
        "seconds": round((raw["window"][1] - raw["window"][0]) / 1e9, 1), "process_cpu_cores": round(cores, 3),
        "load_average_before": load_before, "load_average_after": load_average(),
        "latency_ms_p95_all": round(float(np.percentile(all_lat, 95)), 1) if all_lat else None,
        "per_camera": cameras,
        "meets_targets": {
            "recording_dropped": all(c["recording_dropped"] <= TARGETS["recording_dropped"] for c in cameras),
            "preview_fps": all(min(c["preview_fps_per_viewer"]) >= TARGETS["preview_fps_min"] for c in cameras),
            "process_cpu": cores <= TARGETS["process_cpu_cores_max"],
            "latency_p95": all((c["latency_ms_p95"] or 1e9) <= TARGETS["latency_p95_ms_max"] for c in cameras),
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--viewers", type=int, default=2, help="MJPEG viewers per camera")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--setup", choices=("main", "sub", "both"), default="both")
    args = parser.parse_args()

    streams = make_test_streams(args.cameras)
    subs = make_test_streams(args.cameras, *SUB_SIZE) if args.setup != "main" else []
    rtsp = RtspServer(streams, sub_streams=subs).start()
    try:
        setups = ["main", "sub"] if args.setup == "both" else [args.setup]
        results = {setup: run_setup(setup, rtsp, args) for setup in setups}
    finally:
        rtsp.kill()
    result = {"benchmark": "live", "cameras": args.cameras, "resolution": "1280x720", "source_fps": 30,
              "viewers_per_camera": args.viewers, "cpu_count": psutil.cpu_count(), "targets": TARGETS,
              "setups": results}
    if len(results) == 2:
        result["sub_over_main_cpu"] = round(results["sub"]["process_cpu_cores"] / results["main"]["process_cpu_cores"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
