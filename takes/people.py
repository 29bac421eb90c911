"""The people of a processed take, and choosing its worker after the take.

A processed take with several people in view has ``processed/people.json`` (who they are, who
the worker is, the problems met) and one ``pose3d_p<N>.csv`` per person. The take page shows
them (:func:`people_view`); a user who may process the take again may choose another worker
(:func:`person_choice_params`): the choice is kept in ``take.json`` as the places that person
stood (``person_hint``, so that processing the take again from scratch finds them again), and a
``process`` job re-exports every output for that person from the take's own keypoints, then
scores it again (ergonomics, and for an attempt its comparison).

Services run inside an app context and raise :class:`~common.errors.ServiceError` (or its
subclasses from :mod:`takes.library` and :mod:`takes.service`) with a message for the user.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from common.errors import ServiceError
from common.files import write_json
from common.takefolder import PROCESSED_DIR, TAKE_JSON
from database.models import User
from reconstruction.exports import ExportError, read_pose3d_csv
from reconstruction.interest import hint_from
from takes import files as takefiles
from takes.library import reprocess_params

logger = logging.getLogger(__name__)

PEOPLE_FILE = "people.json"
MAX_PEOPLE_SHOWN = 16


def read_people(folder: Path) -> dict:
    """``processed/people.json`` of a take folder, or TakeFileMissing (a take with one person, or
    not processed yet)."""
    try:
        data = json.loads((folder / PROCESSED_DIR / PEOPLE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise takefiles.TakeFileMissing(PEOPLE_FILE) from None
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise takefiles.TakeFileMissing(PEOPLE_FILE)
    return data


def _points(folder: Path, person: int) -> list | None:
    try:
        points, _ = read_pose3d_csv(folder / PROCESSED_DIR / f"pose3d_p{person}.csv")
    except (ExportError, OSError):
        return None
    return takefiles.rounded_frames(points)


def people_view(folder: Path) -> dict:
    """Everybody of a processed take for its page: ``people`` (id, frames, seconds, whether they
    are the worker, percent of the take in the work area, limb lengths), ``person_of_interest``,
    ``selection`` (how the worker was chosen), ``work_area``, ``problems`` ({code, message}),
    ``choice`` (who chose the worker in the replay, if anybody) and ``points``: per person id, 33
    ``[x, y, z]`` m (or None) per frame. Without people outputs (one person in view, or not
    processed yet): nobody, and the report's problems if any."""
    try:
        data = read_people(folder)
    except takefiles.TakeFileMissing:
        section = takefiles.read_report(folder).get("people")
        data = {**(section if isinstance(section, dict) else {}), "people": []}
    listing = [p for p in data["people"] if isinstance(p, dict) and isinstance(p.get("id"), int)][:MAX_PEOPLE_SHOWN]
    points = {str(p["id"]): _points(folder, p["id"]) for p in listing}
    choice = takefiles.read_take_json(folder).get("person_choice")
    return {"people": listing, "person_of_interest": data.get("person_of_interest"),
            "selection": data.get("selection"), "work_area": data.get("work_area"),
            "problems": [p for p in data.get("problems") or [] if isinstance(p, dict)],
            "fps": data.get("fps"), "choice": choice if isinstance(choice, dict) else None, "points": points}


def _keep_choice(folder: Path, person: int | None, user: User) -> None:
    """Say in take.json where the chosen person stood (``person_hint``) and who chose them;
    forget both for ``None`` (the work area decides again)."""
    data = takefiles.read_take_json(folder)
    if not data:
        raise ServiceError("this take's take.json cannot be read: it cannot be processed again")
    if person is None:
        data.pop("person_hint", None)
        data.pop("person_choice", None)
    else:
        points, times = read_pose3d_csv(folder / PROCESSED_DIR / f"pose3d_p{person}.csv")
        data["person_hint"] = hint_from(points, times)
        data["person_choice"] = {"person": person, "by": user.username,
                                 "at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json(folder / TAKE_JSON, data)


def person_choice_params(user: User, take_id: str, person: int | None, takes_dir: Path | str,
                         calibration_path: Path | str) -> dict:
    """Make ``person`` (an id of the take's ``people.json``; None: the work area decides) the
    worker of take ``take_id``, asked by ``user``; returns the parameters of the ``process`` job
    that re-exports the take for them.

    The rules of processing a take again apply (:func:`takes.library.reprocess_params`: who may,
    and not while it is recorded or processed). Raises ServiceError for a take without people
    outputs or a person it does not have.
    """
    params = reprocess_params(user, take_id, takes_dir, calibration_path)
    folder = Path(params["take_dir"])
    try:
        known = {p.get("id") for p in read_people(folder)["people"] if isinstance(p, dict)}
    except takefiles.TakeFileMissing:
        raise ServiceError("this take has no people to choose from: process it first (takes recorded with one "
                           "person in view have nobody else)") from None
    if person is not None and person not in known:
        listing = ", ".join(str(i) for i in sorted(k for k in known if isinstance(k, int))) or "nobody"
        raise ServiceError(f"person {person} is not in this take (it has {listing})")
    try:
        _keep_choice(folder, person, user)
    except (ExportError, OSError) as exc:
        raise ServiceError(f"this take's outputs cannot be read or written ({exc})") from None
    logger.info("take %s: %s (by %s)", take_id, f"person {person} chosen as the worker" if person is not None
                else "the work area chooses the worker again", user.username)
    return {**params, "person": person, "choose_again": True}
