"""Scoring a trainee's take against the expert's reference: joint angles, time alignment, score.

1. Nine angles per frame (degrees) from the 3D skeleton: elbows, shoulders, hips and knees
   (left and right), and the trunk's inclination from the vertical. Angles do not depend on
   where the person stands, which way they face, or their size.
2. Dynamic time warping aligns the attempt to the reference on those angles, so doing the
   task slower, faster or with pauses is not a fault; doing it differently is.
3. The mean absolute angle difference along the alignment gives the score,
   ``100 * exp(-difference / SCALE_DEG)``: 100 for the same movement, about 72 for a steady
   10 degree difference, about 37 for 30 degrees. Per step (on the reference's timeline) and
   per angle likewise; the worst moments are the reference windows with the largest difference.

Pure numpy; arrays are (F, 33, 3) metres, world frame, Z up, as in ``pose3d.csv``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reconstruction.exports import ExportError, read_motion
from reconstruction.landmarks import INDEX

SCALE_DEG = 30.0
ALIGN_HZ = 10.0          # angles are compared at this rate (DTW cost grows with the square of the length)
MAX_ALIGN_SAMPLES = 4000  # 6.7 min at 10 Hz; longer takes are aligned at a lower rate

ANGLES: dict[str, tuple[str, str, str] | str] = {
    "left_elbow": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow": ("right_shoulder", "right_elbow", "right_wrist"),
    "left_shoulder": ("left_hip", "left_shoulder", "left_elbow"),
    "right_shoulder": ("right_hip", "right_shoulder", "right_elbow"),
    "left_hip": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip": ("right_shoulder", "right_hip", "right_knee"),
    "left_knee": ("left_hip", "left_knee", "left_ankle"),
    "right_knee": ("right_hip", "right_knee", "right_ankle"),
    "trunk_inclination": "trunk",
}


class ComparisonError(ValueError):
    """Takes that cannot be compared; the message says why."""


def joint_angles(points: np.ndarray) -> np.ndarray:
    """(F, 9) angles in degrees, in ``ANGLES`` order; NaN where a joint is missing."""
    points = np.asarray(points, dtype=np.float64)
    out = np.full((points.shape[0], len(ANGLES)), np.nan)
    for k, spec in enumerate(ANGLES.values()):
        if spec == "trunk":
            hips = 0.5 * (points[:, INDEX["left_hip"]] + points[:, INDEX["right_hip"]])
            shoulders = 0.5 * (points[:, INDEX["left_shoulder"]] + points[:, INDEX["right_shoulder"]])
            u, v = shoulders - hips, np.broadcast_to([0.0, 0.0, 1.0], hips.shape)
        else:
            a, b, c = (points[:, INDEX[name]] for name in spec)
            u, v = a - b, c - b
        with np.errstate(all="ignore"):
            cos = (u * v).sum(axis=1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        out[:, k] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def _fill(series: np.ndarray) -> np.ndarray:
    """Interpolate NaN gaps per column (ends held); a column without any value stays NaN."""
    out = series.copy()
    frames = np.arange(len(series))
    for k in range(series.shape[1]):
        ok = np.isfinite(series[:, k])
        if ok.any() and not ok.all():
            out[:, k] = np.interp(frames, frames[ok], series[ok, k])
    return out


def _resample(series: np.ndarray, fps: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Series sampled at ``rate`` Hz (linear), and the source frame index of each sample."""
    n = max(2, int(round(len(series) / fps * rate)))
    src = np.linspace(0, len(series) - 1, n)
    frames = np.arange(len(series))
    return np.stack([np.interp(src, frames, series[:, k]) for k in range(series.shape[1])], 1), src


def dtw(cost: np.ndarray) -> np.ndarray:
    """Optimal monotonic alignment through ``cost`` (N, M): path (P, 2) of (i, j) from (0, 0) to (N-1, M-1).

    Dynamic programming by anti-diagonals (each one vectorised), then backtracking.
    """
    N, M = cost.shape
    D = np.full((N + 1, M + 1), np.inf)
    D[0, 0] = 0.0
    for d in range(2, N + M + 1):  # i + j == d in the padded matrix
        i = np.arange(max(1, d - M), min(N, d - 1) + 1)
        j = d - i
        D[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(D[i - 1, j - 1], D[i - 1, j]), D[i, j - 1])
    path = [(N - 1, M - 1)]
    i, j = N, M
    while (i, j) != (1, 1):
        steps = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(steps, key=lambda s: D[s])
        path.append((i - 1, j - 1))
    return np.array(path[::-1])


def score_from_difference(difference_deg: float) -> float:
    """0..100 from a mean absolute angle difference in degrees."""
    return float(100.0 * np.exp(-max(0.0, difference_deg) / SCALE_DEG))


@dataclass(frozen=True)
class Step:
    """A step of the task on the reference's timeline (seconds)."""

    name: str
    start_s: float
    end_s: float


def _per_step(steps: list[Step], ref_s: np.ndarray, per_ref: np.ndarray) -> list[dict]:
    """Score of each step: the reference samples (at ``ref_s`` s) inside it."""
    out = []
    for step in steps:
        inside = (ref_s >= step.start_s) & (ref_s <= step.end_s)
        d = float(per_ref[inside].mean()) if inside.any() else None
        out.append({"name": step.name, "start_s": step.start_s, "end_s": step.end_s,
                    "difference_deg": None if d is None else round(d, 2),
                    "score": None if d is None else round(score_from_difference(d), 1)})
    return out


def _worst_moments(per_ref: np.ndarray, path: np.ndarray, ref_s: np.ndarray, att_s: np.ndarray, rate: float,
                   names: list[str], worst: int) -> list[dict]:
    """The ``worst`` 1 s windows of the reference, at least 2 s apart (times in s)."""
    window = max(1, int(round(rate)))
    smooth = np.convolve(per_ref.mean(axis=1), np.ones(window) / window, mode="same")
    moments, taken = [], np.zeros(len(smooth), bool)
    for k in np.argsort(-smooth):
        if len(moments) >= worst:
            break
        if taken[k]:
            continue
        taken[max(0, k - 2 * window):k + 2 * window + 1] = True
        match = path[path[:, 1] == k][0, 0]
        moments.append({"reference_s": round(float(ref_s[k]), 2), "attempt_s": round(float(att_s[match]), 2),
                        "difference_deg": round(float(smooth[k]), 2), "joint": names[int(np.argmax(per_ref[k]))]})
    return moments


def _aligned_differences(a_angles, r_angles, fps_attempt, fps_reference):
    """DTW of the two angle series resampled at the alignment rate: (rate Hz, path (P, 2),
    per reference sample mean |difference| (R, usable) deg, attempt and reference sample times (s),
    usable angle mask)."""
    usable = np.isfinite(a_angles).any(axis=0) & np.isfinite(r_angles).any(axis=0)
    if not usable.any():
        raise ComparisonError("no joint angle can be measured in both takes (too few joints reconstructed)")
    if len(a_angles) < 2 or len(r_angles) < 2:
        raise ComparisonError("a take has fewer than two frames")
    rate = min(ALIGN_HZ, MAX_ALIGN_SAMPLES / max(len(a_angles) / fps_attempt, len(r_angles) / fps_reference))
    a, a_src = _resample(a_angles[:, usable], fps_attempt, rate)
    r, r_src = _resample(r_angles[:, usable], fps_reference, rate)
    path = dtw(np.abs(a[:, None, :] - r[None, :, :]).mean(axis=2))
    diff = np.abs(a[path[:, 0]] - r[path[:, 1]])                # (P, usable) degrees
    # Every reference sample weighs the same, however many attempt samples match it.
    per_ref = np.zeros((len(r), diff.shape[1]))
    np.add.at(per_ref, path[:, 1], diff)
    per_ref /= np.bincount(path[:, 1], minlength=len(r))[:, None]
    return rate, path, per_ref, a_src / fps_attempt, r_src / fps_reference, usable


def compare(attempt: np.ndarray, reference: np.ndarray, fps_attempt: float, fps_reference: float,
            steps: list[Step] | None = None, worst: int = 3) -> dict:
    """Score ``attempt`` (F_a, 33, 3) against ``reference`` (F_r, 33, 3); see the module docstring.

    Returns ``score`` (0-100), ``difference_deg``, ``per_joint`` {angle: {difference_deg, score}},
    ``per_step`` [{name, start_s, end_s, score, difference_deg}], ``worst`` moments
    [{reference_s, attempt_s, difference_deg, joint}], ``speed_ratio`` (attempt duration over
    reference duration, along the alignment) and ``alignment`` [[attempt_s, reference_s], ...].
    """
    rate, path, per_ref, att_s, ref_s, usable = _aligned_differences(
        _fill(joint_angles(attempt)), _fill(joint_angles(reference)), fps_attempt, fps_reference)
    names = [n for n, ok in zip(ANGLES, usable) if ok]
    overall = float(per_ref.mean())
    per_joint = {n: {"difference_deg": round(float(per_ref[:, k].mean()), 2),
                     "score": round(score_from_difference(per_ref[:, k].mean()), 1)} for k, n in enumerate(names)}
    duration_a, duration_r = att_s[-1], ref_s[-1]
    return {
        "score": round(score_from_difference(overall), 1),
        "difference_deg": round(overall, 2),
        "per_joint": per_joint,
        "per_step": _per_step(steps or [], ref_s, per_ref),
        "worst": _worst_moments(per_ref, path, ref_s, att_s, rate, names, worst),
        "speed_ratio": round(float(duration_a / duration_r), 3) if duration_r > 0 else None,
        "alignment": [[round(float(att_s[i]), 3), round(float(ref_s[j]), 3)] for i, j in path[:: max(1, len(path) // 200)]],
        "angles_compared": names,
    }


def load_steps(path) -> list[Step]:
    """Steps from a JSON file: a list of {"name", "start_s", "end_s"} (or {"steps": [...]})."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ComparisonError(f"{path}: not a readable steps file ({exc})") from None
    items = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ComparisonError(f"{path}: expected a list of steps")
    steps = []
    for k, item in enumerate(items):
        try:
            step = Step(str(item["name"]), float(item["start_s"]), float(item["end_s"]))
        except (KeyError, TypeError, ValueError):
            raise ComparisonError(f"{path}: step {k + 1} needs name, start_s and end_s") from None
        if not step.name or not 0 <= step.start_s < step.end_s:
            raise ComparisonError(f"{path}: step {k + 1} ({step.name!r}) must have a name and start before it ends")
        steps.append(step)
    return steps


def compare_folders(attempt_dir, reference_dir, steps: list[Step] | None = None) -> dict:
    """``compare`` on two processed takes (folders holding ``pose3d.csv``). Steps default to
    ``steps.json`` in the reference folder, if there is one."""
    loaded = []
    for folder in (Path(attempt_dir), Path(reference_dir)):
        try:
            loaded.append(read_motion(folder))
        except ExportError as exc:
            raise ComparisonError(str(exc)) from None
    if steps is None and (Path(reference_dir) / "steps.json").is_file():
        steps = load_steps(Path(reference_dir) / "steps.json")
    (a, fa), (r, fr) = loaded
    result = compare(a, r, fa, fr, steps)
    result["attempt"], result["reference"] = str(attempt_dir), str(reference_dir)
    return result
