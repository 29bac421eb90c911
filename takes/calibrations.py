"""The calibration sets mirrored in the database (the set folders of :mod:`calibration.store`
stay the source): takes name the set they were recorded with."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from calibration.store import SET_ID, list_sets
from database.base import db
from database.models import CalibrationSet, User


def _set_time(value) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def sync_calibration_sets(root: Path | str, active_id: str | None) -> list[CalibrationSet]:
    """Mirror the calibration sets saved under ``root`` (``calibration/store.py``) in the database.

    Sets are added or updated from their ``meta.json``; ``active_id`` is marked active and
    every other set inactive. Rows of sets no longer on disk are kept (takes name them).
    Returns the sets on disk, newest first.
    """
    metas = [meta for meta in list_sets(Path(root)) if SET_ID.fullmatch(meta["id"])]
    for attempt in (1, 2):
        users = {}
        rows = []
        for meta in metas:
            row = db.session.get(CalibrationSet, meta["id"])
            if row is None:
                row = CalibrationSet(id=meta["id"], created_at=_set_time(meta.get("created_at")))
                creator = meta.get("created_by")
                if isinstance(creator, str):
                    users.setdefault(creator, db.session.scalars(sa.select(User.id).filter_by(username=creator)).first())
                    row.created_by_id = users[creator]
                db.session.add(row)
            row.note = str(meta.get("note") or "")[:200]
            row.cameras = [str(name) for name in meta.get("cameras") or []]
            rms = meta.get("rms_px")
            row.rms = {str(k): v for k, v in rms.items()} if isinstance(rms, dict) else {}
            row.active = meta["id"] == active_id
            rows.append(row)
        on_disk = [meta["id"] for meta in metas]
        db.session.execute(sa.update(CalibrationSet).where(CalibrationSet.id.not_in(on_disk), CalibrationSet.active)
                           .values(active=False))
        try:
            db.session.commit()
            return rows
        except IntegrityError:
            db.session.rollback()  # another process added the same set meanwhile: update it instead
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def active_calibration_set() -> CalibrationSet | None:
    """The set marked active by the last :func:`sync_calibration_sets`, if any."""
    return db.session.scalars(sa.select(CalibrationSet).filter_by(active=True)).first()
