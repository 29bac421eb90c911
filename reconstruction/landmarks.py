"""MediaPipe Pose's 33 landmarks: names, left/right pairs, skeleton edges and limb segments.

Names are MediaPipe's ``PoseLandmark`` names in lower snake case, in MediaPipe order
(``../shared/CONTRACT.md``). Kept as plain data so that readers of VSION's files do not need
MediaPipe installed.
"""
from __future__ import annotations

JOINTS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
N_JOINTS = len(JOINTS)
INDEX = {name: i for i, name in enumerate(JOINTS)}


def _mirror(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if a in name:
            return name.replace(a, b)
    return name


# FLIP[j] is the joint that j becomes when a view confuses the person's left and right.
FLIP: tuple[int, ...] = tuple(INDEX[_mirror(name)] for name in JOINTS)
LATERAL: tuple[int, ...] = tuple(j for j in range(N_JOINTS) if FLIP[j] != j)

# Lines drawn between landmarks (the figure MediaPipe draws), as index pairs.
EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)

# The ten main limb segments whose length should not change: name -> (joint, joint).
SEGMENTS: dict[str, tuple[int, int]] = {
    "left_upper_arm": (INDEX["left_shoulder"], INDEX["left_elbow"]),
    "right_upper_arm": (INDEX["right_shoulder"], INDEX["right_elbow"]),
    "left_forearm": (INDEX["left_elbow"], INDEX["left_wrist"]),
    "right_forearm": (INDEX["right_elbow"], INDEX["right_wrist"]),
    "left_thigh": (INDEX["left_hip"], INDEX["left_knee"]),
    "right_thigh": (INDEX["right_hip"], INDEX["right_knee"]),
    "left_shank": (INDEX["left_knee"], INDEX["left_ankle"]),
    "right_shank": (INDEX["right_knee"], INDEX["right_ankle"]),
    "shoulder_width": (INDEX["left_shoulder"], INDEX["right_shoulder"]),
    "hip_width": (INDEX["left_hip"], INDEX["right_hip"]),
}
