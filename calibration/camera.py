"""Pinhole cameras with OpenCV distortion, alone and as a calibrated group.

Conventions (shared with anipose, Pose2Sim and FreeMoCap, see ``../shared/CONTRACT.md``):
``matrix`` is K (px), ``dist`` is OpenCV's (k1, k2, p1, p2[, k3]), ``rvec`` (Rodrigues) and
``tvec`` (metres) map world to camera: ``x_cam = R @ x_world + t``. World frame: metres, Z up.
Arrays are float64 at the boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np


def _vec(values, n: int | tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    sizes = (n,) if isinstance(n, int) else n
    if arr.size not in sizes:
        raise ValueError(f"expected {' or '.join(map(str, sizes))} values, got {arr.size}")
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """One camera. ``size`` is (width, height) px."""

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self):
        matrix = np.asarray(self.matrix, dtype=np.float64)
        if matrix.shape != (3, 3):
            raise ValueError(f"camera {self.name}: matrix must be 3x3, got {matrix.shape}")
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "dist", _vec(self.dist, (4, 5, 8, 12, 14)))
        object.__setattr__(self, "rvec", _vec(self.rvec, 3))
        object.__setattr__(self, "tvec", _vec(self.tvec, 3))
        width, height = (int(v) for v in self.size)
        if width <= 0 or height <= 0:
            raise ValueError(f"camera {self.name}: size must be positive, got {self.size}")
        object.__setattr__(self, "size", (width, height))

    @property
    def R(self) -> np.ndarray:
        """World-to-camera rotation (3x3)."""
        return cv2.Rodrigues(self.rvec)[0]

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates (m), shape (3,)."""
        return -self.R.T @ self.tvec

    @property
    def projection(self) -> np.ndarray:
        """P = K [R | t] (3x4), for undistorted pixel coordinates."""
        return self.matrix @ np.hstack([self.R, self.tvec[:, None]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) m -> distorted pixel coordinates (N, 2) px."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 3)
        out, _ = cv2.projectPoints(pts, self.rvec, self.tvec, self.matrix, self.dist)
        return out.reshape(-1, 2)

    def undistort_points(self, pixels: np.ndarray) -> np.ndarray:
        """Distorted pixels (N, 2) -> undistorted pixels (N, 2) in the same K."""
        pts = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.undistortPoints(pts, self.matrix, self.dist, P=self.matrix).reshape(-1, 2)

    def with_pose(self, rvec, tvec) -> Camera:
        return replace(self, rvec=rvec, tvec=tvec)

    def to_dict(self) -> dict:
        """The contract's TOML section: name, size, matrix, distortions, rotation, translation."""
        return {
            "name": self.name,
            "size": [int(self.size[0]), int(self.size[1])],
            "matrix": self.matrix.tolist(),
            "distortions": self.dist.tolist(),
            "rotation": self.rvec.tolist(),
            "translation": self.tvec.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict, name: str | None = None) -> Camera:
        return cls(
            name=str(data.get("name", name)),
            size=tuple(data["size"]),
            matrix=data["matrix"],
            dist=data.get("distortions", [0.0] * 4),
            rvec=data.get("rotation", [0.0] * 3),
            tvec=data.get("translation", [0.0] * 3),
        )


@dataclass(frozen=True, eq=False)
class CameraGroup:
    """Calibrated cameras, in a fixed order, plus free-form metadata (errors, date, board, method)."""

    cameras: tuple[Camera, ...]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "cameras", tuple(self.cameras))
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique: {names}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def __len__(self) -> int:
        return len(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            for cam in self.cameras:
                if cam.name == key:
                    return cam
            raise KeyError(f"no camera named {key!r} (cameras: {', '.join(self.names)})")
        return self.cameras[key]

    def subset(self, names: list[str]) -> CameraGroup:
        """The cameras ``names``, in that order (KeyError naming the first missing one)."""
        return replace(self, cameras=tuple(self[n] for n in names))

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixels (C, N, 2) in every camera."""
        return np.stack([cam.project(points) for cam in self.cameras])

    def replace_camera(self, camera: Camera) -> CameraGroup:
        """A group where ``camera`` replaces the one of the same name, or is added at the end."""
        cams = list(self.cameras)
        for i, cam in enumerate(cams):
            if cam.name == camera.name:
                cams[i] = camera
                break
        else:
            cams.append(camera)
        return replace(self, cameras=tuple(cams))
