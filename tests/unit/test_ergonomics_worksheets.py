"""RULA and REBA against postures scored by hand from the published worksheets
(:mod:`tests.helpers.worksheets` holds the cases and their derivations)."""
import numpy as np
import pytest

from scoring.angles import Angles
from scoring.inputs import StepInputs
from scoring.reba import reba_scores
from scoring.rula import rula_scores
from tests.helpers.worksheets import CASES, REBA_KEYS, RULA_KEYS, posture_angles


@pytest.fixture(scope="module")
def scored():
    columns = [posture_angles(case[1]) for case in CASES]
    angles = Angles.from_columns({k: [c[k] for c in columns] for k in columns[0]})
    inputs = [StepInputs(**case[2]) for case in CASES]
    return rula_scores(angles, inputs), reba_scores(angles, inputs)


def test_enough_cases():
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("k", range(len(CASES)), ids=[case[0] for case in CASES])
def test_rula_worksheet(scored, k):
    rula, _ = scored
    got = tuple(int(rula[key][k]) for key in RULA_KEYS)
    assert got == CASES[k][3], dict(zip(RULA_KEYS, got))
    # Both arms took the same posture: the right arm scores alike and the grand score is either arm's.
    for part in ("upper_arm", "lower_arm", "wrist", "table_a", "table_c"):
        assert rula[f"rula_right_{part}"][k] == rula[f"rula_left_{part}"][k]
    assert rula["rula_left_table_c"][k] == rula["rula_score"][k]


@pytest.mark.parametrize("k", range(len(CASES)), ids=[case[0] for case in CASES])
def test_reba_worksheet(scored, k):
    _, reba = scored
    got = tuple(int(reba[key][k]) for key in REBA_KEYS)
    assert got == CASES[k][4], dict(zip(REBA_KEYS, got))
    for part in ("upper_arm", "lower_arm", "wrist", "table_b", "score_b", "table_c"):
        assert reba[f"reba_right_{part}"][k] == reba[f"reba_left_{part}"][k]


def test_the_worse_arm_gives_the_grand_score():
    # Left arm neutral (Table C 1 as in "neutral standing"); right arm as in "overhead, poor grip" without the
    # poor grip: RULA UA5 LA1 WR1 A[5][1][1][1]=5 C5, G C5D1=4; REBA ua5 TB[5][1][1]=6 SB6 TC[1][6]=3.
    cols = posture_angles({}, sides=("left",))
    cols.update({k: v for k, v in posture_angles({"arm": 100, "raised": 1}, sides=("right",)).items()
                 if k.startswith("right_")})
    angles = Angles.from_columns(cols)
    rula, reba = rula_scores(angles), reba_scores(angles)
    assert (rula["rula_left_table_c"][0], rula["rula_right_table_c"][0], rula["rula_score"][0]) == (1, 4, 4)
    assert (reba["reba_left_table_c"][0], reba["reba_right_table_c"][0], reba["reba_score"][0]) == (1, 3, 3)


def test_unknown_angles_give_unknown_scores():
    angles = Angles.from_columns({**posture_angles({}), "trunk_flexion": np.nan, "left_wrist_flexion": np.nan,
                                  "right_wrist_flexion": np.nan})
    rula, reba = rula_scores(angles), reba_scores(angles)
    for name in ("rula_trunk", "rula_table_b", "rula_score", "rula_action_level", "rula_left_wrist",
                 "reba_trunk", "reba_table_a", "reba_score", "reba_left_table_b"):
        assert np.isnan((rula if name.startswith("rula") else reba)[name][0]), name
    assert rula["rula_neck"][0] == 1 and reba["reba_neck"][0] == 1  # what is known is still scored
