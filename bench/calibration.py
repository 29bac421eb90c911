#!/usr/bin/env python
"""Calibration benchmark: the synthetic studio (known truth) and the Pose2Sim checkerboards.

Prints one JSON object:

- ``studio``: six 1280x720 cameras around a 3 m circle with real lens distortion; rendered
  checkerboard images (blur, noise, uneven light); intrinsics per camera, then the joint
  extrinsic calibration (bundle adjustment) from ``--moments`` board moments plus the board
  on the floor, with and without refining the intrinsics. Errors are gauge-free: camera
  centres after the best rigid alignment, relative rotations between cameras, scale from
  the distances between cameras. ``extrinsics_s`` times detection + adjustment.
- ``pose2sim``: intrinsics from the Pose2Sim demo's real checkerboard images (4x7, 60 mm)
  against the Qualisys calibration shipped beside them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = {"focal_error_pct_max": 0.3, "principal_point_error_px_max": 2.0, "camera_centre_error_mm_max": 5.0,
           "relative_rotation_error_deg_max": 0.1, "scale_error_pct": 0.1, "extrinsics_s": 30.0}


def studio(moments: int, refine: bool) -> dict:
    from tests.helpers.studio import run_studio

    metrics = run_studio(moments=moments, refine_intrinsics=refine).metrics
    metrics["meets_targets"] = {k: bool(metrics[k] <= v) for k, v in TARGETS.items()}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


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
    args = parser.parse_args()
    result = {"benchmark": "calibration", "targets": TARGETS,
              "studio_refined_intrinsics": studio(args.moments, True),
              "studio_fixed_intrinsics": studio(args.moments, False),
              "pose2sim": pose2sim()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
