"""The revised NIOSH lifting equation: 10 lifts computed by hand, and the geometry from the skeleton.

The lifts follow the situations of the Applications Manual's worked examples (Waters,
Putz-Anderson and Garg, 1994: a floor-to-waist lift, a repetitive packing task, a lift with
control at the destination, a lowering, a depalletizing frequency between two table rows, a
frequency beyond the table's column). The manual's own figures could not be consulted while
writing these tests, so each expected RWL and LI below was computed by hand from the equation,
multiplier by multiplier (metric form, LC = 23 kg, FM from Table 5, CM from Table 7), as the
comments show; they are not the manual's printed numbers. One value is taken from the manual as
quoted in public specifications: in Example 4 (package inspection), a fair coupling gives CM .95
at the origin (V = 22 in) and 1.00 at the destination (V = 59 in).
"""
import numpy as np
import pytest

from reconstruction.landmarks import INDEX, N_JOINTS
from scoring.inputs import ErgonomicsError, StepInputs
from scoring.niosh import (
    LiftPoint,
    assess_lift,
    coupling_multiplier,
    find_lift_frames,
    frequency_multiplier,
    lift_point,
    lifting_equation,
)


def lift(origin, destination, **inputs):
    return lifting_equation(LiftPoint(0, *origin), LiftPoint(1, *destination), StepInputs(**inputs))


# (name, origin (H cm, V cm, A deg), destination, inputs, expected RWL kg, expected LI)
LIFTS = [
    # HM 25/25=1, VM 1-.003|75-75|=1, DM D=25 -> 1, AM 1, FM (0.2/min, <=1 h)=1, CM good=1: RWL 23.00, LI 23/23=1.00
    ("ideal lift", (25, 75, 0), (25, 100, 0), {"load_kg": 23}, 23.00, 1.00),
    # Floor to waist: HM 25/50=.5, VM 1-.003x75=.775, DM .82+4.5/75=.88, AM 1, FM (1/min, <=1 h, V<75)=.94, CM good 1:
    # RWL 23x.5x.775x.88x.94=7.37, LI 10/7.372=1.36
    ("floor to waist", (50, 0, 0), (50, 75, 0), {"load_kg": 10, "frequency_per_min": 1}, 7.37, 1.36),
    # Packing: HM 25/40=.625, VM 1-.003x25=.925, DM .82+4.5/50=.91, AM 1-.0032x45=.856, FM (4/min, <=2 h, V>=75)=.72,
    # CM fair V>=75 1.00: RWL 23x.625x.925x.91x.856x.72=7.46, LI 8/7.458=1.07
    ("repetitive packing", (40, 100, 45), (40, 150, 45),
     {"load_kg": 8, "frequency_per_min": 4, "duration_h": 2, "coupling": "fair"}, 7.46, 1.07),
    # Far reach: HM 25/63=.3968, VM 1-.003x100=.7, DM .82+4.5/100=.865, AM 1-.0032x135=.568, FM (0.1->0.2/min, 8 h,
    # V>=75)=.85, CM poor .90: RWL 23x.3968x.7x.865x.568x.85x.9=2.40, LI 2/2.401=0.83
    ("far, high and twisted", (63, 175, 135), (63, 75, 135),
     {"load_kg": 2, "frequency_per_min": 0.1, "duration_h": 8, "coupling": "poor"}, 2.40, 0.83),
    # H 70 > 63: HM 0, so RWL 0 and no lifting index (the task should not be done).
    ("out of reach", (70, 75, 0), (70, 100, 0), {"load_kg": 5}, 0.0, None),
    # Close and short: HM 1 (H<25), VM 1-.003x45=.865, DM 1 (D<25), AM 1, FM (12/min, <=1 h, V<75)=.37, CM fair V<75 .95:
    # RWL 23x.865x.37x.95=6.99, LI 5/6.993=0.71
    ("fast, close and short", (20, 30, 0), (20, 50, 0),
     {"load_kg": 5, "frequency_per_min": 12, "coupling": "fair"}, 6.99, 0.71),
    # Depalletizing at 2.4 lifts/min: FM (8 h, V<75) between .65 (2/min) and .55 (3/min): .65-.4x.10=.61; HM 25/30=.8333,
    # VM 1-.003x15=.955, DM .82+4.5/40=.9325, AM 1-.0032x30=.904, CM good 1: RWL 23x.8333x.955x.9325x.904x.61=9.41,
    # LI 9/9.412=0.96
    ("frequency between table rows", (30, 60, 30), (30, 100, 30),
     {"load_kg": 9, "frequency_per_min": 2.4, "duration_h": 8}, 9.41, 0.96),
    # 13/min is beyond the (<=1 h, V<75) column's last non-zero row (12/min) but within the V>=75 one (.34):
    # origin V 80: HM 1, VM 1-.003x5=.985, DM 1, AM 1, FM .34, CM good 1: RWL 23x.985x.34=7.70, LI 5/7.703=0.65
    ("13 lifts a minute, high", (25, 80, 0), (25, 100, 0), {"load_kg": 5, "frequency_per_min": 13}, 7.70, 0.65),
    # Control at the destination (FM from V at the origin, 20 < 75: (1/min, <=2 h)=.88; D=120: DM .82+4.5/120=.8575).
    # Origin: HM 25/35=.7143, VM 1-.003x55=.835, AM 1, CM fair V<75 .95: 23x.7143x.835x.8575x.88x.95=9.83.
    # Destination: HM 25/50=.5, VM 1-.003x65=.805, AM 1-.0032x60=.808, CM fair V>=75 1: 23x.5x.805x.8575x.808x.88=5.64.
    # RWL = the lower 5.64, LI 6/5.644=1.06
    ("placed with care on a shelf", (35, 20, 0), (50, 140, 60),
     {"load_kg": 6, "frequency_per_min": 1, "duration_h": 2, "coupling": "fair", "control_at_destination": True},
     5.64, 1.06),
    # Lowering from 150 to 50 cm: D 100, DM .865; HM 25/45=.5556, VM 1-.003x75=.775, AM 1-.0032x20=.936,
    # FM (5/min, <=1 h, V>=75)=.80, CM poor .90: RWL 23x.5556x.775x.865x.936x.8x.9=5.77, LI 7/5.773=1.21
    ("lowering", (45, 150, 20), (45, 50, 20), {"load_kg": 7, "frequency_per_min": 5, "coupling": "poor"}, 5.77, 1.21),
]


@pytest.mark.parametrize("name, origin, destination, inputs, rwl_kg, li", LIFTS, ids=[x[0] for x in LIFTS])
def test_hand_computed_lifts(name, origin, destination, inputs, rwl_kg, li):
    result = lift(origin, destination, **inputs)
    assert result.rwl_kg == pytest.approx(rwl_kg, abs=0.005)
    if li is None:
        assert result.lifting_index is None
    else:
        assert result.lifting_index == pytest.approx(li, abs=0.005)
    assert result.to_dict()["rwl_kg"] == pytest.approx(rwl_kg, abs=0.005)


def test_enough_lifts():
    assert len(LIFTS) >= 10


def test_control_at_destination_uses_the_lower_rwl():
    result = lift((35, 20, 0), (50, 140, 60), load_kg=6, frequency_per_min=1, duration_h=2, coupling="fair",
                  control_at_destination=True)
    assert result.at_origin.rwl_kg == pytest.approx(9.83, abs=0.005)
    assert result.at_destination.rwl_kg == pytest.approx(5.64, abs=0.005)
    assert result.at_origin.fm == result.at_destination.fm == 0.88  # FM from V at the origin
    assert (result.at_origin.cm, result.at_destination.cm) == (0.95, 1.0)  # CM from V at each end


def test_tables():
    assert coupling_multiplier("fair", 22 * 2.54) == 0.95 and coupling_multiplier("fair", 59 * 2.54) == 1.0
    assert coupling_multiplier("unacceptable", 50) == 0.90
    assert frequency_multiplier(0.05, 1, 50) == 1.0          # below 0.2 lifts/min counts as 0.2
    assert frequency_multiplier(12.5, 1, 50) == 0.0          # beyond the column's last non-zero row
    assert frequency_multiplier(15, 1, 80) == 0.28
    assert frequency_multiplier(16, 1, 80) == 0.0
    assert frequency_multiplier(9, 8, 50) == 0.0 and frequency_multiplier(9, 8, 80) == 0.15
    assert frequency_multiplier(1, 1.0, 50) == 0.94 and frequency_multiplier(1, 1.01, 50) == 0.88
    with pytest.raises(ErgonomicsError):
        frequency_multiplier(1, 9, 50)  # more than 8 h: the equation does not apply
    with pytest.raises(ErgonomicsError):
        coupling_multiplier("sticky", 50)


def _standing(frames: int) -> np.ndarray:
    """A person standing at the origin facing +x (feet flat, heels 6 cm behind the ankles, on z = 0)."""
    P = np.zeros((frames, N_JOINTS, 3))
    for s, side in ((1, "left"), (-1, "right")):
        P[:, INDEX[f"{side}_ankle"]] = [0.0, s * 0.1, 0.08]
        P[:, INDEX[f"{side}_heel"]] = [-0.06, s * 0.1, 0.0]
        P[:, INDEX[f"{side}_foot_index"]] = [0.16, s * 0.1, 0.0]
        P[:, INDEX[f"{side}_hip"]] = [0.0, s * 0.1, 0.9]
    return P


def _hands_at(P: np.ndarray, f: int, xyz) -> None:
    for s, side in ((1, "left"), (-1, "right")):
        for part in ("index", "pinky", "wrist"):
            P[f, INDEX[f"{side}_{part}"]] = np.asarray(xyz) + [0, s * 0.15, 0]


def test_lift_geometry_from_the_skeleton():
    P = _standing(30)
    heights = np.concatenate([np.linspace(0.6, 0.1, 10), np.linspace(0.1, 1.2, 15), np.full(5, 1.2)])
    for f, z in enumerate(heights):
        x, y = (0.4, 0.0) if f <= 12 else (0.3, 0.3)
        _hands_at(P, f, (x, y, z))
    origin, destination = find_lift_frames(P, 10.0, 0.0, 2.9)
    assert (origin, destination) == (9, 24)  # the lowest, then the highest hands
    start = lift_point(P, origin, 0.0)
    assert (start.h_cm, start.v_cm, start.a_deg) == pytest.approx((40.0, 10.0, 0.0), abs=1e-6)
    end = lift_point(P, destination, 0.0)
    assert end.h_cm == pytest.approx(100 * np.hypot(0.3, 0.3), abs=1e-6)
    assert end.a_deg == pytest.approx(45.0, abs=1e-6) and end.v_cm == pytest.approx(120.0, abs=1e-6)
    result = assess_lift(P, 10.0, 0.0, 2.9, StepInputs(load_kg=5))
    # floor from the heels and toes: z = 0; HM 25/40=.625, VM 1-.003x65=.805, D 110: DM .82+4.5/110=.8609, AM 1,
    # FM (0.2/min, <=1 h) 1, CM good 1: RWL 23x.625x.805x.8609=9.96
    assert result.d_cm == pytest.approx(110.0, abs=1e-6)
    assert result.rwl_kg == pytest.approx(9.96, abs=0.01)


def test_a_lowering_starts_high():
    P = _standing(20)
    for f, z in enumerate(np.linspace(1.3, 0.2, 20)):
        _hands_at(P, f, (0.35, 0.0, z))
    assert find_lift_frames(P, 10.0, 0.0, 1.9) == (0, 19)


def test_a_lift_outside_the_take_is_refused():
    P = _standing(10)
    for f in range(10):
        _hands_at(P, f, (0.3, 0, 0.5))
    with pytest.raises(ErgonomicsError):
        find_lift_frames(P, 10.0, 5.0, 6.0)
    P[:, INDEX["left_ankle"]] = np.nan
    with pytest.raises(ErgonomicsError):
        find_lift_frames(P, 10.0, 0.0, 0.9)
