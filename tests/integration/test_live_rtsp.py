"""End to end against a real RTSP server (gst-rtsp-server on 127.0.0.1) with six 720p cameras."""
import csv
import json
import signal
import time

import av
import pytest
import requests

from capture.camera import CONNECTED, FAILED, RECONNECTING
from settings import parse_settings
from tests.helpers.servers import RtspServer, VsionServer, wait_until
from VideoProcessor import VideoProcessor

pytestmark = pytest.mark.slow
FAST_RECONNECT = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "read_timeout_s": 3.0, "open_timeout_s": 5.0}


def rtsp_cameras(server, n=6, credentials=True):
    return [{"name": f"cam{i + 1}", "url": server.url(i, credentials)} for i in range(n)]


def test_reads_six_cameras_and_survives_an_outage(tmp_path, rtsp):
    settings = parse_settings({"cameras": rtsp_cameras(rtsp), "data_dir": str(tmp_path), "camera": FAST_RECONNECT})
    vp = VideoProcessor(settings).start()
    try:
        assert wait_until(lambda: all(h["status"] == CONNECTED and h["frames"] > 30 for h in vp.health()))
        for h, handler in zip(vp.health(), vp.handlers):
            assert (h["width"], h["height"], h["codec"]) == (1280, 720, "h264")
            assert handler.info.remux and h["fps"] > 15
        frames_before = [h["frames"] for h in vp.health()]

        rtsp.kill()
        assert wait_until(lambda: all(h["status"] in (RECONNECTING, FAILED) for h in vp.health()), timeout=20)
        assert all(h["error"] and h["reconnects"] >= 1 for h in vp.health())
        assert wait_until(lambda: all(h["fps"] == 0 for h in vp.health()), timeout=10)

        rtsp.start()
        assert wait_until(lambda: all(h["status"] == CONNECTED for h in vp.health()), timeout=30)
        assert wait_until(lambda: all(h["frames"] > b + 30 for h, b in zip(vp.health(), frames_before)))
        assert all(h["error"] is None for h in vp.health())
    finally:
        vp.stop()


def test_credentials_never_shown(tmp_path, streams):
    server = RtspServer(streams[:2], auth="operator:Top5ecret").start()
    cams = rtsp_cameras(server, 2) + [{"name": "wrongpw", "url": server.url(0).replace("Top5ecret", "Bad5ecret")}]
    vsion = VsionServer(tmp_path, cams, {"camera": FAST_RECONNECT}).start()
    try:
        vsion.wait_connected(2)
        session = vsion.login()
        time.sleep(2)
        api = session.get(vsion.url + "/api/cameras").json()
        page = session.get(vsion.url + "/").text
        assert [c["status"] for c in api][:2] == ["connected", "connected"]
        assert api[2]["status"] in ("reconnecting", "failed") and api[2]["error"]
        assert api[0]["url"] == f"rtsp://operator:***@127.0.0.1:{server.port}/cam1"
    finally:
        vsion.stop()
        server.kill()
    log = vsion.log.read_text()
    assert "reconnect attempt" in log
    for text in (str(api), page, log):
        assert "Top5ecret" not in text and "Bad5ecret" not in text


def read_rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def decodable_frames(path):
    """Frames a player can decode from a possibly truncated file."""
    n = 0
    try:
        with av.open(str(path)) as c:
            for _ in c.decode(video=0):
                n += 1
    except av.FFmpegError:
        pass
    return n


def test_record_ten_seconds_over_socketio(tmp_path, rtsp):
    vsion = VsionServer(tmp_path, rtsp_cameras(rtsp), users={"tech": "technician"}).start()
    try:
        vsion.wait_connected(6)
        events = vsion.socket(vsion.login())
        started = events.call("start recording", {"label": "ten seconds"})
        assert started["ok"], started
        events.wait_for("recording status", lambda d: d.get("recording"))
        time.sleep(10)
        stopped = events.call("stop recording", {})
        assert stopped["ok"], stopped
        assert events.wait_for("recording status", lambda d: not d.get("recording") and "take_id" in d)["take_id"] == started["take_id"]
        health = requests.get(vsion.url + "/healthz").json()
        assert health["recording"] is False
        statuses = [data for name, data in events.events if name == "camera status"]
        assert len(statuses) >= 9  # broadcast every second
        assert all(len(s["cameras"]) == 6 and "rtsp://" in s["cameras"][0]["url"] for s in statuses)
        events.close()
    finally:
        vsion.stop()
    take_dir = vsion.data_dir / "takes" / started["take_id"]
    assert stopped["take_id"] == started["take_id"] and "folder" not in stopped  # no server path in events
    take = json.loads((take_dir / "take.json").read_text())
    assert take["status"] == "complete" and take["label"] == "ten seconds" and take["created_by"] == "tech"
    start, stop = take["start"]["monotonic_ns"], take["stop"]["monotonic_ns"]
    assert 9.5e9 < stop - start < 12e9
    assert len(take["cameras"]) == 6
    for cam in take["cameras"]:
        period = 1e9 / cam["fps"]
        table = read_rows(take_dir / cam["timestamps"])
        assert cam["mode"] == "remux" and cam["dropped"] == 0
        assert decodable_frames(take_dir / cam["file"]) == len(table) == cam["frames"]
        first, last = int(table[0]["monotonic_ns"]), int(table[-1]["monotonic_ns"])
        assert first <= start + period, cam["name"]
        assert last >= stop - period, cam["name"]
        assert cam["first_frame"]["monotonic_ns"] == first and cam["last_frame"]["monotonic_ns"] == last
        assert cam["frames"] >= 0.9 * 30 * (last - first) / 1e9


def test_sigkill_mid_recording_keeps_files_readable(tmp_path, rtsp):
    vsion = VsionServer(tmp_path, rtsp_cameras(rtsp)).start()
    vsion.wait_connected(6)
    events = vsion.socket(vsion.login())
    started = events.call("start recording", {})
    assert started["ok"], started
    time.sleep(6)
    killed_at = time.time_ns()
    vsion.crash()  # the master and the worker that records
    take_dir = vsion.data_dir / "takes" / started["take_id"]
    for i in range(6):
        table = read_rows(take_dir / f"cam{i + 1}.timestamps.csv")
        readable = decodable_frames(take_dir / f"cam{i + 1}.mp4")
        assert readable > 0 and readable <= len(table)
        last_readable = int(table[readable - 1]["wall_time_ns"])
        assert killed_at - last_readable <= 1e9, f"cam{i + 1}: lost {(killed_at - last_readable) / 1e9:.2f} s"
    # On restart the take is found and marked interrupted.
    vsion.start()
    try:
        assert json.loads((take_dir / "take.json").read_text())["status"] == "interrupted"
    finally:
        vsion.stop()


def test_a_stalled_stream_is_reconnected(tmp_path, rtsp):
    """The server freezes (SIGSTOP): no error, no EOF, just silence past the read timeout."""
    tuning = {**FAST_RECONNECT, "read_timeout_s": 2.0, "open_timeout_s": 2.0}
    settings = parse_settings({"cameras": rtsp_cameras(rtsp, 2), "data_dir": str(tmp_path), "camera": tuning})
    vp = VideoProcessor(settings).start()
    try:
        assert wait_until(lambda: all(h["status"] == CONNECTED for h in vp.health()))
        rtsp.proc.send_signal(signal.SIGSTOP)
        assert wait_until(lambda: all(h["status"] in (RECONNECTING, FAILED) for h in vp.health()), timeout=15)
        assert all("no data" in h["error"] for h in vp.health()), vp.health()
        rtsp.proc.send_signal(signal.SIGCONT)
        assert wait_until(lambda: all(h["status"] == CONNECTED for h in vp.health()), timeout=30)
    finally:
        if rtsp.proc:
            rtsp.proc.send_signal(signal.SIGCONT)
        vp.stop()
