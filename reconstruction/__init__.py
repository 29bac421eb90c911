"""Pure reconstruction: 2D pose (MediaPipe), synchronization, triangulation, filtering, exports, metrics.

Imports numpy, scipy, OpenCV and MediaPipe only: never Flask, the database or the config file.
"""
