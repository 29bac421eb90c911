"""Ergonomics outputs: angles.mot read by pandas, ergonomics.csv, the BVH read back by an independent
reader (bvhio, forward kinematics), the report and the coaching messages, and the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import bvhio
import numpy as np
import pandas as pd
import pytest

from reconstruction.bvh import ANCHORS, BY_NAME, JOINT_NAMES, from_bvh_axes, write_bvh
from reconstruction.exports import read_pose3d_csv, write_pose3d_csv
from reconstruction.landmarks import INDEX, JOINTS
from scoring.angles import ANGLE_NAMES, compute_angles
from scoring.ergonomics import coach, ergonomics_report, live_scores, steps_on_attempt
from scoring.exports import FRAME_COLUMNS, MOT_HEADER_LINES, analyse_folder, ergonomics_csv_text, mot_text
from scoring.inputs import ErgonomicsError, parse_steps
from scoring.reba import reba_scores
from scoring.rula import rula_scores
from tests.helpers.motion import person_motion
from tests.helpers.paths import ROOT

FPS = 30.0
STEPS = [{"name": "Pick up", "start_s": 0.0, "end_s": 5.0, "lift": True, "load_kg": 12, "coupling": "fair",
          "frequency_per_min": 1},
         {"name": "Carry", "start_s": 5.0, "end_s": 19.0}]


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    folder = tmp_path_factory.mktemp("take")
    points = person_motion(600, FPS, seed=1, task="lift")
    points[100:110, INDEX["left_wrist"]] = np.nan  # a gap, as a real take has
    write_pose3d_csv(folder / "pose3d.csv", points, FPS)
    return folder


def test_angles_mot_reads_back_with_pandas(tmp_path):
    points = person_motion(90, FPS, seed=3)
    points[5, INDEX["left_elbow"]] = np.nan
    angles = compute_angles(points)
    path = tmp_path / "angles.mot"
    path.write_text(mot_text(angles, np.arange(90) / FPS))
    header = path.read_text().splitlines()[:MOT_HEADER_LINES]
    # OpenSim's storage header: a name, key=value lines, endheader; nColumns counts the time column.
    assert header[0] == "angles" and header[-1] == "endheader"
    keys = dict(line.split("=") for line in header[1:-1])
    assert keys == {"version": "1", "nRows": "90", "nColumns": str(1 + len(ANGLE_NAMES)), "inDegrees": "yes"}
    table = pd.read_csv(path, sep="\t", skiprows=MOT_HEADER_LINES)
    assert list(table.columns) == ["time", *ANGLE_NAMES]
    assert len(table) == 90 and table["time"].iloc[-1] == pytest.approx(89 / FPS, abs=1e-6)
    for name in ANGLE_NAMES:
        np.testing.assert_allclose(table[name].to_numpy(), angles[name], atol=6e-5, equal_nan=True)
    assert np.isnan(table["left_elbow_flexion"].iloc[5]) and np.isfinite(table["right_elbow_flexion"].iloc[5])


def test_ergonomics_csv_holds_every_sub_score():
    points = person_motion(60, FPS, seed=3, task="lift")
    angles = compute_angles(points)
    rula, reba = rula_scores(angles), reba_scores(angles)
    steps = parse_steps([{"name": "Bend", "start_s": 0.5, "end_s": 1.0}])
    text = ergonomics_csv_text(np.arange(60) / FPS, rula, reba, steps)
    table = pd.read_csv(pd.io.common.StringIO(text), keep_default_na=False)
    assert tuple(table.columns) == FRAME_COLUMNS
    for name in rula.names:
        np.testing.assert_array_equal(table[name].to_numpy(), rula[name])
    for name in reba.names:
        np.testing.assert_array_equal(table[name].to_numpy(), reba[name])
    assert (table["step"] == "Bend").sum() == 16 and table["step"].iloc[0] == ""


HEAD = [INDEX[name] for name in JOINTS if name in ("nose", "mouth_left", "mouth_right") or "eye" in name
        or "ear" in name]


def rigid_head(points: np.ndarray) -> np.ndarray:
    """The synthetic person's head keeps its orientation in the world while the trunk bends, so the
    distance from the shoulders to the ears varies by up to ~1 cm: move the head along that line to
    make it constant, as every other bone of the model already is."""
    out = points.copy()
    shoulders = points[:, [INDEX["left_shoulder"], INDEX["right_shoulder"]]].mean(axis=1)
    ears = points[:, [INDEX["left_ear"], INDEX["right_ear"]]].mean(axis=1)
    length = np.linalg.norm(ears - shoulders, axis=1)
    shift = (ears - shoulders) * (np.median(length) / length - 1)[:, None]
    out[:, HEAD] += shift[:, None, :]
    return out


@pytest.mark.parametrize("task", ["walk", "lift"])
def test_bvh_forward_kinematics_matches_pose3d(tmp_path, task):
    # A clean skeleton whose bone lengths are constant, through pose3d.csv as a take would be.
    write_pose3d_csv(tmp_path / "pose3d.csv", rigid_head(person_motion(150, FPS, seed=4, task=task)), FPS)
    points, _ = read_pose3d_csv(tmp_path / "pose3d.csv")
    write_bvh(tmp_path / "pose3d.bvh", points, FPS)
    root = bvhio.readAsHierarchy(str(tmp_path / "pose3d.bvh"))
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    assert set(joints) == set(JOINT_NAMES)
    worst = 0.0
    for f in range(0, 150, 5):
        root.loadPose(f, recursive=True)
        for name in JOINT_NAMES:
            landmark = np.mean([points[f, INDEX[lm]] for lm in ANCHORS[BY_NAME[name].anchor]], axis=0)
            estimate = from_bvh_axes(np.array(joints[name].PositionWorld, dtype=float))
            worst = max(worst, float(np.linalg.norm(estimate - landmark)))
    assert worst <= 0.01, f"{worst * 1000:.1f} mm"
    bvh = bvhio.readAsBvh(str(tmp_path / "pose3d.bvh"))
    assert bvh.FrameCount == 150 and bvh.FrameTime == pytest.approx(1 / FPS, abs=1e-6)


def test_bvh_of_a_take_with_gaps(tmp_path):
    points = person_motion(60, FPS, seed=5)
    points[10:20, INDEX["right_wrist"]] = np.nan
    points[:, INDEX["left_foot_index"]] = np.nan  # never seen: the toe stays in the rest pose
    write_bvh(tmp_path / "gaps.bvh", points, FPS)
    root = bvhio.readAsHierarchy(str(tmp_path / "gaps.bvh"))
    root.loadPose(15, recursive=True)
    positions = {joint.Name: np.array(joint.PositionWorld) for joint, _, _ in root.layout()}
    assert all(np.isfinite(p).all() for p in positions.values())


def test_report_is_json_ready_and_complete(take):
    points, times = read_pose3d_csv(take / "pose3d.csv")
    report = ergonomics_report(points, FPS, STEPS)
    json.dumps(report, allow_nan=False)
    assert report["frames"] == 600 and len(report["series"]["rula_score"]) == 600
    assert set(report["series"]["angles"]) == set(ANGLE_NAMES)
    first, second = report["steps"]
    assert first["rula"]["max"] >= 5 and first["high_risk_s"] > 0
    assert first["niosh"]["lifting_index"] > 0 and first["niosh"]["at_origin"]["cm"] == 0.95
    assert second["niosh"] is None and report["niosh"][0]["step"] == 1
    assert {w["key"] for w in report["warnings"]} >= {"risky_step"}
    assert all(set(w["text"]) == {"en", "fr"} for w in report["warnings"])


def test_coach_says_where_the_attempt_was_riskier():
    reference = ergonomics_report(person_motion(300, FPS, seed=1, task="walk"), FPS,
                                  [{"name": "Pick up", "start_s": 0, "end_s": 9.9}])
    attempt = ergonomics_report(person_motion(300, FPS, seed=1, task="lift"), FPS,
                                [{"name": "Pick up", "start_s": 0, "end_s": 9.9}])
    messages = coach(attempt, reference)
    bent = next(m for m in messages if m["params"]["what"] == "back_bent_20")
    assert bent["params"]["reference_s"] == 0 and bent["params"]["attempt_s"] > 1
    assert bent["text"]["en"].startswith("Step 1 (Pick up): back bent more than 20° for ")
    assert coach(reference, reference) == []


def test_coach_message_wording():
    def report(seconds):
        return {"steps": [{"number": 2, "name": "Step 2", "niosh": None,
                           "exposures_s": {"back_bent_20": 0, "back_bent_60": seconds, "back_twisted": 0,
                                           "neck_bent_20": 0, "neck_extended": 0, "arm_raised_45": 0,
                                           "arm_raised_90": 0, "knees_bent_60": 0, "high_risk": 0}}]}

    (msg,) = coach(report(3.1), report(0.4))
    assert msg["text"]["en"] == "Step 2: back bent more than 60° for 3.1 s (reference: 0.4 s)"
    assert msg["text"]["fr"] == "Étape 2 : dos penché de plus de 60° pendant 3,1 s (référence : 0,4 s)"
    assert msg["key"] == "exposure_longer" and msg["params"]["what"] == "back_bent_60"
    assert coach(report(0.8), report(0.4)) == []  # less than 0.5 s more: not worth a remark


def test_live_scores_of_one_skeleton():
    frame = person_motion(30, FPS, seed=1, task="lift")[15]
    live = live_scores(frame, {"load_kg": 12})
    assert 1 <= live["rula_score"] <= 7 and 1 <= live["reba_score"] <= 15
    assert live["rula_action_level"] in (1, 2, 3, 4) and live["reba_risk_level"] in (0, 1, 2, 3, 4)
    assert set(live["angles"]) == set(ANGLE_NAMES)
    json.dumps(live, allow_nan=False)
    frame[INDEX["left_hip"]] = np.nan
    assert live_scores(frame)["rula_score"] is None  # no trunk, no grand score


def test_steps_move_onto_the_attempt_timeline():
    alignment = [[0.0, 0.0], [2.0, 1.0], [4.0, 2.0], [6.0, 3.0]]  # the attempt twice as slow
    (moved,) = steps_on_attempt([{"name": "A", "start_s": 1.0, "end_s": 2.5, "load_kg": 4}], alignment)
    assert (moved.start_s, moved.end_s, moved.load_kg) == (2.0, 5.0, 4.0)


@pytest.mark.parametrize("bad, words", [
    ([{"name": "x", "start_s": 2, "end_s": 1}], "end_s"),
    ([{"name": "x", "start_s": 0, "end_s": 1, "load": 3}], "load"),
    ([{"name": "x", "start_s": 0, "end_s": 1, "coupling": "sticky"}], "coupling"),
    ([{"name": "x", "start_s": 0, "end_s": 1, "duration_h": 9}], "duration_h"),
    ({"steps": "none"}, "list"),
])
def test_bad_steps_are_one_line_errors(bad, words):
    with pytest.raises(ErgonomicsError) as info:
        parse_steps(bad)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_analyse_folder_writes_the_exports(take, tmp_path):
    report = analyse_folder(take, STEPS)
    assert report["outputs"] == ["angles.mot", "ergonomics.csv", "ergonomics_steps.csv", "pose3d.bvh"]
    steps = pd.read_csv(take / "ergonomics_steps.csv")
    assert list(steps["name"]) == ["Pick up", "Carry"]
    assert steps["niosh_lifting_index"].iloc[0] == report["steps"][0]["niosh"]["lifting_index"]
    with pytest.raises(ErgonomicsError):
        analyse_folder(tmp_path)  # no pose3d.csv


def test_ergonomics_command(take, tmp_path):
    (take / "steps.json").write_text(json.dumps(STEPS))
    out = tmp_path / "ergonomics.json"
    done = run("ergonomics", take, "--out", out)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["steps"][0]["name"] == "Pick up" and report["niosh"]
    assert "worst RULA" in done.stdout and "Step 1 (Pick up)" in done.stdout
    for name in ("angles.mot", "ergonomics.csv", "ergonomics_steps.csv", "pose3d.bvh"):
        assert (take / name).is_file()


def test_ergonomics_command_bad_input_writes_nothing(tmp_path):
    folder = tmp_path / "take"
    folder.mkdir()
    write_pose3d_csv(folder / "pose3d.csv", person_motion(30, FPS, seed=1), FPS)
    bad = tmp_path / "steps.json"
    bad.write_text(json.dumps([{"name": "x", "start_s": 0, "end_s": 1, "lift": "perhaps"}]))
    done = run("ergonomics", folder, "--out", tmp_path / "out.json", "--steps", bad)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "step 1: lift" in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["pose3d.csv"] and not (tmp_path / "out.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run("ergonomics", empty, "--out", tmp_path / "out.json")
    assert done.returncode != 0 and "no pose3d.csv" in done.stderr
