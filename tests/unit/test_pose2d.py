"""2D pose: probing videos, exact chunked decoding, MediaPipe in worker processes on a real take."""
from __future__ import annotations

import multiprocessing
import wave
from fractions import Fraction

import av
import numpy as np
import pytest

from capture import demo
from reconstruction.landmarks import INDEX, N_JOINTS
from reconstruction.pose2d import (
    STAGE,
    PoseError,
    PoseEstimator,
    _Chunk,
    _chunk_frames,
    _run_chunks,
    estimate_videos,
    probe_video,
)

NOSE = INDEX["nose"]
CHUNK = 40


def write_fragmented_mp4(path, frames: int = 45, fps: int = 30, width: int = 160, height: int = 120):
    """A fragmented MP4 written like VSION's recorder: 1/90000 time base, a keyframe every second."""
    opts = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "500000"}
    with av.open(str(path), "w", format="mp4", options=opts) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 90000)
        stream.options = {"preset": "ultrafast", "g": str(fps), "bf": "0"}
        stream.time_base = Fraction(1, 90000)
        for n in range(frames):
            img = np.full((height, width, 3), (n * 5) % 256, np.uint8)  # each frame has its own grey level
            img[: n % height, :, 1] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = n * 3000, Fraction(1, 90000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def fingerprint(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray")[::8, ::8].astype(np.float32)


@pytest.fixture(scope="module")
def cam01():
    return demo.pose2sim_file("videos/cam01.mp4")


@pytest.fixture(scope="module")
def fragmented(tmp_path_factory):
    return write_fragmented_mp4(tmp_path_factory.mktemp("pose2d") / "cam1.mp4")


@pytest.fixture(scope="module")
def chunked(cam01):
    """cam01 (100 frames) in chunks of 40 frames on 2 worker processes, with its progress calls."""
    calls, timings = [], {}
    result = estimate_videos({"cam01": cam01}, workers=2, chunk_frames=CHUNK, progress=lambda *a: calls.append(a),
                             timings=timings)
    return result["cam01"], calls, timings


# ---------------------------------------------------------------------------------------------- probing
def test_probe_real_video(cam01):
    info = probe_video(cam01)
    assert (info.frames, info.fps, info.width, info.height) == (100, 60.0, 1080, 1920)
    assert info.pts.dtype == np.int64 and info.pts.shape == (100,) and np.all(np.diff(info.pts) > 0)
    assert info.time_base == Fraction(1, 15360)
    assert info.times[-1] == pytest.approx(99 / 60)


def test_probe_fragmented_mp4(fragmented):
    with av.open(str(fragmented)) as container:
        assert container.streams.video[0].frames == 0  # the header does not know: frames are counted
    info = probe_video(fragmented)
    assert (info.frames, info.fps, info.width, info.height) == (45, 30.0, 160, 120)
    assert np.array_equal(info.pts, np.arange(45) * 3000) and np.allclose(info.times, np.arange(45) / 30)


def test_probe_errors(tmp_path):
    with pytest.raises(PoseError, match="no such video file"):
        probe_video(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video, only words\n" * 20)
    with pytest.raises(PoseError, match="notes.mp4: not a readable video"):
        probe_video(text)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(PoseError, match="empty.mp4"):
        probe_video(empty)
    sound = tmp_path / "sound.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(bytes(1600))
    with pytest.raises(PoseError, match="sound.wav: no video stream"):
        probe_video(sound)
    with pytest.raises(PoseError, match="camera cam3: .*missing.mp4: no such video file"):
        estimate_videos({"cam3": tmp_path / "missing.mp4"})


# ---------------------------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("member", ["videos/cam01.mp4", "videos/cam02.mp4", None])
def test_chunks_decode_every_frame_exactly_once(member, fragmented):
    """H.264 with B-frames and one keyframe, VP9, a fragmented MP4: chunks match a plain decode."""
    path = demo.pose2sim_file(member) if member else fragmented
    info = probe_video(path)
    with av.open(str(path)) as container:
        linear = {f.pts: fingerprint(f) for f in container.decode(video=0)}
    assert sorted(linear) == info.pts.tolist()
    for start in range(0, info.frames, 17):
        pts = info.pts[start:start + 17]
        got = [(i, fingerprint(frame)) for i, frame in _chunk_frames(str(path), start, pts)]
        assert [i for i, _ in got] == list(range(len(pts)))
        for i, image in got:
            assert np.array_equal(image, linear[int(pts[i])]), (start, i)


# ---------------------------------------------------------------------------------------------- pose
def test_estimator_in_process(cam01, chunked):
    keypoints, _, _ = chunked
    with av.open(str(cam01)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    with PoseEstimator() as estimator:
        points, scores = estimator.process(rgb)
        assert points.shape == (N_JOINTS, 2) and points.dtype == np.float32 and scores.dtype == np.float32
        # frame 0 starts a chunk too: the same detection, in the same pixels
        assert np.nanmax(np.abs(points - keypoints.points[0])) < 2.0
        assert np.allclose(scores, keypoints.scores[0], atol=0.02)
        estimator.reset()
        nobody, zero = estimator.process(np.full((240, 320, 3), 127, np.uint8))
        assert np.isnan(nobody).all() and not zero.any()
        with pytest.raises(ValueError, match="uint8 RGB"):
            estimator.process(np.zeros((240, 320), np.uint8))


def test_real_video_in_chunks(chunked):
    keypoints, calls, timings = chunked
    info = keypoints.info
    assert keypoints.points.shape == (100, N_JOINTS, 2) and keypoints.scores.shape == (100, N_JOINTS)
    assert keypoints.points.dtype == np.float32 and keypoints.scores.dtype == np.float32
    nose = keypoints.points[:, NOSE]
    found = ~np.isnan(nose[:, 0])
    assert found.mean() > 0.9
    assert np.all((nose[found] >= 0) & (nose[found] < (info.width, info.height)))
    visible = keypoints.scores > 0.5
    assert visible[found].mean() > 0.5
    inside = keypoints.points[visible]
    assert np.all((inside > -20) & (inside < np.array([info.width, info.height]) + 20))
    assert np.all(keypoints.scores[~found] == 0)
    assert calls[-1] == (100, 100, STAGE)
    assert all(total == 100 and stage == STAGE for _, total, stage in calls)
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert timings["frames"] == 100 and timings["workers"] == 2 and timings["seconds"] > 0


def test_chunked_equals_one_pass(cam01, chunked):
    keypoints, _, _ = chunked
    whole = estimate_videos({"cam01": cam01}, workers=1, chunk_frames=1000)["cam01"]
    not_starts = np.setdiff1d(np.arange(100), np.arange(0, 100, CHUNK))
    a, b = keypoints.points[not_starts], whole.points[not_starts]
    both = ~np.isnan(a[..., 0]) & ~np.isnan(b[..., 0])
    assert both.mean() > 0.9
    assert np.median(np.linalg.norm(a - b, axis=-1)[both]) < 3.0


@pytest.fixture(scope="module")
def pattern(tmp_path_factory):
    return demo.write_test_pattern(tmp_path_factory.mktemp("pose2d") / "pattern.mp4", "x", width=320, height=240,
                                   seconds=1)


def test_video_without_anybody(pattern):
    result = estimate_videos({"empty": pattern}, workers=1, nice=5)["empty"]
    assert result.points.shape == (30, N_JOINTS, 2) and result.info.frames == 30
    assert np.isnan(result.points).all() and not result.scores.any()


def test_interrupt_shuts_the_pool_down(pattern):
    def interrupt(done, total, stage):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        estimate_videos({"empty": pattern}, workers=1, chunk_frames=5, progress=interrupt)
    assert multiprocessing.active_children() == []


def test_worker_failure_names_the_camera(tmp_path, fragmented):
    gone = _Chunk(task=0, camera="cam7", path=str(tmp_path / "gone.mp4"), start=0, pts=np.arange(3))
    with pytest.raises(PoseError, match="camera cam7: 2D pose failed on .*gone.mp4"):
        _run_chunks([gone], workers=1, nice=0, bare=False, progress=None)
