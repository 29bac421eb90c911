"""Joint angles from 3D skeletons built with known angles, and postures scored from them.

``posed_skeleton`` places the 33 landmarks of a person facing +x (left = +y, Z up) with the
trunk, head, arms, wrists and knees set to the given angles, using the definitions of
scoring.angles; then ``compute_angles`` must read those angles back, and RULA and REBA must
give the hand-scored result of the same posture in tests/test_ergonomics_worksheets.py.
"""
import math

import numpy as np
import pytest

from reconstruction.landmarks import INDEX, N_JOINTS
from scoring.angles import ANGLE_NAMES, EAR_EYE_PITCH_DEG, FLAG_NAMES, compute_angles
from scoring.inputs import ErgonomicsError, StepInputs
from scoring.reba import reba_scores
from scoring.rula import rula_scores
from tests.helpers.worksheets import CASES, REBA_KEYS, RULA_KEYS

UP, LEFT, FWD = np.array([0.0, 0, 1]), np.array([0.0, 1, 0]), np.array([1.0, 0, 0])


def _unit(v):
    return v / np.linalg.norm(v)


def _r(deg):
    return math.radians(deg)


def _arm(P, side, s, shoulder, fwd_t, left_t, up_t, p):
    """Upper arm, forearm and hand of one side (s = +1 left, -1 right)."""
    f, a = _r(p["arm"]), _r(p["abd"])
    upper = math.cos(a) * math.sin(f) * fwd_t + s * math.sin(a) * left_t - math.cos(a) * math.cos(f) * up_t
    elbow = shoulder + 0.30 * upper
    bend = fwd_t - (fwd_t @ upper) * upper
    bend = _unit(bend if np.linalg.norm(bend) > 1e-6 else up_t - (up_t @ upper) * upper)
    fore = math.cos(_r(p["elbow"])) * upper + math.sin(_r(p["elbow"])) * bend
    wrist = elbow + 0.26 * fore
    radial = _unit(np.cross(upper, bend))  # normal to the arm's plane, so to the forearm
    palmar = -s * np.cross(radial, fore)
    hand = _unit(fore + math.tan(_r(p["wrist"])) * palmar + math.tan(_r(p["dev"])) * radial)
    P[INDEX[f"{side}_elbow"]], P[INDEX[f"{side}_wrist"]] = elbow, wrist
    P[INDEX[f"{side}_index"]] = wrist + 0.09 * hand + 0.02 * radial
    P[INDEX[f"{side}_pinky"]] = wrist + 0.09 * hand - 0.02 * radial
    P[INDEX[f"{side}_thumb"]] = wrist + 0.05 * hand + 0.04 * radial


def _leg(P, side, s, hips, p):
    hip = hips + s * 0.10 * LEFT
    k = _r(p["knee"])
    knee = hip - 0.45 * UP
    ankle = knee + 0.43 * (-math.cos(k) * UP - math.sin(k) * FWD)
    if not p["supported"] and side == "right":  # the right foot lifted 15 cm
        ankle = ankle + 0.15 * UP
    P[INDEX[f"{side}_hip"]], P[INDEX[f"{side}_knee"]], P[INDEX[f"{side}_ankle"]] = hip, knee, ankle
    P[INDEX[f"{side}_heel"]] = ankle - 0.06 * FWD - 0.05 * UP
    P[INDEX[f"{side}_foot_index"]] = ankle + 0.15 * FWD - 0.06 * UP


def _head(P, shoulders, fwd_t, left_t, up_t, p):
    pitch = _r(p["neck"] - EAR_EYE_PITCH_DEG)  # the ear-to-eye line points down by this much
    turn = _r(p["neck_twist"])
    fwd_h = math.cos(turn) * fwd_t + math.sin(turn) * left_t
    left_h = math.cos(turn) * left_t - math.sin(turn) * fwd_t
    look = math.cos(pitch) * fwd_h - math.sin(pitch) * up_t
    ears = shoulders + 0.17 * up_t
    for s, side in ((1, "left"), (-1, "right")):
        P[INDEX[f"{side}_ear"]] = ears + s * 0.075 * left_h
        P[INDEX[f"{side}_eye"]] = ears + 0.09 * look + s * 0.035 * left_h
        for part, k in (("eye_inner", 0.015), ("eye_outer", 0.05)):
            P[INDEX[f"{side}_{part}"]] = ears + 0.09 * look + s * k * left_h
        P[INDEX[f"mouth_{side}"]] = ears + 0.08 * look - 0.06 * up_t + s * 0.025 * left_h
    P[INDEX["nose"]] = ears + 0.11 * look - 0.02 * up_t


def posed_skeleton(**posture) -> np.ndarray:
    """(33, 3) landmarks in metres for a posture (keys and defaults of the worksheet tests)."""
    p = {"trunk": 0, "trunk_side": 0, "neck": 5, "neck_twist": 0, "arm": 10, "abd": 0, "elbow": 80, "wrist": 0,
         "dev": 0, "knee": 10, "supported": 1, **posture}
    P = np.zeros((N_JOINTS, 3))
    hips = np.array([0.0, 0.0, 0.95])
    f, sb = _r(p["trunk"]), _r(p["trunk_side"])
    up_t = math.cos(sb) * math.sin(f) * FWD + math.sin(sb) * LEFT + math.cos(sb) * math.cos(f) * UP
    left_t = _unit(LEFT - (LEFT @ up_t) * up_t)
    fwd_t = np.cross(left_t, up_t)
    shoulders = hips + 0.52 * up_t
    for s, side in ((1, "left"), (-1, "right")):
        P[INDEX[f"{side}_shoulder"]] = shoulders + s * 0.19 * left_t
        _arm(P, side, s, P[INDEX[f"{side}_shoulder"]], fwd_t, left_t, up_t, p)
        _leg(P, side, s, hips, p)
    _head(P, shoulders, fwd_t, left_t, up_t, p)
    return P


SKELETON_CASES = ["neutral standing", "slight bend", "reach over a bench", "deep stoop, repeated 8 kg",
                  "arm overhead, elbow straight", "arm in extension 30", "trunk extension 30", "looking up",
                  "squat lift 12 kg", "bad grip", "wrist extended, ulnar", "jerk from a stoop", "one foot, knee 70"]


@pytest.mark.parametrize("name", SKELETON_CASES)
def test_angles_from_a_posed_skeleton(name):
    posture, inputs, rula_expected, reba_expected = next(c[1:] for c in CASES if c[0] == name)
    posture = {k: v for k, v in posture.items() if k != "supported"} | {"supported": posture.get("supported", 1)}
    angles = compute_angles(posed_skeleton(**posture)[None])
    p = {"trunk": 0, "neck": 5, "arm": 10, "abd": 0, "elbow": 80, "wrist": 0, "dev": 0, "knee": 10, **posture}
    expected = {"trunk_flexion": p["trunk"], "neck_flexion": p["neck"], "left_upper_arm_flexion": p["arm"],
                "right_upper_arm_abduction": p["abd"], "left_elbow_flexion": p["elbow"],
                "right_wrist_flexion": p["wrist"], "left_wrist_deviation": p["dev"], "left_knee_flexion": p["knee"],
                "trunk_twist": 0, "neck_twist": 0, "trunk_side_bend": 0, "neck_side_bend": 0}
    if p["supported"]:
        expected["right_knee_flexion"] = p["knee"]
    for key, value in expected.items():
        assert angles[key][0] == pytest.approx(value, abs=1e-6), key
    assert angles["legs_supported"][0] == p["supported"]
    assert angles["left_shoulder_raised"][0] == 0 and angles["left_arm_across_or_out"][0] == 0
    rula, reba = rula_scores(angles, StepInputs(**inputs)), reba_scores(angles, StepInputs(**inputs))
    assert tuple(int(rula[k][0]) for k in RULA_KEYS) == rula_expected
    assert tuple(int(reba[k][0]) for k in REBA_KEYS) == reba_expected


def test_twist_side_bend_and_head_turn():
    angles = compute_angles(posed_skeleton(trunk=30, trunk_side=12, neck_twist=25)[None])
    assert angles["trunk_flexion"][0] == pytest.approx(30, abs=1e-6)
    assert angles["trunk_side_bend"][0] == pytest.approx(12, abs=1e-6)
    assert angles["neck_twist"][0] == pytest.approx(25, abs=1e-6)
    # Shoulders turned 20 deg to the left of the hips about the trunk line.
    P = posed_skeleton()
    mid = (P[INDEX["left_shoulder"]] + P[INDEX["right_shoulder"]]) / 2
    c, s = math.cos(_r(20)), math.sin(_r(20))
    turn = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    for name in ("left_shoulder", "right_shoulder"):
        P[INDEX[name]] = mid + turn @ (P[INDEX[name]] - mid)
    assert compute_angles(P[None])["trunk_twist"][0] == pytest.approx(20, abs=1e-6)


def test_flags_shoulder_raised_across_and_out():
    P = posed_skeleton(arm=60, elbow=90)
    P[INDEX["left_shoulder"]] += np.array([0, 0, 0.08])  # a shrug: ears 9 cm above it, 0.24 shoulder widths
    P[INDEX["right_wrist"]] = P[INDEX["left_shoulder"]] + np.array([0.3, 0.05, 0])  # across the midline
    angles = compute_angles(P[None])
    assert angles["left_shoulder_raised"][0] == 1 and angles["right_shoulder_raised"][0] == 0
    assert angles["right_arm_across_or_out"][0] == 1
    out = posed_skeleton(arm=0, abd=80, elbow=10)  # the wrist ~55 cm outside the shoulder
    assert compute_angles(out[None])["left_arm_across_or_out"][0] == 1


def test_missing_landmarks_give_nan_only_where_needed():
    P = posed_skeleton(trunk=20)
    P[INDEX["left_wrist"]] = np.nan
    P[INDEX["left_ear"]] = np.nan
    angles = compute_angles(P[None])
    for name in ("left_elbow_flexion", "left_wrist_flexion", "left_arm_across_or_out", "neck_flexion",
                 "left_shoulder_raised"):
        assert np.isnan(angles[name][0]), name
    for name in ("trunk_flexion", "right_elbow_flexion", "left_upper_arm_elevation", "left_knee_flexion",
                 "legs_supported"):
        assert np.isfinite(angles[name][0]), name
    assert set(ANGLE_NAMES) | set(FLAG_NAMES) == set(angles.names)


@pytest.mark.parametrize("bad", [np.zeros((5, 32, 3)), np.zeros((0, 33, 3)), np.full((2, 33, 3), np.inf), "x"])
def test_bad_points_are_refused(bad):
    with pytest.raises(ErgonomicsError):
        compute_angles(bad)
