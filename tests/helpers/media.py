"""Test videos for file and RTSP cameras, made once in the cache (``demo.cache_dir()``)."""
from __future__ import annotations

from pathlib import Path


def make_test_streams(count: int = 6, width: int = 1280, height: int = 720, fps: int = 30, seconds: float = 10.0,
                 gop: int = 30) -> list[Path]:
    """H.264 Annex-B test streams (one per camera, distinct pictures), made once in the cache."""
    from capture import demo

    folder = demo.cache_dir() / "test-streams"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"cam{i + 1}-{width}x{height}-{fps}fps-{seconds:g}s-g{gop}.h264"
        if not path.is_file():
            demo.write_test_pattern(path, f"VSION test cam{i + 1}", width, height, fps, seconds, gop)
        paths.append(path)
    return paths


def make_test_video(width: int = 640, height: int = 360, fps: int = 30, seconds: float = 4.0, label: str = "file") -> Path:
    """A small H.264 MP4 test pattern (file-source camera), made once in the cache."""
    from capture import demo

    folder = demo.cache_dir() / "test-streams"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}-{width}x{height}-{fps}fps-{seconds:g}s.mp4"
    if not path.is_file():
        demo.write_test_pattern(path, f"VSION {label}", width, height, fps, seconds, gop=fps, bitrate=800_000)
    return path
