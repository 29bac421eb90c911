#!/usr/bin/env python
"""Fault benchmark: inject every fault of ``tests/helpers/faults.py`` into real recordings, fuzz the API,
and print one JSON report.

- a camera's RTSP server killed and restarted mid-take: frames lost by the faulted camera
  against the frames it did not send (nothing while its server is down), and by the others;
- the VSION server SIGKILLed mid-take and restarted: seconds of video lost before the kill;
- a tmpfs filling up: refused start, clean stop, free space left;
- 20 MJPEG viewers and 20 Socket.IO clients: capture fps against an unwatched take;
- hypothesis fuzzing of the JSON API and Socket.IO payloads (``tests/integration/test_fuzz.py``):
  payloads tried and server errors;
- server errors (tracebacks, 500s) seen in every server log.

Targets: frames lost beyond those not sent = at most one keyframe interval (the remuxed video
resumes at a keyframe) plus the reconnect; SIGKILL loses <= 1 s; 500s seen = 0.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers import faults  # noqa: E402
from tests.helpers.media import make_test_streams  # noqa: E402

GOP_FRAMES = 30
TARGETS = {"lost_beyond_not_sent_max_frames": GOP_FRAMES + 20, "sigkill_lost_s_max": 1.0, "server_errors": 0,
           "capture_fps_ratio_min": 0.97}


def fuzz(work: Path) -> dict:
    """Run the fuzzing tests; their report counts the payloads tried and the server errors."""
    report = work / "fuzz.json"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration/test_fuzz.py"],
                          cwd=ROOT, env={**os.environ, "VSION_FUZZ_REPORT": str(report)}, capture_output=True,
                          text=True)
    result = json.loads(report.read_text()) if report.is_file() else {}
    return {"payloads": result.get("payloads"), "server_errors": result.get("server_errors"),
            "tests_passed": done.returncode == 0, "seconds": round(time.monotonic() - started, 1),
            "summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the camera's RTSP server stays down")
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--skip-fuzz", action="store_true")
    args = parser.parse_args()

    streams = make_test_streams()
    work = Path(tempfile.mkdtemp(prefix="vsion-bench-faults-"))
    drop = faults.camera_drop(work / "drop", streams, outage_s=args.outage)
    kill = faults.app_kill(work / "kill", streams)
    if faults.can_mount_tmpfs(work):
        with faults.small_disk(work / "disk", 40) as disk:
            full = faults.disk_full(disk, streams)
    else:
        full = {"skipped": "mounting a tmpfs needs root"}
    viewers = faults.many_viewers(work / "viewers", streams, viewers=args.viewers, clients=args.viewers)
    fuzzing = {"skipped": True} if args.skip_fuzz else fuzz(work)

    lost = [{"fault": "camera drop", "camera": c["name"], "faulted": c["faulted"],
             "not_sent_frames": c["not_sent_frames"], "lost_frames": c["missing_frames"],
             "lost_beyond_not_sent": c["lost_beyond_not_sent"], "recording_dropped": c["dropped"]}
            for c in drop["cameras"]]
    lost += [{"fault": "server SIGKILL", "camera": c["name"], "lost_at_kill_s": c["lost_at_kill_s"],
              "rows_after_last_readable_frame": c["rows"] - c["decodable"]} for c in kill["cameras"]]
    lost += [{"fault": "disk full", "camera": c["name"], "frames": c["frames"], "unreadable": c["rows"] - c["decodable"]}
             for c in full.get("cameras", [])]
    lost += [{"fault": "20 viewers", "camera": n, "recording_dropped": c["dropped"], "missing": c["missing_frames"]}
             for n, c in viewers["watched"].items()]
    errors = sum(len(r.get("server_errors") or []) for r in (drop, kill, full, viewers))
    result = {
        "benchmark": "faults",
        "faults_injected": ["camera RTSP server killed and restarted", "VSION server SIGKILL and restart",
                            "disk full (tmpfs)", f"{args.viewers} MJPEG viewers + {args.viewers} Socket.IO clients",
                            "fuzzed API and Socket.IO payloads"],
        "frames_lost": lost,
        "camera_drop": {"outage_s": drop["outage_s"], "reconnect_s": drop["reconnect_s"], "status": drop["status"],
                        "gaps": {c["name"]: c["gaps"] for c in drop["cameras"]}},
        "server_kill": {k: kill[k] for k in ("take_json_status", "database_status", "database_integrity",
                                             "api_take_status")},
        "disk_full": {k: full.get(k) for k in ("take_status", "stop_reason", "free_mb_after_stop", "seconds_recorded")}
        | {"refused_message": (full.get("refused") or {}).get("message")},
        "viewers": {k: viewers[k] for k in ("quiet", "watched", "capture_fps_ratio_min", "jpegs_per_viewer_min",
                                            "status_events_per_client_min")},
        "payloads_tried": fuzzing.get("payloads"),
        "fuzzing": fuzzing,
        "server_errors_seen": errors + (fuzzing.get("server_errors") or 0),
        "server_error_excerpts": [e for r in (drop, kill, full, viewers) for e in r.get("server_errors") or []][:5],
        "targets": TARGETS,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
