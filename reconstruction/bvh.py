"""BVH (Biovision hierarchy) export of the 3D skeleton: a hierarchy of 21 joints with constant
bone lengths and, per frame, the root's translation and every joint's rotation.

Conventions (what Blender's and Unity's BVH importers expect):

- Y up, centimetres: VSION's world (x, y, z) m, Z up, is written as (x, z, -y) x 100, the
  same axis change as the TRC export.
- The rest pose (all rotations zero) is a T-pose facing +Z: the person's left is +X, legs along
  -Y, arms along +/-X, feet along +Z.
- Channels: the root ``Hips`` has ``Xposition Yposition Zposition Zrotation Xrotation
  Yrotation``; every other joint ``Zrotation Xrotation Yrotation``. Angles in degrees, intrinsic
  Z then X then Y: a joint's local rotation matrix is Rz @ Rx @ Ry (the order CMU's and most
  BVH files use; Blender reads the order from the file).
- Bone lengths are the take's medians of the landmark distances, so the skeleton does not
  stretch; the joints' positions follow the landmarks' directions exactly, and match the
  landmarks wherever the real distances equal the medians.

Joints and the landmarks they follow: Hips (hips' midpoint), Left/RightUpLeg (hip), Left/RightLeg
(knee), Left/RightFoot (ankle), Left/RightToe (foot index), Spine (hips' midpoint, turning the
trunk), Neck (shoulders' midpoint), Head (ears' midpoint, end site at the nose), Left/RightShoulder
(shoulders' midpoint, turning the clavicle), Left/RightArm (shoulder), Left/RightForeArm (elbow),
Left/RightHand (wrist, end site at the middle of the index and pinky knuckles).

Missing landmarks are interpolated in time (the ends held); a landmark never seen leaves its
joint in the rest pose. Pure numpy and scipy; the writer is atomic; thread-safe.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from common.files import atomic_write

from .exports import ExportError, _check_fps, _check_points3d
from .landmarks import INDEX

logger = logging.getLogger(__name__)

CHANNELS_ROOT = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
EULER_ORDER = "ZXY"  # scipy: upper case = intrinsic, matrix = Rz @ Rx @ Ry

# Landmark anchors: name -> landmarks averaged.
ANCHORS: dict[str, tuple[str, ...]] = {
    "hips": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
    "head": ("left_ear", "right_ear"), "nose": ("nose",),
    **{f"{s}_{p}": (f"{s}_{p}",) for s in ("left", "right")
       for p in ("hip", "knee", "ankle", "foot_index", "shoulder", "elbow", "wrist", "ear")},
    **{f"{s}_hand": (f"{s}_index", f"{s}_pinky") for s in ("left", "right")},
}


@dataclass(frozen=True)
class Joint:
    """A BVH joint: its anchor, its parent, and its rest offset direction (unit, parent's frame)
    from the parent; ``end`` names the anchor of its end site, if it has one."""

    name: str
    anchor: str
    parent: str | None
    direction: tuple[float, float, float]
    end: str | None = None
    end_direction: tuple[float, float, float] | None = None


def _limbs(side: str, sign: float) -> list[Joint]:
    cap = side.capitalize()
    return [
        Joint(f"{cap}UpLeg", f"{side}_hip", "Hips", (sign, 0, 0)),
        Joint(f"{cap}Leg", f"{side}_knee", f"{cap}UpLeg", (0, -1, 0)),
        Joint(f"{cap}Foot", f"{side}_ankle", f"{cap}Leg", (0, -1, 0)),
        Joint(f"{cap}Toe", f"{side}_foot_index", f"{cap}Foot", (0, 0, 1)),
        Joint(f"{cap}Shoulder", "neck", "Spine", (0, 1, 0)),
        Joint(f"{cap}Arm", f"{side}_shoulder", f"{cap}Shoulder", (sign, 0, 0)),
        Joint(f"{cap}ForeArm", f"{side}_elbow", f"{cap}Arm", (sign, 0, 0)),
        Joint(f"{cap}Hand", f"{side}_wrist", f"{cap}ForeArm", (sign, 0, 0), f"{side}_hand", (sign, 0, 0)),
    ]


# Parents come before their children.
SKELETON: tuple[Joint, ...] = (
    Joint("Hips", "hips", None, (0, 0, 0)),
    Joint("Spine", "hips", "Hips", (0, 0, 0)),
    Joint("Neck", "neck", "Spine", (0, 1, 0)),
    Joint("Head", "head", "Neck", (0, 1, 0), "nose", None),
    *_limbs("left", 1.0), *_limbs("right", -1.0),
)
BY_NAME = {j.name: j for j in SKELETON}


def _depth_first(name: str) -> list[str]:
    return [name] + [n for c in SKELETON if c.parent == name for n in _depth_first(c.name)]


# The order the hierarchy is written in, and so the order of the motion columns.
JOINT_NAMES: tuple[str, ...] = tuple(_depth_first("Hips"))


def to_bvh_axes(points_m: np.ndarray) -> np.ndarray:
    """VSION world (x, y, z) m, Z up -> BVH (x, z, -y) cm, Y up."""
    return np.stack([points_m[..., 0], points_m[..., 2], -points_m[..., 1] + 0.0], axis=-1) * 100.0


def from_bvh_axes(points_cm: np.ndarray) -> np.ndarray:
    """BVH (X, Y, Z) cm, Y up -> VSION world (X, -Z, Y) m: the inverse of :func:`to_bvh_axes`."""
    return np.stack([points_cm[..., 0], -points_cm[..., 2] + 0.0, points_cm[..., 1]], axis=-1) / 100.0


def _fill(series: np.ndarray) -> np.ndarray:
    """Interpolate NaN frames of (F, 3) in time, ends held; all-NaN stays NaN."""
    ok = np.isfinite(series).all(axis=1)
    if ok.all() or not ok.any():
        return series
    frames = np.arange(len(series))
    return np.stack([np.interp(frames, frames[ok], series[ok, k]) for k in range(3)], axis=1)


def anchors(points_m: np.ndarray) -> dict[str, np.ndarray]:
    """Anchor positions (F, 3) in BVH axes (cm), gaps filled in time."""
    out = {}
    for name, landmarks in ANCHORS.items():
        mean = np.mean([points_m[:, INDEX[lm]] for lm in landmarks], axis=0)
        out[name] = _fill(to_bvh_axes(mean))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return np.where(n > 1e-9, v / n, np.nan)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, 3, 3) smallest rotations taking unit vectors ``a`` to unit vectors ``b`` (F, 3); the
    identity where ``b`` is NaN; a half turn about an axis normal to ``a`` where b = -a."""
    v = np.cross(a, b)
    c = (a * b).sum(axis=-1)
    k = np.zeros((len(a), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rot = np.eye(3) + k + (k @ k) / (1.0 + c)[:, None, None]
    opposite = c < -1 + 1e-9
    if opposite.any():
        helper = np.where(np.abs(a[opposite, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        axis = _unit(np.cross(a[opposite], helper))
        rot[opposite] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return np.where(np.isfinite(rot).all(axis=(1, 2))[:, None, None], rot, np.eye(3))


def _head_frame(pos: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 3, 3) columns (left, up, forward) of the head from the ears and the nose."""
    x = _unit(pos["left_ear"] - pos["right_ear"])
    fwd = pos["nose"] - pos["head"]
    z = _unit(fwd - (fwd * x).sum(axis=-1, keepdims=True) * x)
    return np.stack([x, np.cross(z, x), z], axis=-1)


def _hips_frame(pos: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 3, 3) columns (left, up, forward) of the pelvis: the hip line and the vertical."""
    x = _unit(pos["left_hip"] - pos["right_hip"])
    up = np.array([0.0, 1.0, 0.0])
    y = _unit(up - (x @ up)[:, None] * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _valid_frames(frames: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(frames).all(axis=(1, 2))[:, None, None], frames, np.eye(3))


def global_rotations(pos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(F, 3, 3) world rotation of every joint: the hips and the head from their landmark frames,
    every other joint the smallest turn from its parent's that points it at its child."""
    children = {j.name: [c for c in SKELETON if c.parent == j.name] for j in SKELETON}
    rot: dict[str, np.ndarray] = {}
    for joint in SKELETON:
        if joint.name == "Hips":
            rot[joint.name] = _valid_frames(_hips_frame(pos))
            continue
        parent = rot[joint.parent]
        if joint.name == "Head":
            rot[joint.name] = _valid_frames(_head_frame(pos))
            continue
        moving = [c for c in children[joint.name] if any(c.direction)]
        if not moving and joint.end is None:
            rot[joint.name] = parent
            continue
        target, rest = (moving[0].anchor, moving[0].direction) if moving else (joint.end, joint.end_direction)
        a = parent @ np.asarray(rest, dtype=float)
        b = _unit(pos[target] - pos[joint.anchor])
        rot[joint.name] = swing(a, b) @ parent
    return rot


def bone_lengths(pos: dict[str, np.ndarray]) -> dict[str, float]:
    """Median distance (cm) from each joint's parent anchor to its anchor (and to end sites)."""
    lengths = {}
    for joint in SKELETON:
        if joint.parent is not None:
            d = np.linalg.norm(pos[joint.anchor] - pos[BY_NAME[joint.parent].anchor], axis=-1)
            lengths[joint.name] = float(np.nanmedian(d)) if np.isfinite(d).any() else 0.0
        if joint.end is not None:
            d = np.linalg.norm(pos[joint.end] - pos[joint.anchor], axis=-1)
            lengths[f"{joint.name}/end"] = float(np.nanmedian(d)) if np.isfinite(d).any() else 0.0
    return lengths


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A skeleton ready to write: ``offsets`` {joint: (3,) cm} and ``end_sites`` {joint: (3,) cm}
    in the rest pose; ``root`` (F, 3) cm; ``euler`` {joint: (F, 3) deg, Z X Y}; ``fps``."""

    offsets: dict[str, np.ndarray]
    end_sites: dict[str, np.ndarray]
    root: np.ndarray
    euler: dict[str, np.ndarray]
    fps: float


def _end_sites(pos: dict[str, np.ndarray], rot: dict[str, np.ndarray], lengths: dict[str, float],
               offsets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    parents = {j.parent for j in SKELETON}
    ends = {}
    for joint in SKELETON:
        if joint.name == "Head":
            local = np.einsum("fji,fj->fi", rot["Head"], pos["nose"] - pos["head"])
            ok = np.isfinite(local).all(axis=1)
            ends[joint.name] = np.median(local[ok], axis=0) if ok.any() else np.array([0.0, 10.0, 10.0])
        elif joint.end is not None:
            ends[joint.name] = np.asarray(joint.end_direction) * lengths[f"{joint.name}/end"]
        elif joint.name not in parents:  # a leaf: a short end site along its own bone
            ends[joint.name] = 0.2 * offsets[joint.name]
    return ends


def skeleton_motion(points: object, fps: float) -> BvhMotion:
    """The BVH skeleton and motion of ``points`` (F, 33, 3) m (VSION world, NaN missing) at ``fps``.

    Raises :class:`reconstruction.exports.ExportError` on a bad array or when the hips are
    never reconstructed.
    """
    arr, _ = _check_points3d(points, "pose3d.bvh")
    fps = _check_fps(fps, "pose3d.bvh")
    pos = anchors(arr)
    if not np.isfinite(pos["hips"]).all():
        raise ExportError("pose3d.bvh: the hips are never reconstructed, the skeleton has no root")
    lengths = bone_lengths(pos)
    offsets = {j.name: np.asarray(j.direction, dtype=float) * lengths.get(j.name, 0.0) for j in SKELETON}
    rot = global_rotations(pos)
    euler = {}
    for joint in SKELETON:
        local = rot[joint.name] if joint.parent is None else np.swapaxes(rot[joint.parent], 1, 2) @ rot[joint.name]
        euler[joint.name] = Rotation.from_matrix(local).as_euler(EULER_ORDER, degrees=True)
    return BvhMotion(offsets, _end_sites(pos, rot, lengths, offsets), pos["hips"], euler, fps)


def _hierarchy_lines(motion: BvhMotion) -> list[str]:
    lines = ["HIERARCHY"]

    def emit(joint: Joint, depth: int) -> None:  # depth first, as JOINT_NAMES
        pad = "\t" * depth
        kind = "ROOT" if joint.parent is None else "JOINT"
        channels = CHANNELS_ROOT if joint.parent is None else CHANNELS
        x, y, z = motion.offsets[joint.name]
        lines.extend([f"{pad}{kind} {joint.name}", f"{pad}{{", f"{pad}\tOFFSET {x:.6f} {y:.6f} {z:.6f}",
                      f"{pad}\tCHANNELS {len(channels)} {' '.join(channels)}"])
        for child in (c for c in SKELETON if c.parent == joint.name):
            emit(child, depth + 1)
        if joint.name in motion.end_sites:
            ex, ey, ez = motion.end_sites[joint.name]
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {ex:.6f} {ey:.6f} {ez:.6f}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    emit(SKELETON[0], 0)
    return lines


def bvh_text(points: object, fps: float) -> str:
    """The BVH file's content for ``points`` (F, 33, 3) m at ``fps`` (see the module docstring)."""
    motion = skeleton_motion(points, fps)
    table = np.concatenate([motion.root] + [motion.euler[name] for name in JOINT_NAMES], axis=1) + 0.0
    lines = _hierarchy_lines(motion)
    lines += ["MOTION", f"Frames: {len(table)}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(f"{round(v, 4) + 0.0:.4f}" for v in row) for row in table.tolist()]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | os.PathLike, points: object, fps: float) -> None:
    """Write ``points`` (F, 33, 3) m as a BVH file (see the module docstring). Atomic; raises
    :class:`reconstruction.exports.ExportError` naming the file."""
    path = Path(path)
    text = bvh_text(points, fps)
    try:
        with atomic_write(path, mode=0o644) as fh:
            fh.write(text)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc.strerror or exc})") from None
