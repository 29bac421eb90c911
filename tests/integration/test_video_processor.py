"""VideoProcessor and CameraHandler on file cameras: threads, previews, recording, reconnects."""
import csv
import json
import logging
import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from capture.camera import CONNECTED, FAILED, CameraHandler, Frame
from settings import CameraTuning, RecordingConfig, parse_settings
from tests.helpers.servers import free_port, wait_until
from VideoProcessor import CameraWriter, RecordingError, TakeMeta, VideoProcessor


def make_processor(tmp_path, urls, **extra):
    cams = [{"name": f"cam{i + 1}", "url": str(u)} for i, u in enumerate(urls)]
    return VideoProcessor(parse_settings({"cameras": cams, "data_dir": str(tmp_path / "data"), **extra}))


def connected(vp):
    return all(h["status"] == CONNECTED and h["frames"] > 5 for h in vp.health())


def decoded_frames(path):
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def mpeg4_file(tmp_path_factory):
    """A file whose codec cannot be remuxed into our H.264 MP4 (MPEG-4 part 2): re-encoded."""
    path = tmp_path_factory.mktemp("mpeg4") / "cam.mkv"
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(50):
            img = np.full((240, 320, 3), i * 5 % 255, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def test_stop_leaves_no_thread_behind(tmp_path, video_file):
    before = set(threading.enumerate())
    vp = make_processor(tmp_path, [video_file, video_file, f"rtsp://127.0.0.1:{free_port()}/nobody"]).start()
    assert wait_until(lambda: sum(h["status"] == CONNECTED for h in vp.health()) == 2)
    vp.start_recording()
    time.sleep(0.5)
    vp.stop()  # finishes the take too
    assert set(threading.enumerate()) <= before
    take = json.loads(next((tmp_path / "data" / "takes").glob("*/take.json")).read_text())
    assert take["status"] == "complete"
    assert [h["status"] for h in vp.health()] == ["stopped"] * 3


def test_file_source_loops_at_native_rate(tmp_path, video_file):
    frames = []
    handler = CameraHandler(0, parse_settings({"cameras": [{"name": "c", "url": str(video_file)}]}).cameras[0],
                            frames.append).start()
    try:
        assert wait_until(lambda: len(frames) > 150, timeout=30)  # the file has 120 frames: it looped
    finally:
        handler.stop()
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(np.diff(pts))) == 1  # continuous across the loop
    mono = np.array([f.monotonic_ns for f in frames])
    period = np.median(np.diff(mono)) / 1e9
    assert 0.5 < period * 30 < 2.0  # paced like a 30 fps camera, not read as fast as possible
    assert all(f.wall_time_ns > 1.6e18 and f.packet is not None for f in frames)
    assert frames[0].keyframe and frames[0].image is not None
    assert handler.health().fps > 0 and handler.info.remux


def test_unreachable_camera_backs_off_and_reports_failed(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="capture.camera")
    url = f"rtsp://viewer:s3cret@127.0.0.1:{free_port()}/cam"
    cfg = parse_settings({"cameras": [{"name": "gone", "url": url}]}).cameras[0]
    tuning = CameraTuning(backoff_initial_s=0.05, backoff_max_s=0.2, failed_after=3)
    handler = CameraHandler(0, cfg, lambda f: None, tuning).start()
    try:
        assert wait_until(lambda: handler.health().status == FAILED, timeout=10)
    finally:
        handler.stop()
    attempts = [r.getMessage() for r in caplog.records if "reconnect attempt" in r.getMessage()]
    assert len(attempts) >= 3 and "attempt 1 in 0.1 s" in attempts[0] and "cannot open" in attempts[0]
    assert all("s3cret" not in a for a in attempts) and "viewer:***@" in attempts[0]
    assert "in 0.2 s" in attempts[-1]  # capped
    assert handler.health().reconnects >= 3


def test_preview_encodes_once_per_frame_for_all_viewers(tmp_path, video_file):
    vp = make_processor(tmp_path, [video_file], preview={"width": 320, "fps": 15}).start()
    try:
        assert wait_until(lambda: connected(vp))
        channel = vp.previews[0]
        time.sleep(0.5)
        assert channel.encoded == 0  # nobody watches: nothing encoded
        got = {0: [], 1: [], 2: []}

        def viewer(k):
            with channel.watch():
                seq = 0
                while len(got[k]) < 20:
                    jpeg = channel.wait_jpeg(seq, 2.0)
                    assert jpeg is not None
                    seq = jpeg.seq
                    got[k].append(jpeg)

        frames_before = vp.handlers[0].health().frames
        threads = [threading.Thread(target=viewer, args=(k,)) for k in got]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        captured = vp.handlers[0].health().frames - frames_before
        encoded = channel.encoded
        # Three viewers, ~20 pictures each, but each picture was encoded once.
        assert encoded < 30
        # 30 fps in, capped at 15 fps out.
        assert 0.3 < encoded / captured < 0.7
        img = got[0][-1].data
        import cv2

        decoded = cv2.imdecode(np.frombuffer(img, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (180, 320, 3)
        time.sleep(0.5)
        idle = channel.encoded
        time.sleep(1.0)
        assert channel.encoded == idle  # the last viewer left: encoding stopped
    finally:
        vp.stop()


def check_take(take, take_dir, codec="h264"):
    start, stop = take["start"]["monotonic_ns"], take["stop"]["monotonic_ns"]
    for cam in take["cameras"]:
        period = 1e9 / cam["fps"]
        table = rows(take_dir / cam["timestamps"])
        assert len(table) == cam["frames"] == decoded_frames(take_dir / cam["file"])
        assert int(table[0]["monotonic_ns"]) <= start + period
        assert int(table[-1]["monotonic_ns"]) >= stop - period
        pts = [int(r["pts"]) for r in table]
        assert pts == sorted(set(pts))
        with av.open(str(take_dir / cam["file"])) as c:
            assert c.streams.video[0].codec_context.name == codec


def test_recording_remux_and_encode(tmp_path, video_file, mpeg4_file):
    vp = make_processor(tmp_path, [video_file, mpeg4_file]).start()
    try:
        assert wait_until(lambda: connected(vp))
        state = vp.start_recording(TakeMeta(label="t"))
        with pytest.raises(RecordingError, match="already recording"):
            vp.start_recording()
        time.sleep(2.0)
        take = vp.stop_recording()
        with pytest.raises(RecordingError, match="nothing is recording"):
            vp.stop_recording()
    finally:
        vp.stop()
    take_dir = tmp_path / "data" / "takes" / state["take_id"]
    assert json.loads((take_dir / "take.json").read_text()) == take
    assert [c["mode"] for c in take["cameras"]] == ["remux", "encode"]
    assert take["label"] == "t" and take["status"] == "complete"
    check_take(take, take_dir)


def test_take_left_recording_is_marked_interrupted(tmp_path, video_file):
    takes = tmp_path / "data" / "takes" / "20260101-000000-abcd"
    takes.mkdir(parents=True)
    (takes / "take.json").write_text(json.dumps({"id": takes.name, "status": "recording"}))
    vp = make_processor(tmp_path, [video_file]).start()
    vp.stop()
    assert json.loads((takes / "take.json").read_text())["status"] == "interrupted"


def _frame(seq, key, packet=True):
    return Frame(0, seq, seq * 3000, Fraction(1, 90000), seq, seq, key, 1,
                 av.Packet(b"\0\0\0\1" + bytes(10)) if packet else None, None)


class _Handler:
    index, name, info, lock = 0, "cam", None, threading.Lock()


def test_writer_overflow_drops_until_next_keyframe(tmp_path):
    writer = CameraWriter(tmp_path, _Handler(), RecordingConfig(queue_seconds=0.1))  # not started: queue fills
    capacity = writer._queue.maxsize
    for seq in range(capacity):
        writer.offer(_frame(seq, key=seq == 0))
    assert writer.dropped == 0
    writer.offer(_frame(capacity, key=False))  # overflow
    assert writer.dropped == 1
    writer._queue.get_nowait()
    writer.offer(_frame(capacity + 1, key=False))  # room again, but undecodable without its keyframe
    assert writer.dropped == 2
    writer.offer(_frame(capacity + 2, key=True))
    assert writer.dropped == 2 and writer._queue.qsize() == capacity


def test_pictures_are_decoded_only_while_needed(tmp_path, video_file):
    vp = make_processor(tmp_path, [video_file]).start()
    try:
        assert wait_until(lambda: connected(vp))
        time.sleep(0.3)
        _, frame = vp.slots[0].get()
        assert frame.packet is not None and frame.image is None  # nobody watches: packets only
        with vp.previews[0].watch():
            assert wait_until(lambda: vp.slots[0].get()[1].image is not None, timeout=5)  # from the next keyframe
        vp.set_image_demand("test", {0})
        assert wait_until(lambda: vp.slots[0].get()[1].image is not None, timeout=5)
        vp.set_image_demand("test", ())
        time.sleep(0.3)
        assert vp.slots[0].get()[1].image is None
        assert vp.handlers[0].health().fps > 20  # capture never stopped
    finally:
        vp.stop()
