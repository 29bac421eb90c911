"""Cameras changed while VSION runs: config.yaml written with its comments kept, and the camera
group adding, replacing, reordering and removing cameras on a real RTSP server (gst-rtsp-server
on 127.0.0.1) while the others keep capturing; the preview sub-stream."""
from __future__ import annotations

import threading
import time

import pytest

from capture.group import RecordingError
from config import secretbox
from config.edit import write_cameras
from config.schema import CameraConfig, ConfigError
from settings import load_settings, parse_settings
from tests.helpers.media import make_test_streams
from tests.helpers.servers import RtspServer, wait_until
from VideoProcessor import VideoProcessor
from web.video import mjpeg

SECRET = "Top5ecret"
CONFIG = f"""\
# VSION at the workshop
cameras:            # left to right
  - name: cam1
    url: "rtsp://operator:{SECRET}@192.0.2.10:554/stream1"   # north pillar
  - {{name: cam2, url: 'rtsp://192.0.2.11/s'}}   # door
  - name: cam3
    url: demo:1
data_dir: data
preview: {{width: 640, fps: 15}}  # keep light
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv(secretbox.KEY_ENV, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    return config


def cams(config) -> list[CameraConfig]:
    return list(load_settings(config).cameras)


def test_camera_changes_keep_the_file_and_seal_new_passwords(site):
    before = cams(site)
    added = CameraConfig(name="cam4", url=f"rtsp://viewer:{SECRET}4@192.0.2.14/live",
                         preview_url=f"rtsp://viewer:{SECRET}4@192.0.2.14/sub")
    write_cameras(site, [before[2], before[0], added, before[1]])
    text = site.read_text()
    assert SECRET not in text and text.count(secretbox.PREFIX) == 3
    for kept in ("# VSION at the workshop", "cameras:            # left to right", "   # north pillar",
                 "  - {name: cam2, url: 'rtsp://192.0.2.11/s'}   # door", "preview: {width: 640, fps: 15}  # keep light"):
        assert kept in text, kept
    assert [c.name for c in cams(site)] == ["cam3", "cam1", "cam4", "cam2"]
    assert cams(site) == [before[2], before[0], added, before[1]]

    sealed = [line for line in text.splitlines() if secretbox.PREFIX in line]
    write_cameras(site, [c for c in cams(site) if c.name != "cam2"])  # the others' lines stay as they were
    assert [line for line in site.read_text().splitlines() if secretbox.PREFIX in line] == sealed
    assert "door" not in site.read_text() and "north pillar" in site.read_text()

    renamed = CameraConfig(name="left", url=before[0].url)
    write_cameras(site, [renamed] + [c for c in cams(site) if c.name != "cam1"], {"left": "cam1"})
    assert "  - name: left\n    url: \"vsion-enc:v1:" in site.read_text() and "# north pillar" in site.read_text()


def test_a_file_that_cannot_take_the_change_is_left_as_it_was(site):
    site.chmod(0o444)
    with pytest.raises(ConfigError, match="read-only"):
        write_cameras(site, cams(site)[:1])
    assert site.read_text() == CONFIG
    site.chmod(0o644)
    with pytest.raises(ValueError):
        write_cameras(site, [CameraConfig(name="a", url="demo:1")] * 2)  # names must be unique: nothing written
    assert site.read_text() == CONFIG


# --------------------------------------------------------------------------- the running group
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "read_timeout_s": 3.0, "open_timeout_s": 5.0}


@pytest.fixture(scope="module")
def rtsp_subs():
    server = RtspServer(make_test_streams(3), sub_streams=make_test_streams(3, 640, 360)).start()
    yield server
    server.kill()


def camera(server, i: int, sub: bool = False) -> CameraConfig:
    return CameraConfig(name=f"cam{i + 1}", url=server.url(i), preview_url=server.url(i, sub=True) if sub else None)


def group(tmp_path, cameras) -> VideoProcessor:
    settings = parse_settings({"cameras": [c.model_dump() for c in cameras], "data_dir": str(tmp_path / "data"),
                               "camera": FAST})
    return VideoProcessor(settings).start()


def connected(vp, names) -> bool:
    health = {h["name"]: h for h in vp.health()}
    return all(n in health and health[n]["status"] == "connected" and health[n]["frames"] > 10 for n in names)


class FrameCounter(threading.Thread):
    """Counts a handler's frames every 50 ms: (monotonic s, frames) samples."""

    def __init__(self, handler):
        super().__init__(daemon=True)
        self.handler, self.samples, self.stop = handler, [], threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            self.samples.append((time.monotonic(), self.handler.health().frames))

    def rate(self, start: float, end: float) -> float:
        inside = [(t, n) for t, n in self.samples if start <= t <= end]
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


@pytest.mark.slow
def test_cameras_change_while_the_others_keep_capturing(tmp_path, rtsp_subs):
    c1, c2, c3 = (camera(rtsp_subs, i) for i in range(3))
    vp = group(tmp_path, [c1, c2])
    try:
        assert wait_until(lambda: connected(vp, ["cam1", "cam2"]))
        kept, removed = vp.handlers[0], vp.handlers[1]
        counter = FrameCounter(kept)
        counter.start()
        time.sleep(2.0)
        t_before = time.monotonic()
        change = vp.reconfigure([c1, c2, c3])  # add
        assert change == {"kept": ["cam1", "cam2"], "added": ["cam3"], "removed": []}
        assert wait_until(lambda: connected(vp, ["cam3"]))
        viewer_done = threading.Event()
        feed = mjpeg(vp.preview(1), vp.preview(1).stop_event)

        def watch():
            for _ in feed:
                pass
            viewer_done.set()

        threading.Thread(target=watch, daemon=True).start()
        time.sleep(0.5)
        change = vp.reconfigure([c3, c1])  # remove cam2, reorder
        t_after = time.monotonic()
        assert change == {"kept": ["cam3", "cam1"], "added": [], "removed": ["cam2"]}
        assert viewer_done.wait(5), "the removed camera's MJPEG viewer did not end"
        assert vp.names == ["cam3", "cam1"] and vp.handlers[1] is kept and kept.index == 1
        assert kept._thread.is_alive() and not removed._thread.is_alive()
        time.sleep(1.0)
        counter.stop.set()
        during, base = counter.rate(t_before, t_after), counter.rate(t_before - 2.0, t_before)
        assert during / base > 0.9, (during, base)  # the kept camera never stalled
        assert [h["index"] for h in vp.health()] == [0, 1]
    finally:
        vp.stop()


@pytest.mark.slow
def test_no_change_while_a_take_records_and_a_failed_commit_changes_nothing(tmp_path, rtsp_subs):
    c1, c2 = camera(rtsp_subs, 0), camera(rtsp_subs, 1)
    vp = group(tmp_path, [c1])
    try:
        assert wait_until(lambda: connected(vp, ["cam1"]))
        calls = []
        vp.start_recording()
        with pytest.raises(RecordingError, match="a take is recording"):
            vp.reconfigure([c1, c2], lambda: calls.append(1))
        assert calls == [] and vp.names == ["cam1"]
        vp.stop_recording()

        def fail():
            raise ConfigError("config.yaml: cannot be written (Read-only file system)")

        with pytest.raises(ConfigError):
            vp.reconfigure([c2], fail)
        assert vp.names == ["cam1"] and vp.settings.cameras == [c1]
        vp.reconfigure([c1, c2])
        assert wait_until(lambda: connected(vp, ["cam1", "cam2"]))
        take = vp.start_recording()
        time.sleep(1.0)
        take = vp.stop_recording()
        assert [c["name"] for c in take["cameras"]] == ["cam1", "cam2"] and all(c["frames"] > 5 for c in take["cameras"])
    finally:
        vp.stop()


@pytest.mark.slow
def test_a_sub_stream_feeds_the_previews_and_the_main_stream_the_takes(tmp_path, rtsp_subs):
    vp = group(tmp_path, [camera(rtsp_subs, 0, sub=True)])
    try:
        assert wait_until(lambda: connected(vp, ["cam1"]) and vp.health()[0]["preview"]["status"] == "connected")
        health = vp.health()[0]
        assert (health["width"], health["height"]) == (1280, 720)
        assert (health["preview"]["width"], health["preview"]["height"]) == (640, 360)
        assert vp.has_substream(0) and vp.stream_size(0) == (1280, 720)
        with vp.previews[0].watch():
            assert wait_until(lambda: (f := vp.slots[0].get()[1]) is not None and f.image is not None, timeout=10)
            assert vp.slots[0].get()[1].image.width == 640
            time.sleep(1.0)
            main = vp._channels[0].full.get()[1]
            assert main is not None and main.image is None  # the main stream is not decoded for previews
            full = vp.full_frame(0, timeout=5)
            assert full is not None and (full.image.width, full.image.height) == (1280, 720)
        vp.start_recording()
        time.sleep(1.5)
        take = vp.stop_recording()
        cam = take["cameras"][0]
        assert (cam["width"], cam["height"], cam["mode"]) == (1280, 720, "remux") and cam["frames"] > 20
    finally:
        vp.stop()


# --------------------------------------------------------------------------- live pose and the wizard follow
def test_the_wizard_starts_again_for_changed_cameras(app):
    import numpy as np

    from calibration.detect import Detection

    wizard = app.extensions["vsion"].wizard
    det = Detection(np.zeros((54, 2)), np.arange(54), (640, 360), "test")
    for name in ("cam1", "cam2"):
        folder = wizard.session_dir / "intrinsics" / name
        folder.mkdir(parents=True)
        (folder / "v001.png").write_bytes(b"png")
    wizard.views = {"cam1": [("v001", det)], "cam2": [("v001", det)]}
    wizard.sizes = {"cam1": (640, 360), "cam2": (640, 360)}
    wizard.moments = {"m001": {"cam1": det, "cam2": det}}
    wizard.floor = {"cam1": det, "cam2": det}
    wizard.focus("camera", 1)

    state = wizard.set_cameras(["cam2", "cam3"])  # cam1 removed, cam3 added, cam2 kept
    assert wizard.names == ["cam2", "cam3"] and wizard.step is None
    assert state["intrinsics"]["cam2"]["captured"] == 1 and state["intrinsics"]["cam3"]["captured"] == 0
    assert wizard.moments == {} and set(wizard.floor) == {"cam2"}
    assert not (wizard.session_dir / "intrinsics" / "cam1").exists()
    assert [p.name.split(".")[1][:8] for p in (wizard.session_dir / "intrinsics").iterdir() if p.name != "cam2"] \
        == ["replaced"]

    wizard.set_cameras(["cam2", "cam3"], changed=frozenset({"cam2"}))  # cam2 now points elsewhere
    assert wizard.views == {"cam2": [], "cam3": []} and wizard.floor is None


def test_live_pose_takes_the_new_camera_list_in_its_own_thread(app):
    live = app.extensions["vsion"].live_pose
    sentinel = type("Worker", (), {"close": lambda self: None})()
    live._workers = [sentinel, None]
    live.set_cameras(["cam2", "cam1", "cam3"])  # applied by the live-pose thread, before its next frame set
    assert wait_until(lambda: live.names == ["cam2", "cam1", "cam3"], timeout=5)
    assert live._workers == [None, sentinel, None]  # a camera that stays keeps its MediaPipe worker
    live.set_cameras(["cam1", "cam2"])
    assert wait_until(lambda: live.names == ["cam1", "cam2"], timeout=5) and live._workers == [sentinel, None]
    live._workers = [None, None]


def test_the_calibration_health_report_reaches_the_cameras_page(app):
    from tests.helpers.accounts import signed_in

    report = {"source": "board", "checked_at": "2026-12-02T10:00:00+00:00",
              "cameras": [{"name": "cam2", "error_px": 9.3, "baseline_px": 0.12, "limit_px": 4.12, "points": 54,
                           "moved": True}]}
    running = app.extensions["vsion"]
    assert running.camera_status()["health"] is None
    running.calibration_health = lambda: report
    client = signed_in(app, "technician")
    assert client.get("/api/cameras/config").get_json()["calibration_health"] == report
    assert running.camera_status()["health"] == report
    assert signed_in(app, "trainee").get("/api/cameras/config").status_code == 403
