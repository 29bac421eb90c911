"""Who may do what: the one place VSION's access rules live.

Every route, Socket.IO event, broadcast and service asks this module; nothing else compares
roles. Roles (:data:`ROLES`):

- **admin**: everything, users and the audit log included;
- **technician**: cameras and calibration; sees the free takes (camera tests) and published
  references, never trainees' attempts or results;
- **expert**: writes work cards and records their references; sees every take and every
  trainee's results;
- **trainee**: replays published cards, records and sees their own attempts only.

Rules come in two kinds: *actions* a role may take at all (:func:`allows`), and rules about one
object (a card, a take, a user's results), which take the object.
"""
from __future__ import annotations

import enum

import sqlalchemy as sa

from common.takefolder import CALIBRATE_JOB
from database.models import ROLES, JobRecord, Take, User, WorkCard, WorkCardVersion

__all__ = ["ROLES", "Action", "allows", "can_annotate_take", "can_edit_card", "card_takes_shown", "deletion_refusal",
           "may_stop_take", "promotion_refusal", "recording_kind_refusal", "reprocess_refusal", "roles_for",
           "sees_all_takes", "sees_job_of", "sees_results_of", "sees_take_of", "visible_cards", "visible_jobs", "visible_takes",
           "wizard_drive_refusal"]


class Action(enum.StrEnum):
    """What a role may do at all (object rules come on top)."""

    USE = "use"                       # the live page, published cards, own takes: every signed-in user
    RECORD = "take.record"            # start and stop takes (trainees: their own attempts)
    CALIBRATE = "calibration"         # the calibration wizard and calibration sets
    MANAGE_CAMERAS = "cameras"        # add, change, remove cameras
    AUTHOR = "workcard.author"        # write work cards and record their references
    SEE_ALL_RESULTS = "results.all"   # every take, job and trainee's results
    MANAGE_USERS = "users"            # user accounts
    READ_AUDIT = "audit"              # the audit log
    SET_UP_SITE = "site.setup"        # the onboarding checklist of a new site


_RULES: dict[Action, frozenset[str]] = {
    Action.USE: frozenset(ROLES),
    Action.RECORD: frozenset(ROLES),
    Action.CALIBRATE: frozenset({"admin", "technician"}),
    Action.MANAGE_CAMERAS: frozenset({"admin", "technician"}),
    Action.AUTHOR: frozenset({"admin", "expert"}),
    Action.SEE_ALL_RESULTS: frozenset({"admin", "expert"}),
    Action.MANAGE_USERS: frozenset({"admin"}),
    Action.READ_AUDIT: frozenset({"admin"}),
    Action.SET_UP_SITE: frozenset({"admin", "technician"}),
}


def _role(who: User | str | None) -> str | None:
    return who if isinstance(who, str) or who is None else getattr(who, "role", None)


def allows(who: User | str | None, action: Action) -> bool:
    """May ``who`` (a user or a role) take ``action`` at all?"""
    return _role(who) in _RULES[action]


def roles_for(action: Action) -> tuple[str, ...]:
    """The roles allowed ``action``, in :data:`ROLES` order."""
    return tuple(role for role in ROLES if role in _RULES[action])


# --------------------------------------------------------------------------- calibration wizard
def wizard_drive_refusal(user: User, driver_id: int | None, driver_name: str | None) -> str | None:
    """Why ``user`` may not act on the calibration wizard now (None: they may). One technician
    drives it at a time (``driver_id``/``driver_name``: who does now, None when nobody); the others
    watch until the driver hands it over, releases it, or leaves it idle."""
    if not allows(user, Action.CALIBRATE):
        return "your role may not calibrate the cameras"
    if driver_id is not None and driver_id != user.id:
        return f"{driver_name} is driving the calibration: you can watch until they hand it over or release it"
    return None


# --------------------------------------------------------------------------- work cards
def can_edit_card(user: User, card: WorkCard) -> bool:
    """May ``user`` change ``card`` (its author, or an admin)? Editors see its working copy."""
    return user.role == "admin" or (allows(user, Action.AUTHOR) and card.author_id == user.id)


def visible_cards(user: User):
    """A SQL condition on :class:`WorkCard`: admins see every card; others the published ones,
    and authors their own drafts."""
    if user.role == "admin":
        return sa.true()
    if allows(user, Action.AUTHOR):
        return sa.or_(WorkCard.version > 0, WorkCard.author_id == user.id)
    return WorkCard.version > 0


# --------------------------------------------------------------------------- takes
def sees_all_takes(user: User) -> bool:
    return allows(user, Action.SEE_ALL_RESULTS)


def visible_takes(user: User):
    """A SQL condition on :class:`Take`: the takes ``user`` may see. Trainees (and anyone not
    seeing all) see their own takes and the references of published versions; technicians
    also the free takes."""
    if sees_all_takes(user):
        return sa.true()
    published_references = sa.select(WorkCardVersion.reference_take_id)
    seen = [Take.user_id == user.id, Take.id.in_(published_references)]
    if user.role == "technician":
        seen.append(Take.kind == "free")
    return sa.or_(*seen)


def sees_take_of(viewer, owner_id: int | None, kind: str | None) -> bool:
    """May ``viewer`` (a user, or anything with its ``id`` and ``role``) know of a take of
    ``owner_id`` and ``kind`` (its id, owner, label, progress, result)? The rule of
    :func:`visible_takes` for one take, without the published references (a take being recorded
    or processed is none yet). What broadcasts about takes and jobs ask."""
    if sees_all_takes(viewer):
        return True
    if owner_id is not None and getattr(viewer, "id", None) == owner_id:
        return True
    return _role(viewer) == "technician" and kind == "free"


def card_takes_shown(user: User, take: Take, reference_in_force: str | None) -> bool:
    """Is ``take`` (of a card ``user`` sees) listed with the card for ``user``: everything for
    those who see all takes; for others their own attempts and the reference in force."""
    if sees_all_takes(user):
        return True
    return (take.user_id == user.id and take.kind == "attempt") or take.id == reference_in_force


def recording_kind_refusal(user: User, kind: str) -> str | None:
    """Why ``user`` may not record a take of ``kind`` at all (None: they may)."""
    if not allows(user, Action.RECORD):
        return "your role may not record takes"
    if user.role == "trainee" and kind != "attempt":
        return ("trainees record attempts at a published work card: open the work card, then record your "
                "attempt from its page")
    return None


def may_stop_take(user: User, owner_id: int | None) -> bool:
    """May ``user`` stop the take recording now, started by ``owner_id``? Trainees only their own."""
    return allows(user, Action.RECORD) and (user.role != "trainee" or owner_id == user.id)


def deletion_refusal(user: User, take: Take, published: WorkCardVersion | None = None,
                     card_reference_of: WorkCard | None = None) -> str | None:
    """Why ``user`` may not delete ``take`` (None: they may). ``published`` is the first published
    version whose reference it is, ``card_reference_of`` a card whose current reference it is.

    Trainees delete their own attempts, technicians the free takes they recorded, experts any take
    but a card's reference, admins any take but a published version's reference (published
    versions are kept unchanged: attempts and comparisons name them).
    """
    if user.role == "trainee":
        return None if take.kind == "attempt" and take.user_id == user.id else "trainees delete only their own attempts"
    if user.role == "technician":
        return None if take.kind == "free" and take.user_id == user.id else \
            "technicians delete only the free takes they recorded"
    if user.role not in ("admin", "expert"):
        return "your role may not delete takes"
    if published is not None:
        return (f"this take is the reference of version {published.version} of the work card "
                f"\u00ab{published.work_card.title}\u00bb (#{published.work_card_id}): a published reference is kept")
    if user.role == "expert" and card_reference_of is not None:
        return (f"this take is the reference of the work card \u00ab{card_reference_of.title}\u00bb "
                f"(#{card_reference_of.id}): choose another reference first, or ask an administrator")
    return None


def can_annotate_take(user: User, take: Take) -> bool:
    """May ``user`` change the label and notes of ``take`` (one they see): its owner, or those who
    see every take (admins, experts)."""
    return take.user_id == user.id or sees_all_takes(user)


def reprocess_refusal(user: User, take: Take, published: WorkCardVersion | None = None) -> str | None:
    """Why ``user`` may not process ``take`` (one they see) again (None: they may). ``published``
    is the first published version whose reference it is.

    Admins and experts process any take again, technicians the free takes (camera tests), and
    everyone their own takes; a published version's reference is kept as it was published.
    """
    if not allows(user, Action.USE):
        return "your role may not process takes"
    mine = take.user_id == user.id
    if not (mine or sees_all_takes(user) or (user.role == "technician" and take.kind == "free")):
        return "you may process again only your own takes"
    if published is not None:
        return (f"this take is the reference of version {published.version} of the work card "
                f"\u00ab{published.work_card.title}\u00bb: a published reference is kept as it was published")
    return None


def promotion_refusal(user: User, take: Take, card: WorkCard) -> str | None:
    """Why ``user`` may not make the free ``take`` the reference take of ``card`` (None: they may):
    an expert (or an admin) who authors the card."""
    if not allows(user, Action.AUTHOR):
        return "only experts and admins choose a work card's reference take"
    if not can_edit_card(user, card):
        return "only the card's author or an admin may give it a reference take"
    return None


def visible_jobs(user: User):
    """A SQL condition on :class:`JobRecord`: those who see every take see every job; others the
    jobs of their own takes and the jobs they queued, and those who calibrate the calibrations
    from a take (the calibration page follows them)."""
    if sees_all_takes(user):
        return sa.true()
    mine = sa.or_(JobRecord.take_id.in_(sa.select(Take.id).where(Take.user_id == user.id)),
                  JobRecord.queued_by_id == user.id)
    return sa.or_(mine, JobRecord.kind == CALIBRATE_JOB) if allows(user, Action.CALIBRATE) else mine


def sees_job_of(viewer, owner_id: int | None, queued_by: int | None, kind: str | None = None) -> bool:
    """May ``viewer`` (a user, or anything with its ``id`` and ``role``) hear of a job of ``kind``
    on a take of ``owner_id`` that ``queued_by`` queued? The rule of :func:`visible_jobs` for one job."""
    if sees_all_takes(viewer) or (kind == CALIBRATE_JOB and allows(viewer, Action.CALIBRATE)):
        return True
    me = getattr(viewer, "id", None)
    return me is not None and me in (owner_id, queued_by)


def sees_results_of(viewer: User, user: User) -> bool:
    """May ``viewer`` see ``user``'s attempts and scores (their own, or everyone's for staff)?"""
    return viewer.id == user.id or allows(viewer, Action.SEE_ALL_RESULTS)
