"""Camera calibration, pure: boards, detection, intrinsics, extrinsics with bundle adjustment, file I/O.

Imports numpy, scipy and OpenCV only: never Flask, threads, the database or the config file.
"""
