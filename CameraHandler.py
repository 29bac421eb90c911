"""One camera, under the name the original VSION used: see :mod:`capture.camera`."""
from capture.camera import CONNECTED, CONNECTING, FAILED, RECONNECTING, STOPPED, CameraHandler, Frame

__all__ = ["CONNECTED", "CONNECTING", "FAILED", "RECONNECTING", "STOPPED", "CameraHandler", "Frame"]
