"""Calibration sets kept on disk with their date: saved, listed, compared, activated (rolled back).

A set is a folder ``<root>/<id>/`` holding ``calibration.toml`` and ``meta.json``; ``id`` is
the creation time ``YYYYmmdd-HHMMSS`` (UTC), ``-1``, ``-2``... added when several sets share a
second. The active calibration is a copy at the path the configuration names
(``calibration``), written atomically, and ``<root>/active`` names the set it came from.

``meta.json`` is a :class:`calibration.metadata.SetRecord`, validated when written; read back
leniently (a field of the wrong type, written by an older version, falls back to its default
with a warning), so listing and loading raise only :class:`UnknownSet` (no such set) or
:class:`CalibrationFileError` (a damaged set). Notes and file names with control characters,
or longer than their limit, are refused with :class:`SetTextError` (a CalibrationFileError:
the web answers 400 with its message). Every write goes through :mod:`common.files`. Functions
are safe to call from several threads; two saves in the same second get distinct ids.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import stat
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from calibration.camera import CameraGroup
from calibration.io import CalibrationFileError, load_calibration, load_toml, save_toml, scan_nesting
from calibration.metadata import (
    MAX_FILE_NAME,
    MAX_TEXT,
    SET_ID,
    WORK_AREA_KEY,
    MetadataError,
    SetRecord,
    check_text,
    typed,
)
from common.files import write_bytes, write_json, write_text

logger = logging.getLogger(__name__)

MAX_META_BYTES = 256 * 1024  # a meta.json is a few hundred bytes
MAX_SAME_SECOND = 999  # sets saved in one second (the id suffix has at most 3 digits)


class UnknownSet(KeyError):
    """No calibration set with that id."""


class SetTextError(CalibrationFileError):
    """A note or a file name that a set cannot keep (control characters, too long): one line."""


def _checked(text, what: str, max_length: int) -> str:
    try:
        return check_text(text, what, max_length)
    except MetadataError as exc:
        raise SetTextError(str(exc)) from None


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
    values = {name: value.item() if isinstance(value, np.generic) else value for name, value in table.items()}
    return {str(name): float(value) for name, value in values.items()
            if isinstance(value, float | int) and not isinstance(value, bool) and abs(value) <= 2**53
            and math.isfinite(value)}


def _record(data: dict, strict: bool, where: str) -> dict:
    """``data`` as a typed set record (plain scalars kept under unknown keys); see SetRecord."""
    try:
        record, extra, dropped = typed(SetRecord, data, strict, where)
    except MetadataError as exc:
        raise CalibrationFileError(str(exc)) from None
    if dropped:
        logger.warning("%s: ignored %s", where, "; ".join(dropped)[:500])
    return {**record.model_dump(exclude_none=True), **extra}


def _new_id(root: Path, now: datetime) -> str:
    base = now.strftime("%Y%m%d-%H%M%S")
    for n in range(MAX_SAME_SECOND + 1):
        set_id = f"{base}-{n}" if n else base
        if not (root / set_id).exists():
            return set_id
    raise CalibrationFileError(f"{root}: more than {MAX_SAME_SECOND} calibration sets saved at {base}")


def _publish(root: Path, staging: Path, meta: dict, now: datetime) -> dict:
    """Rename the staging folder to a free id (another save may take the one chosen first)."""
    for _ in range(MAX_SAME_SECOND + 1):
        meta["id"] = _new_id(root, now)
        write_json(staging / "meta.json", meta)
        try:
            staging.rename(root / meta["id"])
            return meta
        except OSError:  # the id was taken meanwhile (the folder exists and is not empty)
            if not (root / meta["id"]).exists():
                raise
    raise CalibrationFileError(f"{root}: no free calibration set id")


def save_set(root: Path, group: CameraGroup, note: str = "", extra: dict | None = None) -> dict:
    """Store ``group`` as a new dated set; returns its metadata. The set's folder appears whole
    (calibration and meta.json, written in a hidden folder then renamed) or not at all.

    ``note``: at most 200 printable characters (SetTextError otherwise). ``extra``: more keys
    for meta.json (``imported_from``, ``session``, ``created_by``, or plain scalars).
    """
    root = Path(root)
    note = _checked(note, "the note", MAX_TEXT)
    now = datetime.now(UTC)
    meta = {"id": now.strftime("%Y%m%d-%H%M%S"), "created_at": now.isoformat(timespec="seconds"), "note": note,
            "cameras": group.names, "rms_px": _rms_px(group.metadata), **(extra or {})}
    meta = _record(meta, True, "calibration set")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        save_toml(group, staging / "calibration.toml")
        return _publish(root, staging, meta, now)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when renamed


def import_set(root: Path, source: Path, rig: list[str], note: str = "", name: str | None = None) -> dict:
    """Store the calibration in ``source`` (TOML or Qualisys ``.qca.txt``) as a new set for the
    cameras named ``rig``; returns its metadata, with ``mapped`` {file camera: rig camera}.

    The file's cameras are matched to the rig by name; when the names differ but the counts are
    equal, in order (a file made elsewhere names its cameras its own way). Its ``[metadata]`` is
    validated strictly (a known key of the wrong type is refused; see calibration.metadata).
    Raises :class:`CalibrationFileError` when the file cannot serve this rig, SetTextError for a
    note or name with control characters. ``name`` is the file's name as the user knows it (an
    upload is stored under another), shown in messages and kept.
    """
    name = _checked(name or Path(source).name, "the file name", MAX_FILE_NAME)
    note = _checked(note, "the note", MAX_TEXT)
    group = load_calibration(source, strict_metadata=True)
    if all(cam in group.names for cam in rig):
        cams = [group[cam] for cam in rig]
        mapped = {cam: cam for cam in rig}
    elif len(group) == len(rig):
        cams = [replace(cam, name=target) for cam, target in zip(group.cameras, rig)]
        mapped = dict(zip(group.names, rig))
    else:
        shown = ", ".join(group.names[:8]) + (", ..." if len(group) > 8 else "")
        raise CalibrationFileError(f"{name}: the file has {len(group)} camera(s) ({shown}) "
                                   f"but the rig has {len(rig)} ({', '.join(rig)})")
    meta = save_set(root, CameraGroup(cams, dict(group.metadata)), note=note, extra={"imported_from": name})
    return {**meta, "mapped": mapped}


def active_id(root: Path) -> str | None:
    """The id of the set in force, or None (no marker, or a marker that names no valid id)."""
    try:
        text = (Path(root) / "active").read_bytes()[:64].decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if SET_ID.fullmatch(text) else None


def _read_meta(root: Path, set_id: str) -> dict:
    """The set's meta.json as a typed record (lenient), or CalibrationFileError for a damaged one."""
    path = Path(root) / set_id / "meta.json"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_META_BYTES + 1)
        if len(raw) > MAX_META_BYTES:
            raise CalibrationFileError(f"{path}: larger than {MAX_META_BYTES // 1024} kB")
        text = raw.decode("utf-8")
        scan_nesting(path, text)
        data = json.loads(text)
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if isinstance(exc, CalibrationFileError):
            raise
        raise CalibrationFileError(f"{path}: damaged ({' '.join(str(exc).split())[:120]})") from None
    meta = _record(data, False, str(path))
    if meta["id"] != set_id:
        raise CalibrationFileError(f"{path}: names set {meta['id']}, not {set_id}")
    return meta


def list_sets(root: Path) -> list[dict]:
    """Every readable set's metadata, newest first, with ``active`` set on the one in force.
    A damaged set (meta.json unreadable, or naming another id) is left out with a warning."""
    root = Path(root)
    if not root.is_dir():
        return []
    current = active_id(root)
    sets = []
    for folder in root.iterdir():
        if not SET_ID.fullmatch(folder.name) or not (folder / "meta.json").is_file():
            continue
        try:
            meta = _read_meta(root, folder.name)
        except CalibrationFileError as exc:
            logger.warning("calibration set left out: %s", exc)
            continue
        sets.append({**meta, "active": meta["id"] == current})

    def newest_first(meta):
        day, time_, *n = meta["id"].split("-")
        return day, time_, int(n[0]) if n else 0

    return sorted(sets, key=newest_first, reverse=True)


def load_set(root: Path, set_id: str) -> tuple[CameraGroup, dict]:
    """The set's calibration and metadata (``active`` added). UnknownSet when there is no such
    set; CalibrationFileError when its files are damaged."""
    folder = set_dir(root, set_id)
    meta = _read_meta(root, set_id)
    return load_toml(folder / "calibration.toml"), {**meta, "active": active_id(root) == set_id}


def activate(root: Path, set_id: str, active_path: Path) -> None:
    """Make set ``set_id`` the calibration in force (atomic copy to ``active_path``).
    UnknownSet, CalibrationFileError (a damaged set), OSError (the copy cannot be written)."""
    folder = set_dir(root, set_id)
    load_toml(folder / "calibration.toml")  # refuse a damaged set before replacing anything
    active_path = Path(active_path)
    active_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(active_path, (folder / "calibration.toml").read_bytes(), mode=_mode(active_path))
    write_text(Path(root) / "active", set_id, mode=_mode(Path(root) / "active"))


def save_work_area(root: Path, active_path: Path, area: list[float] | None) -> str | None:
    """Keep the work area ``area`` ([x0, y0, x1, y1] m, checked by the caller) in the ``[metadata]``
    of the calibration in force: its set's file, then the active copy (None removes it). The
    cameras are left as they are. Returns the set's id (None when the calibration in force came
    from no set: the active file alone is changed). CalibrationFileError when there is no
    calibration in force or it cannot be written."""
    set_id = active_id(root)
    source = Path(root) / set_id / "calibration.toml" if set_id is not None else Path(active_path)
    if set_id is not None and not source.is_file():
        set_id, source = None, Path(active_path)
    if not source.is_file():
        raise CalibrationFileError("no calibration is in force: calibrate the cameras first")
    group = load_toml(source)
    metadata = {key: value for key, value in group.metadata.items() if key != WORK_AREA_KEY}
    if area is not None:
        metadata[WORK_AREA_KEY] = [float(v) for v in area]
    save_toml(CameraGroup(group.cameras, metadata), source)
    if set_id is not None:
        activate(root, set_id, active_path)
    logger.info("work area of the calibration in force%s: %s", f" ({set_id})" if set_id else "",
                area if area is not None else "removed (the default applies)")
    return set_id


def _mode(path: Path) -> int:
    """The permissions a replaced file keeps (0644 for a new one, as before atomic writes)."""
    return stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644


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
