#!/usr/bin/env python
"""Camera changes while VSION runs: time from "Add camera" to its live picture, and the other
cameras' capture and preview fps while one camera is added or removed.

Starts a real RTSP server (gst-rtsp-server on 127.0.0.1, 1280x720 30 fps H.264, a keyframe
every second) and a real VSION server on ``--cameras`` of its streams, with one MJPEG viewer on
each. Then ``--repeat`` times: adds one more camera through ``POST /api/cameras/config`` (as the
Cameras page does), waits for the first JPEG of a real frame on its ``/video_feed``, and removes
it with ``DELETE``. Prints one JSON object:

- ``add_to_live_picture_s``: from sending "Add" to the first preview JPEG of the new camera
  (each run, and the median); ``add_answer_ms``: the API's answer time;
- per change (add, remove), the other cameras' capture fps (their frame counters, sampled every
  0.1 s, over the change's window: from the request to 2 s after the picture, or 3 s after a
  removal) against the same cameras' fps in the 5 s before (ratio), and their preview fps;
- ``removed_viewer_ended_s``: how long the removed camera's MJPEG viewer took to end;
- the load average before and after (the machine may be shared).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.media import make_test_streams  # noqa: E402
from tests.helpers.servers import RtspServer, VsionServer, mjpeg_viewer, wait_until  # noqa: E402

BASELINE_S = 5.0


class Sampler(threading.Thread):
    """Polls ``/api/cameras``: (monotonic ns, {name: frames}) every 0.1 s."""

    def __init__(self, vsion, session):
        super().__init__(daemon=True)
        self.url, self.session, self.samples, self.stop = vsion.url + "/api/cameras", session, [], threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            cams = self.session.get(self.url, timeout=5).json()
            self.samples.append((time.monotonic_ns(), {c["name"]: c["frames"] for c in cams}))

    def fps(self, name: str, t0: int, t1: int) -> float | None:
        inside = [(t, f[name]) for t, f in self.samples if t0 <= t <= t1 and name in f]
        if len(inside) < 2:
            return None
        return round((inside[-1][1] - inside[0][1]) / ((inside[-1][0] - inside[0][0]) / 1e9), 2)


def preview_fps(received: list, t0: int, t1: int) -> float | None:
    inside = [r for r, f in received if t0 <= r <= t1 and f]
    return round((len(inside) - 1) / ((inside[-1] - inside[0]) / 1e9), 2) if len(inside) > 1 else None


def others(sampler, previews, names, t0, t1) -> dict:
    """The other cameras' capture fps in [t0, t1] against the 5 s before, and their preview fps."""
    base0 = t0 - int(BASELINE_S * 1e9)
    during = {n: sampler.fps(n, t0, t1) for n in names}
    before = {n: sampler.fps(n, base0, t0) for n in names}
    ratios = [during[n] / before[n] for n in names if during[n] and before[n]]
    return {"seconds": round((t1 - t0) / 1e9, 2), "capture_fps": during, "capture_fps_before": before,
            "capture_fps_ratio_min": round(min(ratios), 3) if ratios else None,
            "preview_fps": {n: preview_fps(previews[n], t0, t1) for n in names}}


def add_and_remove(vsion, session, rtsp, index: int, sampler, previews, names) -> dict:
    """One camera added (timed to its first live picture) and removed; the others measured."""
    name = f"cam{index + 1}"
    t_click = time.monotonic_ns()
    reply = session.post(vsion.url + "/api/cameras/config", json={"name": name, "source": "rtsp",
                                                                  "url": rtsp.url(index)},
                         headers={"X-CSRFToken": vsion.csrf}, timeout=60)
    t_answer = time.monotonic_ns()
    assert reply.status_code == 201, reply.text
    got, stop = [], threading.Event()
    feed = threading.Thread(target=mjpeg_viewer, args=(f"{vsion.url}/video_feed/{index}", session, stop, got),
                            daemon=True)
    feed.start()
    assert wait_until(lambda: any(f for _, f in got), timeout=60, step=0.005), "no live picture"
    t_live = next(r for r, f in got if f)
    time.sleep(2.0)
    added = others(sampler, previews, names, t_click, time.monotonic_ns())
    time.sleep(3.0)
    t_remove = time.monotonic_ns()
    reply = session.delete(f"{vsion.url}/api/cameras/config/{name}", headers={"X-CSRFToken": vsion.csrf}, timeout=60)
    assert reply.status_code == 200, reply.text
    feed.join(30)
    ended = (time.monotonic_ns() - t_remove) / 1e9
    stop.set()
    time.sleep(3.0)
    removed = others(sampler, previews, names, t_remove, time.monotonic_ns())
    return {"add_answer_ms": round((t_answer - t_click) / 1e6, 1), "add_to_live_picture_s": round((t_live - t_click) / 1e9, 3),
            "removed_viewer_ended_s": round(ended, 3) if not feed.is_alive() else None,
            "while_adding": added, "while_removing": removed}


def csrf_token(vsion, session) -> str:
    import re

    page = session.get(vsion.url + "/cameras", timeout=10).text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=5, help="cameras running (one more is added and removed)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rtsp = RtspServer(make_test_streams(args.cameras + 1)).start()
    names = [f"cam{i + 1}" for i in range(args.cameras)]
    vsion = VsionServer(Path(tempfile.mkdtemp(prefix="vsion-bench-cameras-")),
                        [{"name": n, "url": rtsp.url(i)} for i, n in enumerate(names)])
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        vsion.start()
        vsion.wait_connected(args.cameras)
        session = vsion.login()
        vsion.csrf = csrf_token(vsion, session)
        stop, previews = threading.Event(), {n: [] for n in names}
        for i, n in enumerate(names):
            threading.Thread(target=mjpeg_viewer, args=(f"{vsion.url}/video_feed/{i}", session, stop, previews[n]),
                             daemon=True).start()
        sampler = Sampler(vsion, session)
        sampler.start()
        time.sleep(BASELINE_S + 1)
        runs = [add_and_remove(vsion, session, rtsp, args.cameras, sampler, previews, names) for _ in range(args.repeat)]
        stop.set()
        sampler.stop.set()
    finally:
        vsion.stop()
        rtsp.kill()
    times = [r["add_to_live_picture_s"] for r in runs]
    print(json.dumps({
        "benchmark": "cameras", "cameras_running": args.cameras, "source": "1280x720 30 fps H.264, keyframe every 1 s",
        "add_to_live_picture_s_median": round(statistics.median(times), 3), "add_to_live_picture_s": times,
        "others_capture_fps_ratio_min": min(r[k]["capture_fps_ratio_min"] or 0 for r in runs
                                            for k in ("while_adding", "while_removing")),
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
