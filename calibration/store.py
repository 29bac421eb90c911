"""Calibration sets kept on disk with their date: saved, listed, compared, activated (rolled back).

A set is a folder ``<root>/<id>/`` holding ``calibration.toml`` and ``meta.json``; ``id`` is
the creation time ``YYYYmmdd-HHMMSS`` (UTC). The active calibration is a copy at the path
the configuration names (``calibration``), written atomically, and ``<root>/active`` names
the set it came from.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from calibration.camera import CameraGroup
from calibration.io import CalibrationFileError, load_calibration, load_toml, save_toml

SET_ID = re.compile(r"^\d{8}-\d{6}(-\d{1,3})?$")


class UnknownSet(KeyError):
    """No calibration set with that id."""


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def set_dir(root: Path, set_id: str) -> Path:
    """The folder of set ``set_id`` (UnknownSet for a malformed or missing id: never a path from outside)."""
    if not isinstance(set_id, str) or not SET_ID.fullmatch(set_id) or not (Path(root) / set_id / "meta.json").is_file():
        raise UnknownSet(set_id)
    return Path(root) / set_id


def _rms_px(metadata: dict) -> dict[str, float]:
    """The per-camera reprojection RMS (px) a calibration's metadata gives, if it is a table of
    finite numbers by camera name; anything else (a file made elsewhere) is left out."""
    table = metadata.get("reprojection_rms_px")
    if not isinstance(table, dict):
        return {}
    return {str(name): float(value) for name, value in table.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)}


def save_set(root: Path, group: CameraGroup, note: str = "", extra: dict | None = None) -> dict:
    """Store ``group`` as a new dated set; returns its metadata. The set's folder appears whole
    (calibration and meta.json, written in a hidden folder then renamed) or not at all."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    base = now.strftime("%Y%m%d-%H%M%S")
    set_id, n = base, 1
    while (root / set_id).exists():
        set_id, n = f"{base}-{n}", n + 1
    meta = {"id": set_id, "created_at": now.isoformat(timespec="seconds"), "note": note[:200],
            "cameras": group.names, "rms_px": _rms_px(group.metadata), **(extra or {})}
    staging = Path(tempfile.mkdtemp(prefix=f".{set_id}-", dir=root))
    try:
        save_toml(group, staging / "calibration.toml")
        _write_json(staging / "meta.json", meta)
        staging.rename(root / set_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta


def import_set(root: Path, source: Path, rig: list[str], note: str = "", name: str | None = None) -> dict:
    """Store the calibration in ``source`` (TOML or Qualisys ``.qca.txt``) as a new set for the
    cameras named ``rig``; returns its metadata, with ``mapped`` {file camera: rig camera}.

    The file's cameras are matched to the rig by name; when the names differ but the counts are
    equal, in order (a file made elsewhere names its cameras its own way). Raises
    :class:`CalibrationFileError` when the file cannot serve this rig. ``name`` is the file's
    name as the user knows it (an upload is stored under another), shown in messages and kept.
    """
    name = name or Path(source).name
    group = load_calibration(source)
    if all(name in group.names for name in rig):
        cams = [group[name] for name in rig]
        mapped = {name: name for name in rig}
    elif len(group) == len(rig):
        cams = [replace(cam, name=name) for cam, name in zip(group.cameras, rig)]
        mapped = dict(zip(group.names, rig))
    else:
        raise CalibrationFileError(f"{name}: the file has {len(group)} camera(s) "
                                   f"({', '.join(group.names)}) but the rig has {len(rig)} ({', '.join(rig)})")
    meta = save_set(root, CameraGroup(cams, dict(group.metadata)), note=note, extra={"imported_from": name})
    return {**meta, "mapped": mapped}


def active_id(root: Path) -> str | None:
    marker = Path(root) / "active"
    return marker.read_text().strip() if marker.is_file() else None


def list_sets(root: Path) -> list[dict]:
    """Every set's metadata, newest first, with ``active`` set on the one in force."""
    root = Path(root)
    if not root.is_dir():
        return []
    current = active_id(root)
    sets = []
    for meta_path in root.glob("*/meta.json"):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("id"), str):
            continue
        meta["active"] = meta["id"] == current
        sets.append(meta)

    def newest_first(meta):
        base, _, n = meta["id"].partition("-")[2].partition("-")
        return (meta["id"][:8], base, int(n or 0))

    return sorted(sets, key=newest_first, reverse=True)


def load_set(root: Path, set_id: str) -> tuple[CameraGroup, dict]:
    folder = set_dir(root, set_id)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["active"] = active_id(root) == set_id
    return load_toml(folder / "calibration.toml"), meta


def activate(root: Path, set_id: str, active_path: Path) -> None:
    """Make set ``set_id`` the calibration in force (atomic copy to ``active_path``)."""
    folder = set_dir(root, set_id)
    load_toml(folder / "calibration.toml")  # refuse a damaged set before replacing anything
    active_path = Path(active_path)
    active_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = active_path.with_name(active_path.name + ".tmp")
    shutil.copyfile(folder / "calibration.toml", tmp)
    os.replace(tmp, active_path)
    (Path(root) / "active").write_text(set_id)


def compare(a: CameraGroup, b: CameraGroup) -> dict:
    """Per camera in both: centre shift (mm), rotation change (degrees), focal length change (%)."""
    rows = []
    for name in a.names:
        if name not in b.names:
            continue
        ca, cb = a[name], b[name]
        angle = np.degrees(np.linalg.norm(cv2.Rodrigues(ca.R @ cb.R.T)[0]))
        rows.append({"name": name, "centre_shift_mm": round(float(np.linalg.norm(ca.center - cb.center)) * 1000, 2),
                     "rotation_deg": round(float(angle), 4),
                     "focal_change_pct": round(float((cb.matrix[0, 0] / ca.matrix[0, 0] - 1) * 100), 3)})
    missing = sorted(set(a.names) ^ set(b.names))
    return {"cameras": rows, "missing": missing}


def read_active(active_path: Path) -> CameraGroup | None:
    """The calibration in force, or None when there is none or it cannot be read."""
    try:
        return load_toml(active_path) if Path(active_path).is_file() else None
    except CalibrationFileError:
        return None
