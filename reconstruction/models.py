"""The model files VSION runs, where they come from and their checksums: the one place that says so.

Both BlazePose models ship inside the pinned ``mediapipe==0.10.21`` wheel (PyPI, Apache-2.0,
Google LLC), which requirements.txt installs; VSION finds them in the installed package at run
time (nothing is downloaded) and checks their SHA-256 before use:

- ``pose_detection``: the BlazePose person detector (224x224 RGB in [-1, 1]; 2254 SSD anchors, a
  face box and 4 alignment keypoints each);
- ``pose_landmark_full``: the BlazePose GHUM "full" landmark model (``model_complexity=1``;
  256x256 RGB in [0, 1]; 33 landmarks + 6 auxiliary, a presence flag, a 64x64x39 heatmap).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGE = "mediapipe"
PACKAGE_VERSION = "0.10.21"
LICENSE = "Apache-2.0"


class ModelError(ValueError):
    """A model file is missing or is not the expected file; the message names it and says what to do."""


@dataclass(frozen=True)
class ModelFile:
    """One model: ``member`` is its path inside the installed ``mediapipe`` package."""

    name: str
    member: str
    sha256: str

    @property
    def source(self) -> str:
        return f"{PACKAGE}=={PACKAGE_VERSION} wheel (PyPI), {self.member}, {LICENSE}"


POSE_DETECTOR = ModelFile("pose_detection", "modules/pose_detection/pose_detection.tflite",
                          "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c")
POSE_LANDMARKS = ModelFile("pose_landmark_full", "modules/pose_landmark/pose_landmark_full.tflite",
                           "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f")
MODELS = (POSE_DETECTOR, POSE_LANDMARKS)


def package_dir() -> Path:
    """The installed ``mediapipe`` package's folder, found without importing it (importing is slow)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the {PACKAGE} package is not installed: pip install -r requirements.txt "
                         f"({PACKAGE}=={PACKAGE_VERSION} carries the pose models)")
    return Path(next(iter(spec.submodule_search_locations)))


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@functools.lru_cache(maxsize=8)
def _checked(path: Path, sha256: str, size: int, mtime_ns: int) -> bool:
    """Whether ``path`` has the checksum; cached per (path, size, mtime): a file is hashed once."""
    return _digest(path) == sha256


def model_path(model: ModelFile, root: Path | None = None) -> Path:
    """Path of ``model`` inside the installed mediapipe package (or under ``root``), checked.

    Raises :class:`ModelError` when the file is missing or its SHA-256 is not ``model.sha256``.
    Thread-safe.
    """
    path = (root if root is not None else package_dir()) / model.member
    if not path.is_file():
        raise ModelError(f"{model.name}: {path} is missing; it comes from the {model.source}: "
                         f"pip install {PACKAGE}=={PACKAGE_VERSION}")
    stat = path.stat()
    if not _checked(path, model.sha256, stat.st_size, stat.st_mtime_ns):
        raise ModelError(f"{model.name}: {path} is not the expected file (SHA-256 differs from {model.sha256}); "
                         f"reinstall {PACKAGE}=={PACKAGE_VERSION}")
    return path
