#!/usr/bin/env python
"""Calibration benchmark: the synthetic studio (known truth) and the Pose2Sim checkerboards.

Prints one JSON object:

- ``studio``: six 1280x720 cameras around a 3 m circle with real lens distortion; rendered
  checkerboard images (blur, noise, uneven light); intrinsics per camera, then the joint
  extrinsic calibration (bundle adjustment) from ``--moments`` board moments plus the board
  on the floor, with and without refining the intrinsics. Errors are gauge-free: camera
  centres after the best rigid alignment, relative rotations between cameras, scale from
  the distances between cameras. ``extrinsics_s`` times detection + adjustment.
- ``studio_folder``: ``calibrate extrinsics`` on a folder of ``--moments`` moments x 6 cameras
  (1280x720; every camera has a picture at every moment, with or without the whole board),
  timed in one run the way it was (one process, every detector on every picture:
  ``before_s``) and the way it is (worker processes, pictures without a board rejected
  quickly: ``after_s``); ``false_rejections`` are the views found before and not after.
- ``recording``: calibration from a recorded take of the synthetic studio (the live wizard's
  videos, 4 cameras, free-running clocks): each camera's intrinsics, then the positions and the
  floor; times and errors against the truth (the live wizard's test bounds: centres < 10 mm,
  rotations < 0.2 deg, world origin < 20 mm).
- ``redo_positions``: cam3 moved 25 cm and turned 8 deg after calibration; the positions solved
  again with the intrinsics kept; centre errors (mm, world frame).
- ``health``: leave-one-out reprojection errors (px) per camera from a board shown now and from
  the live skeleton, before and after cam3 is turned by 1 deg; which cameras are flagged.
- ``pose2sim``: intrinsics from the Pose2Sim demo's real checkerboard images (4x7, 60 mm)
  against the Qualisys calibration shipped beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FOLDER_TARGETS = {"camera_centre_error_mm_max": 5.0, "relative_rotation_error_deg_max": 0.1, "scale_error_pct": 0.1,
                  "after_s": 30.0, "false_rejections": 0}
TARGETS = {"focal_error_pct_max": 0.3, "principal_point_error_px_max": 2.0, "camera_centre_error_mm_max": 5.0,
           "relative_rotation_error_deg_max": 0.1, "scale_error_pct": 0.1, "extrinsics_s": 30.0}


def studio(moments: int, refine: bool) -> dict:
    from tests.helpers.studio import run_studio

    metrics = run_studio(moments=moments, refine_intrinsics=refine).metrics
    metrics["meets_targets"] = {k: bool(metrics[k] <= v) for k, v in TARGETS.items()}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the detection workers)."""
    import resource

    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _serial_solve(study) -> tuple[object, dict, float]:
    """The solve as it was: every detector on every picture, one after the other."""
    import cv2

    from calibration.detect import detect_board
    from calibration.extrinsics import calibrate_extrinsics

    started = time.perf_counter()
    detections = {}
    for cam in study.truth:
        for path in sorted((study.folder / cam.name).glob("*.png")):
            det = detect_board(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), study.board)
            if det is not None:
                detections.setdefault(cam.name, {})[path.stem] = det
    result = calibrate_extrinsics(study.intrinsics, detections, study.board, floor_moment="floor")
    return result, detections, time.perf_counter() - started


def studio_folder(moments: int, before: bool) -> dict:
    from calibration.extrinsics import calibrate_extrinsics
    from calibration.pipeline import detections_from_frames
    from tests.helpers.studio import compare, studio_folder

    study = studio_folder(moments=moments)
    started, cpu = time.perf_counter(), _cpu_s()  # what extrinsics_from_frames (``calibrate extrinsics``) does
    found_after, _ = detections_from_frames(study.folder, study.intrinsics.names, study.board)
    after = calibrate_extrinsics(study.intrinsics, found_after, study.board, floor_moment="floor")
    out = {"pictures": sum(len(list((study.folder / n).glob("*.png"))) for n in study.intrinsics.names),
           "after_s": time.perf_counter() - started, "after_cpu_s": _cpu_s() - cpu,
           "after_bundle_adjustment_s": after.seconds, "load_average_1min": os.getloadavg()[0],
           "views_after": sum(after.views.values()), **compare(study.truth, list(after.group.cameras))}
    if before:
        cpu = _cpu_s()
        result, found_before, out["before_s"] = _serial_solve(study)
        out["before_cpu_s"] = _cpu_s() - cpu
        pairs = {(n, m) for n, d in found_before.items() for m in d}
        pairs_after = {(n, m) for n, d in found_after.items() for m in d}
        out.update(views_before=sum(result.views.values()), false_rejections=len(pairs - pairs_after),
                   found_only_after=len(pairs_after - pairs), speedup=out["before_s"] / out["after_s"],
                   before_camera_centre_error_mm_max=compare(study.truth, list(result.group.cameras))[
                       "camera_centre_error_mm_max"])
    out["meets_targets"] = {k: bool(out[k] <= v) for k, v in FOLDER_TARGETS.items() if k in out}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def recording() -> dict:
    import tempfile

    import numpy as np

    from calibration.camera import CameraGroup
    from calibration.recording import extrinsics_from_take, intrinsics_from_take
    from tests.helpers.studio import compare, recorded_take, wizard_videos

    videos = wizard_videos()
    with tempfile.TemporaryDirectory() as tmp:
        take = recorded_take(videos, Path(tmp) / "take")
        started, cpu = time.perf_counter(), _cpu_s()
        intrinsics = intrinsics_from_take(take, videos.board)
        middle, cpu_middle = time.perf_counter(), _cpu_s()
        group = CameraGroup([intrinsics[c.name].camera for c in videos.truth])
        result = extrinsics_from_take(take, group, videos.board, floor_window_s=(videos.loop_s - 4.1, videos.loop_s))
        ended = time.perf_counter()
    out = {"cameras": len(videos.truth), "take_s": videos.loop_s, "frames_per_camera": int(videos.loop_s * 10),
           "intrinsics_s": middle - started, "intrinsics_cpu_s": cpu_middle - cpu, "positions_s": ended - middle,
           "positions_cpu_s": _cpu_s() - cpu_middle, "load_average_1min": os.getloadavg()[0],
           "views_used": {n: r.used for n, r in intrinsics.items()},
           "moments": len(result.board_poses), **compare(videos.truth, list(result.group.cameras)),
           "world_origin_error_mm": 1000 * max(float(np.linalg.norm(c.center - t.center))
                                               for c, t in zip(result.group.cameras, videos.truth))}
    out["meets_targets"] = {"centres": out["camera_centre_error_mm_max"] < 10,
                            "rotations": out["relative_rotation_error_deg_max"] < 0.2,
                            "origin": out["world_origin_error_mm"] < 20}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def redo_positions() -> dict:
    import tempfile

    import numpy as np

    from calibration.boards import Checkerboard
    from calibration.pipeline import positions_from_frames
    from tests.helpers.studio import moved_rig_folder

    with tempfile.TemporaryDirectory() as tmp:
        calibration, moved = moved_rig_folder(Path(tmp))
        started = time.perf_counter()
        result = positions_from_frames(Path(tmp), calibration, Checkerboard(9, 6, 115))
        seconds = time.perf_counter() - started
    errors = {c.name: round(1000 * float(np.linalg.norm(c.center - t.center)), 3)
              for c, t in zip(result.group.cameras, moved)}
    return {"centre_error_mm": errors, "moved_camera_centre_error_mm": errors["cam3"], "seconds": round(seconds, 2),
            "position_changes": result.group.metadata["position_changes"],
            "meets_targets": {"centre_error_mm_max_5": max(errors.values()) <= 5.0}}


def health() -> dict:
    from calibration.boards import Checkerboard
    from calibration.camera import CameraGroup
    from calibration.health import board_health, skeleton_health
    from tests.helpers.motion import observe, person_motion
    from tests.helpers.studio import board_shows, turned
    from tests.helpers.synthetic import camera_ring

    board = Checkerboard(9, 6, 115)
    ring = camera_ring(6, seed=0)
    calibration = CameraGroup(ring, {"reprojection_median_px": {c.name: 0.1 for c in ring}})
    person = person_motion(frames=60, seed=1)
    out = {}
    for label, cams in (("untouched", ring), ("cam3_turned_1deg", [turned(c, 1.0) if c.name == "cam3" else c
                                                                     for c in ring])):
        for source, report in (("board", board_health(calibration, board_shows(cams, board), board)),
                               ("skeleton", skeleton_health(calibration, *vars(observe(cams, person, seed=2)).values()))):
            out[f"{source}_{label}"] = {"error_px": {c.name: round(c.error_px, 3) for c in report.cameras},
                                        "limit_px": {c.name: round(c.limit_px, 2) for c in report.cameras},
                                        "moved": report.moved}
    out["meets_targets"] = {k: v["moved"] == ([] if "untouched" in k else ["cam3"]) for k, v in out.items()}
    return out


def pose2sim() -> dict:
    from calibration.boards import Checkerboard
    from calibration.io import load_qca
    from calibration.pipeline import intrinsics_from_source
    from capture import demo

    qca = load_qca(demo.pose2sim_file("calibration/Calib.qca.txt"))
    board = Checkerboard(4, 7, 60)
    out, used, total = {}, 0, 0
    for c in range(1, 5):
        folder = demo.pose2sim_file(f"calibration/intrinsics/int_cam{c:02d}_img/cam{c:02d}_01_int.jpg").parent
        for k in range(2, 8):
            demo.pose2sim_file(f"calibration/intrinsics/int_cam{c:02d}_img/cam{c:02d}_{k:02d}_int.jpg")
        started = time.perf_counter()
        result = intrinsics_from_source(folder, f"cam{c:02d}", board)
        f_ours, f_qtm = result.camera.matrix[0, 0], qca[f"cam{c:02d}"].matrix[0, 0]
        used += result.used
        total += len(result.views)
        out[f"cam{c:02d}"] = {"used": result.used, "views": len(result.views), "rms_px": round(result.rms_px, 3),
                              "fx": round(f_ours, 1), "fx_qualisys": round(f_qtm, 1),
                              "focal_diff_pct": round(100 * (f_ours / f_qtm - 1), 3),
                              "seconds": round(time.perf_counter() - started, 2)}
    return {"cameras": out, "images_used": used, "images": total,
            "meets_targets": {"images_used": used >= 26,
                              "rms_px": all(v["rms_px"] <= 0.5 for v in out.values()),
                              "focal_within_1pct": all(abs(v["focal_diff_pct"]) <= 1 for v in out.values())}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=60)
    parser.add_argument("--only", choices=["folder", "recording", "redo", "health"], help="Only this part.")
    parser.add_argument("--no-before", action="store_true", help="Skip the slow serial solve of the folder.")
    args = parser.parse_args()
    parts = {"folder": ("studio_folder", lambda: studio_folder(args.moments, not args.no_before)),
             "recording": ("recording", recording), "redo": ("redo_positions", redo_positions),
             "health": ("health", health)}
    if args.only:
        key, run = parts[args.only]
        print(json.dumps({"benchmark": "calibration", key: run()}, indent=2))
        return
    result = {"benchmark": "calibration", "targets": TARGETS, **{key: run() for key, run in parts.values()},
              "studio_refined_intrinsics": studio(args.moments, True),
              "studio_fixed_intrinsics": studio(args.moments, False),
              "pose2sim": pose2sim()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
