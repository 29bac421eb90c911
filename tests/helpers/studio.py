"""The whole calibration pipeline on the synthetic studio, compared with the truth, gauge-free.

Six cameras around a 3 m circle at 1280x720 with real lens distortion; checkerboard images
rendered with blur, noise and uneven light; detection, intrinsics per camera, then the
joint extrinsic calibration from ``moments`` board moments plus the board on the floor.
Used by ``tests/unit/test_calibration_synthetic.py`` and ``bench/calibration.py``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

from calibration.boards import Checkerboard
from calibration.camera import CameraGroup
from calibration.detect import detect_board
from calibration.extrinsics import calibrate_extrinsics
from calibration.intrinsics import calibrate_intrinsics
from tests.helpers.synthetic import (
    camera_ring,
    extrinsic_moments,
    floor_pose,
    intrinsic_poses,
    project_corners,
    render_board,
    visible,
)


@dataclass
class StudioResult:
    truth: list
    group: CameraGroup
    intrinsics: dict
    metrics: dict = field(default_factory=dict)


def rigid_align(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t minimising |R @ src + t - dst| (Kabsch, no scale). (N, 3) in."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    U, _, Vt = np.linalg.svd((src - cs).T @ (dst - cd))
    D = np.diag([1, 1, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    return R, cd - R @ cs


def compare(truth, estimate) -> dict:
    """Gauge-free errors of an estimated rig against the true one (same camera order)."""
    fx_err = [abs(e.matrix[0, 0] / t.matrix[0, 0] - 1) for t, e in zip(truth, estimate)]
    fy_err = [abs(e.matrix[1, 1] / t.matrix[1, 1] - 1) for t, e in zip(truth, estimate)]
    pp_err = [np.linalg.norm(e.matrix[:2, 2] - t.matrix[:2, 2]) for t, e in zip(truth, estimate)]
    true_c = np.array([c.center for c in truth])
    est_c = np.array([c.center for c in estimate])
    R, t = rigid_align(est_c, true_c)
    centre_err = np.linalg.norm(est_c @ R.T + t - true_c, axis=1)
    rot_err = []
    for i in range(len(truth)):
        for j in range(i + 1, len(truth)):
            rel_true = truth[i].R @ truth[j].R.T
            rel_est = estimate[i].R @ estimate[j].R.T
            rot_err.append(np.degrees(np.linalg.norm(cv2.Rodrigues(rel_est @ rel_true.T)[0])))
    iu = np.triu_indices(len(truth), 1)
    d_true = np.linalg.norm(true_c[:, None] - true_c[None], axis=2)[iu]
    d_est = np.linalg.norm(est_c[:, None] - est_c[None], axis=2)[iu]
    return {
        "focal_error_pct_max": 100 * float(max(fx_err + fy_err)),
        "principal_point_error_px_max": float(max(pp_err)),
        "camera_centre_error_mm_max": 1000 * float(centre_err.max()),
        "camera_centre_error_mm_mean": 1000 * float(centre_err.mean()),
        "relative_rotation_error_deg_max": float(max(rot_err)),
        "relative_rotation_error_deg_mean": float(np.mean(rot_err)),
        "scale_error_pct": 100 * abs(float(d_est.sum() / d_true.sum()) - 1),
    }


@dataclass
class WizardVideos:
    """Looping camera videos for the calibration wizard, and what they show when.

    One board, as in a real studio: each video (10 fps) holds a still board pose ``hold_s``
    seconds at a time: first camera 1's intrinsic positions (the other cameras see the empty
    room), then camera 2's, and so on; then the moments seen by several cameras at once; then
    the board on the floor for ``floor_s`` seconds. Videos start together, so they stay in step.
    ``before``: with a bumped camera, the rig as it was calibrated (``truth`` is the rig now).
    """

    paths: list
    truth: list
    board: Checkerboard
    floor_corners: dict  # camera name -> true corner pixels of the floor board
    loop_s: float
    intrinsic_views: int = 8
    before: list | None = None


def bumped(camera):
    """``camera`` knocked on its mount: turned by 2 deg and moved by 6 cm."""
    return turned(camera, 2.0, (0.2, 0.7, 0.4), (0.04, -0.045, 0.0))


def _intrinsic_scenes(truth, board, intrinsic_views: int, seed: int, k: int, empty) -> list:
    """Camera ``k``'s pictures of every camera's intrinsic positions (its own board, else the empty room)."""
    scenes = []
    for owner, cam in enumerate(truth):
        for v, (R, t) in enumerate(intrinsic_poses(cam, board, intrinsic_views, seed=seed + owner) if intrinsic_views
                                   else []):
            scenes.append(render_board(truth[k], board, R, t, seed=seed + v, light_gradient=0.2) if owner == k else empty)
    return scenes


def wizard_videos(cameras: int = 4, intrinsic_views: int = 8, moments: int = 10, hold_s: float = 1.0,
                  floor_s: float = 4.0, fps: int = 10, seed: int = 11, bump: str | None = None) -> WizardVideos:
    """Make (once, in the cache) the videos of a synthetic studio for the calibration wizard;
    ``bump``: the name of a camera moved since the rig was calibrated (see :func:`bumped`)."""

    from capture import demo

    board = Checkerboard(9, 6, 115)
    before = camera_ring(cameras, seed=seed)
    truth = [bumped(c) if c.name == bump else c for c in before]
    poses, views = extrinsic_moments(truth, board, moments, seed=seed + 1)
    R_floor, t_floor = floor_pose(board)
    floor_corners = {c.name: project_corners(c, board, R_floor, t_floor) for c in truth
                     if visible(c, board, R_floor, t_floor)}
    hold = int(hold_s * fps)
    folder = demo.cache_dir() / "test-streams" / (f"wizard-v2-{cameras}-{intrinsic_views}-{moments}-{hold}-{seed}"
                                                  + (f"-bump-{bump}" if bump else ""))
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{cam.name}.mp4" for cam in truth]
    if not all(p.is_file() for p in paths):
        for k, cam in enumerate(truth):
            empty = render_board(cam, board, np.eye(3), np.array([0.0, 0.0, -50.0]), seed=k)  # board out of view
            scenes = _intrinsic_scenes(truth, board, intrinsic_views, seed, k, empty)
            for m, ((R, t), seen) in enumerate(zip(poses, views)):
                scenes.append(render_board(cam, board, R, t, seed=seed + 100 + m) if k in seen else empty)
            floor = render_board(cam, board, R_floor, t_floor, seed=seed + 999) if cam.name in floor_corners else empty
            _write_held_video(paths[k], [(img, hold) for img in scenes] + [(floor, int(floor_s * fps))], fps)
    loop_s = (cameras * intrinsic_views + moments) * hold_s + floor_s
    return WizardVideos(paths, truth, board, floor_corners, loop_s, intrinsic_views, before if bump else None)


@dataclass
class StillBoard:
    """Camera videos of one board lying still where every camera sees it: ``paths`` at the
    cameras' size, ``previews`` at half size (as sub-streams), ``truth`` the cameras, ``seen`` the
    names of those that see the board."""

    paths: list
    previews: list
    truth: list
    board: Checkerboard
    seen: list


def still_board_videos(cameras: int = 4, seconds: float = 3.0, fps: int = 10, seed: int = 11) -> StillBoard:
    """Make (once, in the cache) the videos of :class:`StillBoard`."""
    from capture import demo

    board = Checkerboard(9, 6, 115)
    truth = camera_ring(cameras, seed=seed)
    R, t = floor_pose(board)
    t = t + np.array([0.0, 0.0, 0.3])  # lying on a low table, where every camera of the ring sees it
    seen = [cam.name for cam in truth if visible(cam, board, R, t)]
    folder = demo.cache_dir() / "test-streams" / f"still-board-{cameras}-{seed}-{seconds:g}-{fps}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{cam.name}.mp4" for cam in truth]
    previews = [folder / f"{cam.name}-preview.mp4" for cam in truth]
    if not all(p.is_file() for p in paths + previews):
        for k, cam in enumerate(truth):
            image = render_board(cam, board, R, t, seed=seed + k, light_gradient=0.2)
            small = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
            _write_held_video(paths[k], [(image, int(seconds * fps))], fps)
            _write_held_video(previews[k], [(small, int(seconds * fps))], fps)
    return StillBoard(paths, previews, truth, board, seen)


def recorded_take(videos: WizardVideos, folder, fps: int = 10, seed: int = 0):
    """A take folder made of the wizard's videos, as VSION records one: ``<camera>.mp4`` (linked)
    and ``<camera>.timestamps.csv`` whose capture times (host monotonic clock) carry a fixed
    offset per camera (up to 0.4 frame period) and +-0.05 period of jitter, as free-running
    cameras do."""
    import av

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    period_ns = 1_000_000_000 // fps
    base = 1_000_000_000_000
    for k, (cam, path) in enumerate(zip(videos.truth, videos.paths)):
        (folder / f"{cam.name}.mp4").symlink_to(path)
        with av.open(str(path)) as container:
            n = sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
        offset = int(0.4 * period_ns * k / max(len(videos.truth) - 1, 1))
        jitter = rng.uniform(-0.05, 0.05, n) * period_ns
        with open(folder / f"{cam.name}.timestamps.csv", "w") as fh:
            fh.write("frame,pts,monotonic_ns,wall_time_ns,missing_before\n")
            for i in range(n):
                mono = base + i * period_ns + offset + int(jitter[i])
                fh.write(f"{i},{i * 9000},{mono},{mono + 1_700_000_000_000_000_000},0\n")
    return folder


def _write_held_video(path, scenes, fps: int) -> None:
    """H.264 MP4 of grayscale pictures, each repeated ``count`` frames: [(image, count)]."""
    import av

    tmp = path.with_suffix(".part.mp4")
    height, width = scenes[0][0].shape
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "16", "g": str(fps), "bf": "0"}
        n = 0
        for img, count in scenes:
            frame = av.VideoFrame.from_ndarray(img, format="gray").reformat(format="yuv420p")
            frame.time_base = Fraction(1, fps)
            for _ in range(count):
                frame.pts = n  # the same picture, a new time
                n += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.replace(path)


@dataclass
class StudioFolder:
    """A ``calibrate extrinsics`` folder of the synthetic studio: ``<folder>/<camera>/<moment>.png``.

    Every camera has a picture at every moment, as a real synchronized capture does, whether
    it sees the board whole, in part, from behind or not at all; ``floor.png`` holds the board
    on the floor. ``intrinsics`` is each camera's own calibration from ``intrinsic_views``
    rendered views (poses left at zero), ``seen`` the moments each camera sees whole.
    """

    folder: object
    truth: list
    board: Checkerboard
    intrinsics: CameraGroup
    seen: dict


def studio_intrinsics(truth, board, intrinsic_views: int = 20, seed: int = 0) -> dict:
    """Each camera's :class:`IntrinsicsResult` from rendered views, as :func:`run_studio` does."""
    intrinsics = {}
    for k, cam in enumerate(truth):
        dets = []
        for v, (R, t) in enumerate(intrinsic_poses(cam, board, intrinsic_views, seed=seed * 100 + k)):
            img = render_board(cam, board, R, t, seed=seed * 10000 + k * 100 + v, light_gradient=0.3,
                               contrast=0.8 if v % 3 == 0 else 1.0, blur_sigma=0.8 + 0.4 * (v % 2))
            dets.append(detect_board(img, board))
        intrinsics[cam.name] = calibrate_intrinsics(dets, board, cam.name, cam.size)
    return intrinsics


def studio_folder(moments: int = 60, cameras: int = 6, seed: int = 0) -> StudioFolder:
    """Make (once, in the cache) the folder of :class:`StudioFolder`; same poses as :func:`run_studio`."""
    from calibration.io import load_toml, save_toml
    from capture import demo

    board = Checkerboard(9, 6, 115)
    truth = camera_ring(cameras, seed=seed)
    poses, views = extrinsic_moments(truth, board, moments, seed=seed + 7)
    folder = demo.cache_dir() / "test-streams" / f"studio-folder-{cameras}-{moments}-{seed}"
    toml = folder / "intrinsics.toml"
    R_floor, t_floor = floor_pose(board)
    if not toml.is_file():
        scenes = [(f"m{m:03d}", R, t, seed * 7777 + m * 10) for m, (R, t) in enumerate(poses)]
        scenes.append(("floor", R_floor, t_floor, seed + 99))
        for k, cam in enumerate(truth):
            (folder / cam.name).mkdir(parents=True, exist_ok=True)
            for label, R, t, scene_seed in scenes:
                img = render_board(cam, board, R, t, seed=scene_seed + k, light_gradient=0.2)
                cv2.imwrite(str(folder / cam.name / f"{label}.png"), img)
        group = CameraGroup([r.camera for r in studio_intrinsics(truth, board, seed=seed).values()])
        save_toml(group, toml)
    seen = {cam.name: [f"m{m:03d}" for m, v in enumerate(views) if k in v] for k, cam in enumerate(truth)}
    for cam in truth:
        if visible(cam, board, R_floor, t_floor):
            seen[cam.name].append("floor")
    return StudioFolder(folder, truth, board, load_toml(toml), seen)


def turned(camera, degrees: float, axis=(0.3, 1.0, 0.2), shift_m=(0.0, 0.0, 0.0)):
    """``camera`` bumped: turned by ``degrees`` about ``axis`` (world, through its centre), then
    its centre moved by ``shift_m`` (m)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    R = cv2.Rodrigues(np.radians(degrees) * axis)[0] @ camera.R
    return camera.with_pose(cv2.Rodrigues(R)[0].ravel(), -R @ (camera.center + np.asarray(shift_m, float)))


def board_shows(cams, board, count: int = 4, seed: int = 5) -> list[dict]:
    """``count`` instants of the board held where three or more of ``cams`` see it: camera name ->
    detection (:func:`~calibration.detect.find_board` on the rendered picture)."""
    from calibration.detect import find_board

    poses, views = extrinsic_moments(cams, board, count, seed=seed, min_views=3)
    shows = []
    for (R, t), seen in zip(poses, views):
        found = {cams[k].name: find_board(render_board(cams[k], board, R, t, seed=k), board) for k in seen}
        shows.append({n: d for n, d in found.items() if d is not None})
    return shows


def moved_rig_folder(folder, moments: int = 24, seed: int = 21):
    """The studio after calibration (the truth) with cam3 moved 25 cm and turned 8 deg: board
    views of ``moments`` instants and the floor in the layout of ``calibrate extrinsics``.
    Returns (the calibration in force, the cameras as they are now)."""
    board = Checkerboard(9, 6, 115)
    truth = camera_ring(6, seed=0)
    moved = [turned(c, 8.0, (0.0, 0.6, 0.8), (0.15, -0.2, 0.0)) if c.name == "cam3" else c for c in truth]
    poses, views = extrinsic_moments(moved, board, moments, seed=seed)
    scenes = [(f"m{m:03d}", R, t, seen) for m, ((R, t), seen) in enumerate(zip(poses, views))]
    scenes.append(("floor", *floor_pose(board), range(len(moved))))
    for label, R, t, seen in scenes:
        for k in seen:
            (folder / moved[k].name).mkdir(parents=True, exist_ok=True)
            image = render_board(moved[k], board, R, t, seed=k + 7 * len(label), light_gradient=0.2)
            cv2.imwrite(str(folder / moved[k].name / f"{label}.png"), image)
    return CameraGroup(truth, {"intrinsics": {"note": "kept"}}), moved


def run_studio(moments: int = 60, intrinsic_views: int = 20, seed: int = 0, refine_intrinsics: bool = True,
               cameras: int = 6) -> StudioResult:
    """Render, detect and calibrate the synthetic studio; return the estimate and its errors."""
    board = Checkerboard(9, 6, 115)
    truth = camera_ring(cameras, seed=seed)
    timings = {}

    # Intrinsics: each camera alone, the board held in front of it at many positions.
    started = time.perf_counter()
    intrinsics = studio_intrinsics(truth, board, intrinsic_views, seed)
    timings["intrinsics_s"] = time.perf_counter() - started

    # Extrinsics: board moments seen by several cameras at once, and the board on the floor.
    poses, views = extrinsic_moments(truth, board, moments, seed=seed + 7)
    images = {}
    for m, ((R, t), seen) in enumerate(zip(poses, views)):
        for k in seen:
            images[(truth[k].name, f"m{m:03d}")] = render_board(truth[k], board, R, t, seed=seed * 7777 + m * 10 + k,
                                                                 light_gradient=0.2)
    R_floor, t_floor = floor_pose(board)
    for cam in truth:
        if visible(cam, board, R_floor, t_floor):
            images[(cam.name, "floor")] = render_board(cam, board, R_floor, t_floor, seed=seed + 99)

    started = time.perf_counter()
    detections = {c.name: {} for c in truth}
    for (name, label), img in images.items():
        det = detect_board(img, board)
        if det is not None:
            detections[name][label] = det
    group = CameraGroup([intrinsics[c.name].camera for c in truth])
    result = calibrate_extrinsics(group, detections, board, floor_moment="floor", refine_intrinsics=refine_intrinsics)
    timings["extrinsics_s"] = time.perf_counter() - started
    timings["extrinsics_bundle_adjustment_s"] = result.seconds

    metrics = compare(truth, list(result.group.cameras))
    intr_only = compare(truth, [intrinsics[c.name].camera for c in truth])
    metrics.update({
        "intrinsics_only_focal_error_pct_max": intr_only["focal_error_pct_max"],
        "intrinsics_only_principal_point_error_px_max": intr_only["principal_point_error_px_max"],
        "intrinsic_rms_px": {n: round(r.rms_px, 3) for n, r in intrinsics.items()},
        "extrinsic_median_reprojection_px": {n: round(v, 3) for n, v in result.errors_px.items()},
        "moments": len(poses), "views": sum(len(v) for v in detections.values()),
        "images_rendered": len(images) + cameras * intrinsic_views,
        "floor_seen_by": sorted(n for n, d in detections.items() if "floor" in d),
        "outliers_removed": result.outliers, **timings,
    })
    world_origin_error_mm = 1000 * float(np.linalg.norm(
        np.array([c.center for c in result.group.cameras]) - np.array([c.center for c in truth]), axis=1).max())
    metrics["world_frame_camera_centre_error_mm_max"] = world_origin_error_mm
    return StudioResult(truth, result.group, intrinsics, metrics)
