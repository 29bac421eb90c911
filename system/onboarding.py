"""A new site's first day: the onboarding checklist administrators and technicians see until the
site is set up.

Steps (:data:`STEPS`), each done when:

1. ``cameras``: at least one camera, and every camera connected (the camera group's health);
2. ``board``: the calibration board was printed (a site flag, :func:`mark_onboarding_step`,
   set when the board's print file is downloaded);
3. ``calibration``: a saved calibration set is in force;
4. ``workcard``: a first work card exists;
5. ``users``: more accounts than the first administrator.

The checklist shows by itself to those the policy allows (:data:`accounts.policy.Action.SET_UP_SITE`)
until every step is done; each user may dismiss it, and reopen it (then it shows even once
complete, until dismissed again). Site facts are :class:`~database.models.SiteFlag` rows, the
user's choice a :class:`~database.models.UserFlag`. Services run inside an app context and commit.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accounts.policy import Action, allows
from common.errors import ServiceError
from database.base import db
from database.models import SiteFlag, User, UserFlag, WorkCard
from takes.calibrations import active_calibration_set

logger = logging.getLogger(__name__)

STEPS = ("cameras", "board", "calibration", "workcard", "users")
FLAG_STEPS = ("board",)   # steps a user action marks done (the others are read from the site's state)
USER_KEY = "onboarding"   # UserFlag: "dismissed" or "open"
DISMISSED, OPEN = "dismissed", "open"


def _site_key(step: str) -> str:
    return f"onboarding.{step}"


def _cameras_step(cameras: list[dict]) -> dict:
    connected = sum(1 for camera in cameras if camera.get("status") == "connected")
    return {"key": "cameras", "done": bool(cameras) and connected == len(cameras),
            "detail": {"cameras": len(cameras), "connected": connected}}


def _flag_step(step: str) -> dict:
    flag = db.session.get(SiteFlag, _site_key(step))
    detail = dict(flag.value) if flag is not None and isinstance(flag.value, dict) else {}
    return {"key": step, "done": flag is not None, "detail": detail}


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _steps(cameras: list[dict]) -> list[dict]:
    active = active_calibration_set()
    cards, users = _count(WorkCard), _count(User)
    return [_cameras_step(cameras), _flag_step("board"),
            {"key": "calibration", "done": active is not None, "detail": {"set": active.id if active else None}},
            {"key": "workcard", "done": cards > 0, "detail": {"work_cards": cards}},
            {"key": "users", "done": users > 1, "detail": {"users": users}}]


def _choice(user: User) -> str | None:
    flag = db.session.get(UserFlag, (user.id, USER_KEY))
    return flag.value if flag is not None else None


def onboarding_state(user: User, cameras: list[dict]) -> dict:
    """The checklist as ``user`` sees it, given the cameras' health (``VideoProcessor.health()``):
    ``{"steps": [{"key", "done", "detail"}], "done": n, "total": 5, "complete", "dismissed", "show"}``.
    ``show``: the page shows it now (allowed role, and reopened, or neither dismissed nor complete)."""
    steps = _steps(cameras)
    done = sum(step["done"] for step in steps)
    choice = _choice(user)
    complete = done == len(steps)
    show = allows(user, Action.SET_UP_SITE) and (choice == OPEN or (choice is None and not complete))
    return {"steps": steps, "done": done, "total": len(steps), "complete": complete,
            "dismissed": choice == DISMISSED, "show": show}


def _check(user: User) -> None:
    if not allows(user, Action.SET_UP_SITE):
        raise ServiceError("only administrators and technicians set up the site")


def mark_onboarding_step(user: User, step: str) -> SiteFlag:
    """Mark the site step ``step`` (one of :data:`FLAG_STEPS`, e.g. ``"board"`` when the board's
    print file is downloaded) done for the whole site, by ``user``. Marking it again keeps the
    first time. Raises ServiceError for another step or a role that does not set up the site."""
    _check(user)
    if step not in FLAG_STEPS:
        raise ServiceError(f"unknown onboarding step {step!r}: use one of {', '.join(FLAG_STEPS)}")
    flag = db.session.get(SiteFlag, _site_key(step))
    if flag is None:
        flag = SiteFlag(key=_site_key(step), value={"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                                    "by": user.username}, updated_by_id=user.id)
        db.session.add(flag)
        try:
            db.session.commit()
        except IntegrityError:  # marked by another request meanwhile: keep that one
            db.session.rollback()
            return db.session.get(SiteFlag, _site_key(step))
        logger.info("onboarding: step %s done by %s", step, user.username)
    return flag


def set_onboarding_choice(user: User, shown: bool) -> None:
    """``user`` dismisses the checklist (``shown`` False) or reopens it (True)."""
    _check(user)
    value = OPEN if shown else DISMISSED
    for attempt in (1, 2):
        flag = db.session.get(UserFlag, (user.id, USER_KEY))
        if flag is None:
            db.session.add(UserFlag(user_id=user.id, key=USER_KEY, value=value, updated_at=datetime.now(UTC)))
        else:
            flag.value, flag.updated_at = value, datetime.now(UTC)
        try:
            db.session.commit()
            return
        except IntegrityError:  # the same user's other tab meanwhile: update that row
            db.session.rollback()
            if attempt == 2:
                raise
