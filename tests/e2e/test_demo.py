"""Demo cameras: the Pose2Sim videos prepared once, or test patterns when offline."""
import os
import zipfile

import av
import pytest

from capture import demo


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty cache and a package index that refuses connections: no network for pip."""
    monkeypatch.setenv("VSION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    return tmp_path / "cache"


def video_info(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.name, s.width, s.height, float(s.average_rate), s.codec_context.has_b_frames


def test_offline_falls_back_to_a_test_pattern(offline):
    path = demo.demo_video(0)
    assert path.name == "pattern0.mp4" and path.parent == offline / "demo"
    assert video_info(path) == ("h264", 1280, 720, 30.0, False)
    assert demo.demo_video(0) == path  # made once


def test_damaged_cache_is_discarded(offline):
    wheel = offline / "downloads" / demo.POSE2SIM_WHEEL
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not a wheel")
    with pytest.raises(RuntimeError, match="cannot download"):
        demo.pose2sim_wheel()
    assert not wheel.exists()


def test_download_with_a_wrong_checksum_is_refused(offline, monkeypatch, tmp_path):
    """A package index serving another file under the same name: the checksum catches it."""
    index = tmp_path / "index"
    index.mkdir()
    with zipfile.ZipFile(index / demo.POSE2SIM_WHEEL, "w") as zf:
        zf.writestr("pose2sim-0.10.49.dist-info/METADATA", "Metadata-Version: 2.1\nName: pose2sim\nVersion: 0.10.49\n")
        zf.writestr("pose2sim-0.10.49.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("pose2sim-0.10.49.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        demo.pose2sim_wheel()
    assert not (offline / "downloads" / demo.POSE2SIM_WHEEL).exists()
    assert demo.demo_video(1).name == "pattern1.mp4"


def test_pose2sim_demo_videos_become_ip_like_cameras():
    """Needs the Pose2Sim wheel: fetched once from PyPI into the user's cache."""
    wheel = demo.pose2sim_wheel()
    assert demo.sha256(wheel) == demo.POSE2SIM_SHA256
    for n in range(demo.DEMO_VIDEOS):
        path = demo.demo_video(n)
        assert path.name == f"cam{n + 1:02d}.mp4"
        codec, width, height, fps, b_frames = video_info(path)
        assert (codec, fps, b_frames) == ("h264", 30.0, False) and height == 1920 and width in (1080, 1088)
