"""Built-in demo cameras: the Pose2Sim demo videos, or generated test patterns offline.

``demo:N`` cameras play the four synchronized videos of the Pose2Sim demo
(``pose2sim==0.10.49`` wheel on PyPI, folder ``Pose2Sim/Demo_SinglePerson/videos``,
BSD-3-Clause, by David Pagnon). The several-people demo (``app.py demo --people``) plays
``Pose2Sim/Demo_MultiPerson/videos`` (:func:`demo_people_video`). The wheel is fetched once into the cache with
``pip download --no-deps``, its SHA-256 is checked, and each video is converted once into
an H.264 file without B-frames at 30 fps (a keyframe every second), so that a demo camera
behaves like an IP camera: it is remuxed, not re-encoded, when recorded. Without network
(or for N >= 4) a generated test pattern is used instead.

The cache is ``$VSION_CACHE`` or ``$XDG_CACHE_HOME/vsion`` (default ``~/.cache/vsion``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

POSE2SIM_WHEEL = "pose2sim-0.10.49-py3-none-any.whl"
POSE2SIM_REQUIREMENT = "pose2sim==0.10.49"
POSE2SIM_SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"
POSE2SIM_DEMO = "Pose2Sim/Demo_SinglePerson"
POSE2SIM_MULTI_DEMO = "Pose2Sim/Demo_MultiPerson"  # 2 active people, 4 cameras, its own calibration
DEMO_VIDEOS = 4
DEMO_FPS = 30

_lock = threading.Lock()


def cache_dir() -> Path:
    """VSION's download and media cache (created on demand)."""
    base = os.environ.get("VSION_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vsion"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pose2sim_wheel(timeout_s: float = 180.0) -> Path:
    """The Pose2Sim wheel in the cache, downloaded once and checked; raises RuntimeError offline."""
    folder = cache_dir() / "downloads"
    wheel = folder / POSE2SIM_WHEEL
    if wheel.is_file():
        if sha256(wheel) == POSE2SIM_SHA256:
            return wheel
        logger.warning("%s: cached copy is damaged, discarded", wheel)
        wheel.unlink()
    if getattr(sys, "frozen", False):  # the delivered executable carries no pip (README, "Deliver to a site")
        raise RuntimeError(f"{POSE2SIM_WHEEL} is not in {folder} and the executable cannot download it")
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--retries", "1",
           "--timeout", "15", "-d", str(folder), POSE2SIM_REQUIREMENT]
    logger.info("fetching the demo videos (%s) into %s", POSE2SIM_REQUIREMENT, folder)
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    except (subprocess.SubprocessError, OSError) as exc:
        raise RuntimeError(f"cannot download {POSE2SIM_REQUIREMENT}: {type(exc).__name__}") from None
    if not wheel.is_file() or sha256(wheel) != POSE2SIM_SHA256:
        wheel.unlink(missing_ok=True)
        raise RuntimeError(f"{POSE2SIM_WHEEL}: checksum mismatch, file discarded")
    return wheel


def pose2sim_file(member: str, folder: str = POSE2SIM_DEMO) -> Path:
    """Extract one file of the Pose2Sim wheel (path inside ``folder``, by default
    ``Pose2Sim/Demo_SinglePerson``; also ``Pose2Sim/Demo_MultiPerson``) into the cache."""
    target = cache_dir() / "pose2sim" / member if folder == POSE2SIM_DEMO else cache_dir() / folder / member
    if not target.is_file():
        with zipfile.ZipFile(pose2sim_wheel()) as zf:
            data = zf.read(f"{folder}/{member}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def _frames_at(src: Path, fps: int):
    """The frames of ``src`` picked by time to reach ``fps`` (frames/s), as yuv420p VideoFrames."""
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        n = 0
        for frame in inp.decode(vin):
            if frame.time is not None and frame.time + 1e-6 < n / fps:
                continue  # drop frames to reach the target rate
            yield frame.reformat(format="yuv420p")
            n += 1


def transcode_h264(src: Path, dst: Path, fps: int = DEMO_FPS, gop: int = DEMO_FPS, bounce: bool = False) -> Path:
    """Convert a video to H.264 MP4 without B-frames at ``fps`` (frames are picked by time).

    ``bounce``: the video is played forward, then backward, so that looping it has no jump (people
    seen in it do not teleport at the seam)."""
    tmp = dst.with_suffix(".part.mp4")
    frames = _frames_at(src, fps)
    if bounce:
        frames = list(frames)
        frames = frames + frames[-2:0:-1]
    with av.open(str(tmp), "w") as out:
        stream = None
        for n, frame in enumerate(frames):
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                stream.options = {"preset": "fast", "crf": "20", "g": str(gop), "bf": "0"}
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None) if stream is not None else ():
            out.mux(packet)
    tmp.replace(dst)
    return dst


def write_test_pattern(path: Path, label: str, width: int = 1280, height: int = 720, fps: int = 30,
                       seconds: float = 10.0, gop: int = 30, bitrate: int = 2_500_000) -> Path:
    """Write a moving test pattern as H.264 without B-frames (``.h264`` Annex-B, else MP4).

    The picture scrolls a textured background, moves a disc and prints ``label`` and the frame
    number, so the stream has a bitrate (~``bitrate`` bit/s) and motion like a real camera's.
    """
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height, width * 2, 3), dtype=np.uint8), (0, 0), 3)
    texture = cv2.addWeighted(texture, 0.6, np.full_like(texture, 96), 0.4, 0)
    tmp = path.with_name(path.name + ".part")
    fmt = "h264" if path.suffix == ".h264" else "mp4"
    with av.open(str(tmp), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.options = {"preset": "veryfast", "g": str(gop), "bf": "0", "tune": "zerolatency"}
        for n in range(int(seconds * fps)):
            x = (n * 4) % width
            img = np.ascontiguousarray(texture[:, x:x + width])
            t = n / fps
            cx, cy = int(width / 2 + width / 3 * np.cos(t)), int(height / 2 + height / 3 * np.sin(1.3 * t))
            cv2.circle(img, (cx, cy), height // 10, (40, 160, 240), -1, cv2.LINE_AA)
            cv2.putText(img, label, (40, 90), cv2.FONT_HERSHEY_SIMPLEX, height / 280, (255, 255, 255), 4, cv2.LINE_AA)
            cv2.putText(img, f"{n:05d}", (40, height - 40), cv2.FONT_HERSHEY_SIMPLEX, height / 360, (255, 255, 255), 3,
                        cv2.LINE_AA)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.replace(path)
    return path


def _looped_video(n: int, dataset: str, folder: str) -> Path:
    """Camera ``n``'s video of the Pose2Sim ``dataset`` at 30 fps, played forward then backward
    so that looping it has no jump, prepared once into ``cache_dir() / folder`` (call under
    ``_lock``). RuntimeError (or OSError...) when the Pose2Sim wheel cannot be had."""
    target = cache_dir() / folder / f"cam{n + 1:02d}.mp4"
    if not target.is_file():
        src = pose2sim_file(f"videos/cam{n + 1:02d}.mp4", dataset)
        logger.info("preparing camera %d of %s from %s", n, dataset, src.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        transcode_h264(src, target, bounce=True)
    return target


def demo_people_video(n: int) -> Path:
    """The video that camera ``n`` (0..3) of the several-people demo plays: Pose2Sim's
    ``Demo_MultiPerson`` (two people, 1088x1920) at 30 fps, played forward then backward,
    prepared once (thread-safe). RuntimeError (or OSError) when the Pose2Sim wheel cannot be had."""
    if not 0 <= n < DEMO_VIDEOS:
        raise ValueError(f"the several-people demo has cameras 0..{DEMO_VIDEOS - 1}, not {n}")
    with _lock:
        return _looped_video(n, POSE2SIM_MULTI_DEMO, "demo-people")


def demo_video(n: int) -> Path:
    """The video that demo camera ``n`` plays, prepared once (thread-safe): Pose2Sim's
    ``Demo_SinglePerson`` played forward then backward, so that the worker does not jump back to
    where the video starts at each loop (tracking would take them for somebody else); a test
    pattern when the Pose2Sim wheel cannot be had."""
    with _lock:
        if n < DEMO_VIDEOS:
            try:
                return _looped_video(n, POSE2SIM_DEMO, "demo-loop")
            except (RuntimeError, OSError, KeyError, zipfile.BadZipFile, av.FFmpegError) as exc:
                logger.warning("demo camera %d: Pose2Sim video unavailable (%s); using a test pattern", n, exc)
        target = cache_dir() / "demo" / f"pattern{n}.mp4"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_test_pattern(target, f"VSION demo {n + 1}")
        return target
