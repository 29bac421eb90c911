#!/usr/bin/env python
"""Ergonomics benchmark. Prints one JSON object:

- ``synthetic``: per task (``walk``, ``lift``), the forward-kinematic person of tests/helpers/motion.py
  seen by six calibrated 1280x720 cameras with 3 px noise, 8 % of joints dropped, 5 % confident
  outliers and 3 % of frames with left/right swapped in one camera, reconstructed as the
  pipeline does; RMSE (deg) of every angle against the noise-free skeleton's, agreement (%) of
  the RULA action level, the RULA score and the REBA risk level, and whether the targets are met
  (RMSE <= 3 deg for trunk, upper arm, elbow and knee; action level >= 95 %).
- ``speed``: seconds per 1000 frames for the angles, RULA + REBA, the whole report (JSON-ready)
  and the BVH text, on 9000 frames.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"rmse_deg": 3.0, "action_level_pct": 95.0}
TARGET_ANGLES = ("trunk_flexion", "left_upper_arm_elevation", "right_upper_arm_elevation", "left_upper_arm_flexion",
                 "right_upper_arm_flexion", "left_elbow_flexion", "right_elbow_flexion", "left_knee_flexion",
                 "right_knee_flexion")


def _reconstruct(truth: np.ndarray, seed: int) -> np.ndarray:
    from calibration.camera import CameraGroup
    from reconstruction import filtering
    from reconstruction.triangulate import triangulate
    from tests.helpers.motion import observe
    from tests.helpers.synthetic import camera_ring

    group = CameraGroup(camera_ring(6))
    obs = observe(list(group.cameras), truth, seed=seed)
    tri = triangulate(group, obs.points, obs.scores)
    return filtering.smooth(tri.points, 30.0)


def synthetic(task: str, frames: int = 1800) -> dict:
    from scoring.angles import ANGLE_NAMES, compute_angles
    from scoring.reba import reba_scores
    from scoring.rula import rula_scores
    from tests.helpers.motion import person_motion

    truth = person_motion(frames, 30.0, seed=1, task=task)
    a_true, a_est = compute_angles(truth), compute_angles(_reconstruct(truth, seed=2))
    rmse = {n: round(float(np.sqrt(np.nanmean((a_est[n] - a_true[n]) ** 2))), 2) for n in ANGLE_NAMES}
    r_true, r_est = rula_scores(a_true), rula_scores(a_est)
    b_true, b_est = reba_scores(a_true), reba_scores(a_est)

    def agree(a, b, name):
        return round(100.0 * float(np.mean(a[name] == b[name])), 2)

    out = {"frames": frames, "rmse_deg": rmse,
           "rula_action_level_agreement_pct": agree(r_true, r_est, "rula_action_level"),
           "rula_score_agreement_pct": agree(r_true, r_est, "rula_score"),
           "reba_risk_level_agreement_pct": agree(b_true, b_est, "reba_risk_level"),
           "reba_score_agreement_pct": agree(b_true, b_est, "reba_score")}
    out["meets_targets"] = {"rmse": all(rmse[n] <= TARGETS["rmse_deg"] for n in TARGET_ANGLES),
                            "action_level": out["rula_action_level_agreement_pct"] >= TARGETS["action_level_pct"]}
    return out


def speed(frames: int = 9000) -> dict:
    from reconstruction.bvh import bvh_text
    from scoring.angles import compute_angles
    from scoring.ergonomics import ergonomics_report
    from scoring.reba import reba_scores
    from scoring.rula import rula_scores
    from tests.helpers.motion import person_motion

    points = person_motion(frames, 30.0, seed=3, task="lift")
    steps = [{"name": f"step {k}", "start_s": 30.0 * k, "end_s": 30.0 * k + 29.0, "lift": k == 0} for k in range(10)]
    angles = compute_angles(points)
    timings = {}
    for name, fn in (("angles", lambda: compute_angles(points)),
                     ("rula_reba", lambda: (rula_scores(angles), reba_scores(angles))),
                     ("report", lambda: json.dumps(ergonomics_report(points, 30.0, steps))),
                     ("bvh", lambda: bvh_text(points, 30.0))):
        t0 = time.perf_counter()
        fn()
        timings[f"{name}_s_per_1000_frames"] = round((time.perf_counter() - t0) * 1000 / frames, 4)
    return {"frames": frames, **timings}


def main() -> None:
    print(json.dumps({"synthetic": {task: synthetic(task) for task in ("walk", "lift")}, "speed": speed()}, indent=2))


if __name__ == "__main__":
    main()
