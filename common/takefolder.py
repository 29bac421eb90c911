"""The names of a take folder's files (``../shared/CONTRACT.md``, "Take folder"), in one place.

```
<takes_dir>/<take id>/
  take.json                  what the take is (cameras, times, fps, status, calibration, work card)
  <camera>.mp4               one video per camera
  <camera>.timestamps.csv    frame,pts,monotonic_ns,wall_time_ns,missing_before
  calibration.toml           the calibration in force when it was recorded
  processed/                 the processing outputs (keypoints2d.npz, pose3d.csv, report.json...)
```
"""
from __future__ import annotations

import re

TAKES_DIR = "takes"                    # under data_dir
TAKE_JSON = "take.json"
CALIBRATION_FILE = "calibration.toml"
PROCESSED_DIR = "processed"
COMPARISON_FILE = "comparison.json"    # an attempt's comparison with its reference, in processed/
ERGONOMICS_FILE = "ergonomics.json"    # the ergonomic report of the person of interest, in processed/
TIMESTAMP_COLUMNS = ("frame", "pts", "monotonic_ns", "wall_time_ns", "missing_before")
# The background jobs run on a take (their ``kind``), each writing into its folder.
PROCESS_JOB = "process"                # processing, or choosing its worker again
CALIBRATE_JOB = "calibrate"            # a calibration from the board shown in the take

TAKE_ID = re.compile(r"^\d{8}-\d{6}(-[0-9A-Za-z]{1,8})?$")


def video_name(camera: str) -> str:
    """The file name of ``camera``'s video in a take folder."""
    return f"{camera}.mp4"


def timestamps_name(camera: str) -> str:
    """The file name of ``camera``'s frame timestamps in a take folder."""
    return f"{camera}.timestamps.csv"
