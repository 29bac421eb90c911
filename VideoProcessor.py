"""The camera group, under the name the original VSION used: see :mod:`capture.group`.

The capture package has one module per job: ``camera`` (one camera's thread), ``slot`` (the
latest frame), ``preview`` (MJPEG encoding), ``recorder`` (one camera of a take), ``takefile``
(``take.json``, its typed metadata and crash recovery) and ``group`` (all cameras together).
"""
from capture.group import RecordingError, VideoProcessor
from capture.recorder import CameraWriter
from capture.takefile import TakeMeta

__all__ = ["CameraWriter", "RecordingError", "TakeMeta", "VideoProcessor"]
