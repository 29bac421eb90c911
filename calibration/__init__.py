"""Camera calibration, pure: boards, detection, intrinsics, extrinsics with bundle adjustment, file I/O,
calibration from recorded takes, calibration health, printable boards.

Imports numpy, scipy, OpenCV (and PyAV, ReportLab where a video is read or a PDF written) only:
never Flask, threads, the database or the config file. Batch detection runs on worker processes.
"""
