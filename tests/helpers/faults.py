"""Fault scenarios against real parts: RTSP servers on 127.0.0.1, a VSION server process, a tmpfs.

Each scenario injects one fault into a recording and returns what it measured as a dict;
``tests/integration/test_faults.py`` checks the dicts and ``bench/faults.py`` prints them as JSON.
Frames are counted from the take's own files: ``<camera>.timestamps.csv`` rows (a row is
written once its frame is in the video) and the frames a player decodes from ``<camera>.mp4``.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import av
import requests

from tests.helpers.servers import RtspServer, VsionServer, mjpeg_viewer, wait_until

FAST_RECONNECT = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "read_timeout_s": 3.0, "open_timeout_s": 5.0}
NO_DISK_LIMITS = {"min_free_mb": 0, "stop_free_mb": 0}
FPS = 30


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def decodable_frames(path: Path) -> int:
    """Frames a player can decode from a possibly truncated file."""
    n = 0
    with contextlib.suppress(av.FFmpegError, OSError):
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                n += 1
    return n


def server_errors(log_text: str) -> list[str]:
    """The tracebacks and unhandled-request errors a server log shows (Flask logs a 500 as
    'Exception on'), each as its first lines."""
    lines = log_text.splitlines()
    return ["\n".join(lines[max(0, i - 1):i + 12]) for i, line in enumerate(lines)
            if "Traceback (most recent call last)" in line or "Exception on " in line]


def _record(vsion: VsionServer, seconds: float, during=None) -> tuple[dict, dict]:
    events = vsion.socket(vsion.login())
    started = events.call("start recording", {"label": "fault"})
    assert started["ok"], started
    if during is not None:
        during()
    else:
        time.sleep(seconds)
    stopped = events.call("stop recording", {})
    assert stopped["ok"], stopped
    events.close()
    return started, stopped


def camera_drop(workdir: Path, streams: list[Path], outage_s: float = 3.0, before_s: float = 3.0,
                after_s: float = 3.0) -> dict:
    """One camera's RTSP server is killed mid-take and restarted ``outage_s`` later; two other
    cameras, on another RTSP server, go on. Returns per camera: frames, gaps and the frames lost
    beyond those the camera did not send (it sends nothing between the kill and the restart)."""
    dropping = RtspServer(streams[:1]).start()
    steady = RtspServer(streams[1:3]).start()
    cams = [{"name": "cam1", "url": dropping.url(0)},
            {"name": "cam2", "url": steady.url(0)}, {"name": "cam3", "url": steady.url(1)}]
    vsion = VsionServer(workdir, cams, {"camera": FAST_RECONNECT, "recording": NO_DISK_LIMITS}).start()
    marks = {}
    try:
        vsion.wait_connected(3)

        def fault():
            time.sleep(before_s)
            marks["kill"] = time.monotonic_ns()
            dropping.kill()
            time.sleep(outage_s)
            dropping.start()
            marks["back"] = time.monotonic_ns()  # the server answers again (READY)
            assert wait_until(lambda: requests.get(vsion.url + "/healthz", timeout=5).json()["connected"] == 3,
                              timeout=30)
            marks["rejoined"] = time.monotonic_ns()
            time.sleep(after_s)

        _, stopped = _record(vsion, 0, fault)
    finally:
        vsion.stop()
        dropping.kill()
        steady.kill()
    take_dir = vsion.data_dir / "takes" / stopped["take_id"]
    take = json.loads((take_dir / "take.json").read_text())
    not_sent = round((marks["back"] - marks["kill"]) / 1e9 * FPS)
    cameras = []
    for cam in take["cameras"]:
        rows = read_rows(take_dir / cam["timestamps"])
        marked = sum(int(r["missing_before"]) for r in rows)
        faulty = cam["name"] == "cam1"
        cameras.append({
            "name": cam["name"], "faulted": faulty, "frames": cam["frames"], "decodable": decodable_frames(
                take_dir / cam["file"]), "dropped": cam["dropped"], "missing_frames": cam["missing_frames"],
            "missing_in_timestamps": marked, "gaps": cam["gaps"],
            "not_sent_frames": not_sent if faulty else 0,
            "lost_beyond_not_sent": (cam["missing_frames"] - not_sent) if faulty else cam["missing_frames"],
            "frames_after_rejoin": sum(1 for r in rows if int(r["monotonic_ns"]) > marks["back"]),
        })
    return {"fault": "camera RTSP server killed and restarted mid-take", "outage_s": outage_s,
            "reconnect_s": round((marks["rejoined"] - marks["back"]) / 1e9, 2), "status": take["status"],
            "cameras": cameras, "server_errors": server_errors(vsion.log.read_text())}


def app_kill(workdir: Path, streams: list[Path], before_s: float = 5.0) -> dict:
    """SIGKILL the VSION server mid-take, restart it: the take must be found, marked
    interrupted in take.json and the database, and readable up to 1 s before the kill."""
    rtsp = RtspServer(streams[:3]).start()
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i)} for i in range(3)]
    vsion = VsionServer(workdir, cams, {"recording": NO_DISK_LIMITS}).start()
    try:
        vsion.wait_connected(3)
        events = vsion.socket(vsion.login())
        started = events.call("start recording", {"label": "killed"})
        assert started["ok"], started
        time.sleep(before_s)
        killed_wall = time.time_ns()
        vsion.crash()  # the master and the worker that records
        take_dir = vsion.data_dir / "takes" / started["take_id"]
        cameras = []
        for i in range(3):
            name = f"cam{i + 1}"
            rows = read_rows(take_dir / f"{name}.timestamps.csv")
            readable = decodable_frames(take_dir / f"{name}.mp4")
            last_wall = int(rows[readable - 1]["wall_time_ns"]) if readable else None
            cameras.append({"name": name, "rows": len(rows), "decodable": readable,
                            "lost_at_kill_s": None if last_wall is None else round((killed_wall - last_wall) / 1e9, 3)})
        vsion.start()
        session = vsion.login()
        detail = session.get(f"{vsion.url}/api/takes/{started['take_id']}", timeout=10)
        take_json = json.loads((take_dir / "take.json").read_text())
    finally:
        vsion.stop()
        rtsp.kill()
    with contextlib.closing(sqlite3.connect(vsion.data_dir / "vsion.db")) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        row = conn.execute("SELECT status FROM takes WHERE id = ?", (started["take_id"],)).fetchone()
    return {"fault": "VSION server SIGKILLed mid-take, then restarted", "take_id": started["take_id"],
            "take_json_status": take_json["status"], "take_json_frames": {c["name"]: c["frames"]
                                                                         for c in take_json["cameras"]},
            "database_status": row[0] if row else None, "database_integrity": integrity,
            "api_status": detail.status_code, "api_take_status": detail.json().get("status") if detail.ok else None,
            "cameras": cameras, "server_errors": server_errors(vsion.log.read_text())}


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int):
    """A tmpfs of ``size_mb`` mounted at ``path`` (needs root); unmounted on exit."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)], check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def can_mount_tmpfs(scratch: Path) -> bool:
    try:
        with small_disk(scratch / "probe", 1):
            return True
    except (subprocess.CalledProcessError, OSError):
        return False


def _fill(path: Path, leave_mb: float) -> None:
    """Grow ``path`` until only ``leave_mb`` MB stay free on its file system."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize / 2**20
    with open(path, "ab") as fh:
        fh.write(b"\0" * max(0, int((free - leave_mb) * 2**20)))


def disk_full(disk: Path, streams: list[Path], min_free_mb: float = 12, stop_free_mb: float = 6) -> dict:
    """On a small tmpfs: a start below ``min_free_mb`` is refused with the reason; then a take
    runs until the disk nears ``stop_free_mb`` and VSION stops it by itself, files closed."""
    rtsp = RtspServer(streams[:3]).start()
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i)} for i in range(3)]
    vsion = VsionServer(disk / "vsion", cams, {"recording": {"min_free_mb": min_free_mb,
                                                             "stop_free_mb": stop_free_mb}}).start()
    filler = disk / "filler.bin"
    try:
        vsion.wait_connected(3)
        events = vsion.socket(vsion.login())
        _fill(filler, min_free_mb - 2)
        refused = events.call("start recording", {})
        filler.unlink()
        _fill(filler, min_free_mb + 8)  # room for about 8 MB of video (3 cameras at ~0.35 MB/s each)
        started = events.call("start recording", {})
        assert started["ok"], started
        stopped_event = events.wait_for("recording status", lambda d: not d.get("recording") and d.get("take_id")
                                        == started["take_id"], timeout=120)
        error_event = events.wait_for("recording error", lambda d: d.get("code") == "disk_full", timeout=10)
        st = os.statvfs(disk)
        free_after = st.f_bavail * st.f_frsize / 2**20
        events.close()
    finally:
        vsion.stop()
        rtsp.kill()
    take_dir = vsion.data_dir / "takes" / started["take_id"]
    take = json.loads((take_dir / "take.json").read_text())
    cameras = [{"name": c["name"], "frames": c["frames"], "decodable": decodable_frames(take_dir / c["file"]),
                "rows": len(read_rows(take_dir / c["timestamps"])), "error": c["error"]} for c in take["cameras"]]
    return {"fault": "disk filled up (tmpfs)", "refused": refused, "stop_event": stopped_event,
            "error_event": error_event, "take_status": take["status"], "stop_reason": take["stop_reason"],
            "free_mb_after_stop": round(free_after, 1), "seconds_recorded": round(
                (take["stop"]["monotonic_ns"] - take["start"]["monotonic_ns"]) / 1e9, 1),
            "cameras": cameras, "server_errors": server_errors(vsion.log.read_text())}


def many_viewers(workdir: Path, streams: list[Path], viewers: int = 20, clients: int = 20,
                 seconds: float = 8.0) -> dict:
    """Two takes of ``seconds`` on three cameras: one with nobody watching, one with ``viewers``
    MJPEG viewers (spread over the cameras) and ``clients`` Socket.IO clients. Capture rates
    are compared within this one run."""
    rtsp = RtspServer(streams[:3]).start()
    cams = [{"name": f"cam{i + 1}", "url": rtsp.url(i)} for i in range(3)]
    # One signed-in user stands for a workshop full of tablets: its caps are raised to the load asked for.
    limits = {"sockets_per_address": clients + 5, "sockets_per_user": clients + 5, "mjpeg_per_user": viewers,
              "mjpeg_total": max(36, viewers)}
    vsion = VsionServer(workdir, cams, {"recording": NO_DISK_LIMITS, "limits": limits}).start()
    try:
        vsion.wait_connected(3)
        _, quiet = _record(vsion, seconds)
        session = vsion.login()
        stop = threading.Event()
        received = [[] for _ in range(viewers)]
        threads = [threading.Thread(target=mjpeg_viewer, args=(f"{vsion.url}/video_feed/{v % 3}", session, stop,
                                                               received[v]), daemon=True) for v in range(viewers)]
        for t in threads:
            t.start()
        sockets = [vsion.socket(session) for _ in range(clients)]
        time.sleep(2)
        _, busy = _record(vsion, seconds)
        stop.set()
        status_events = [sum(1 for name, _ in s.events if name == "camera status") for s in sockets]
        for s in sockets:
            s.close()
    finally:
        vsion.stop()
        rtsp.kill()

    def rates(take):
        out = {}
        for cam in take["take"]["cameras"]:
            span = (cam["last_frame"]["monotonic_ns"] - cam["first_frame"]["monotonic_ns"]) / 1e9
            out[cam["name"]] = {"capture_fps": round((cam["frames"] - 1) / span, 2), "dropped": cam["dropped"],
                                "missing_frames": cam["missing_frames"]}
        return out

    quiet_rates, busy_rates = rates(quiet), rates(busy)
    ratio = min(busy_rates[n]["capture_fps"] / quiet_rates[n]["capture_fps"] for n in quiet_rates)
    return {"fault": f"{viewers} MJPEG viewers and {clients} Socket.IO clients", "quiet": quiet_rates,
            "watched": busy_rates, "capture_fps_ratio_min": round(ratio, 3),
            "jpegs_per_viewer_min": min(len(r) for r in received),
            "status_events_per_client_min": min(status_events) if status_events else 0,
            "server_errors": server_errors(vsion.log.read_text())}
