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

``--live-pose`` measures the live skeleton instead, on the demo's four cameras with one person
(``demo``) and with two (``demo --people``): the live 3D rate (``pose3d`` events a second, and the
rate the server reports), the people per frame set, and the glass-to-skeleton latency p50 / p95:
from the arrival of the oldest frame used (host monotonic clock) to the ``pose3d`` event being
sent (``latency_ms``, measured by VSION) and to it being received by the client. It also times
the live pose workers as threads against processes (``--workers-only``: that alone), four
estimators on Pose2Sim's Demo_MultiPerson frames side by side: frame sets a second and the
wake-up delay of another thread of the same process (p99, what the cameras' threads would feel).
The machine's load average is printed with the figures.
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


# --------------------------------------------------------------------------- the live skeleton
def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(values, 50)), 1), "p95": round(float(np.percentile(values, 95)), 1)}


def _pose_run(people: bool, seconds: float) -> dict:
    """The live skeleton of ``demo`` (one person) or ``demo --people`` (two) for ``seconds``."""
    from tests.helpers.servers import DemoServer, EventClient

    received: list[tuple[int, dict]] = []
    server = DemoServer(Path(tempfile.mkdtemp(prefix="vsion-bench-pose-")), args=("--people",) if people else ())
    try:
        server.start()
        client = EventClient(server.url, server.login("technician"))
        client.client.on("pose3d", lambda data: received.append((time.monotonic_ns(), data)))
        client.call("live pose", {"enabled": True})
        deadline = time.monotonic() + 600  # the handler above takes pose3d from the client's own record
        while not any(data.get("points3d") for _, data in list(received)):
            if time.monotonic() > deadline:
                raise RuntimeError("no live skeleton within 600 s")
            time.sleep(0.5)
        time.sleep(5)  # workers warm
        start, t0 = len(received), time.monotonic()
        time.sleep(seconds)
        events = received[start:]
        elapsed = time.monotonic() - t0
        client.call("live pose", {"enabled": False})
        client.close()
    finally:
        server.kill()
    return {"people_expected": 2 if people else 1, "seconds": round(elapsed, 1), "events": len(events),
            "live_3d_hz": round(len(events) / elapsed, 2),
            "reported_rate_hz": events[-1][1]["rate"] if events else None,
            "people_per_event": round(float(np.mean([len(d.get("people") or []) for _, d in events])), 2) if events else 0,
            "with_3d_pct": round(100 * sum(1 for _, d in events if d["points3d"]) / max(1, len(events)), 1),
            "latency_to_sent_ms": _percentiles([d["latency_ms"] for _, d in events]),
            "latency_to_received_ms": _percentiles([(r - d["frame_ns"]) / 1e6 for r, d in events])}


def _heartbeat(stop: threading.Event, lags: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        time.sleep(0.001)
        lags.append(time.perf_counter() - t - 0.001)


def _estimate_frames(frames: list[np.ndarray]) -> float:
    from reconstruction.pose_runtime import MultiPoseEstimator

    estimator = MultiPoseEstimator()
    t0 = time.perf_counter()
    for rgb in frames:
        estimator.process(rgb)
    return time.perf_counter() - t0


def _workers_round(cameras: list[list[np.ndarray]], mode: str) -> dict:
    """Four estimators as threads or as processes (started beforehand), timed on the same frames."""
    import concurrent.futures as cf
    import multiprocessing

    stop, lags = threading.Event(), []
    beat = threading.Thread(target=_heartbeat, args=(stop, lags))
    if mode == "threads":
        pool = cf.ThreadPoolExecutor(len(cameras))
    else:
        pool = cf.ProcessPoolExecutor(len(cameras), mp_context=multiprocessing.get_context("spawn"))
        list(pool.map(_estimate_frames, [c[:1] for c in cameras]))  # processes started and warm
    beat.start()
    t0 = time.perf_counter()
    list(pool.map(_estimate_frames, cameras))
    wall = time.perf_counter() - t0
    stop.set()
    beat.join()
    pool.shutdown()
    return {"frame_sets_per_s": round(len(cameras[0]) / wall, 2),
            "other_thread_wakeup_delay_ms_p99": round(float(np.percentile(lags, 99)) * 1000, 2)}


def workers_comparison(rounds: int = 2, frames: int = 40) -> dict:
    """Live pose workers as threads against processes, alternated ``rounds`` times."""
    import av
    import cv2

    from capture import demo

    cameras = []
    for i in range(1, 5):
        with av.open(str(demo.pose2sim_file(f"videos/cam0{i}.mp4", demo.POSE2SIM_MULTI_DEMO))) as container:
            images = [f.to_ndarray(format="rgb24") for _, f in zip(range(frames), container.decode(video=0))]
        cameras.append([cv2.resize(img, (360, 640)) for img in images])
    runs = {"threads": [], "processes": []}
    for k in range(rounds):
        for mode in (("threads", "processes") if k % 2 == 0 else ("processes", "threads")):
            runs[mode].append(_workers_round(cameras, mode))
    return {mode: {key: float(np.median([r[key] for r in values])) for key in values[0]} for mode, values in runs.items()}


def pose_main(seconds: float, workers_only: bool) -> None:
    result = {"benchmark": "live pose", "cpu_count": psutil.cpu_count(), "load_average_before": os.getloadavg(),
              "workers_threads_vs_processes": workers_comparison()}
    if not workers_only:
        result["one_person"] = _pose_run(False, seconds)
        result["two_people"] = _pose_run(True, seconds)
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if "--live-pose" in sys.argv or "--workers-only" in sys.argv:
        options = argparse.ArgumentParser(description="live skeleton benchmark")
        options.add_argument("--live-pose", action="store_true")
        options.add_argument("--workers-only", action="store_true")
        options.add_argument("--seconds", type=float, default=60.0)
        parsed = options.parse_args()
        pose_main(parsed.seconds, parsed.workers_only)
    else:
        main()
