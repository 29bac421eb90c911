"""User accounts: names, passwords (argon2 hashes), sessions, administration.

Names are compared without regard to case or Unicode form (:func:`name_key`: NFKC, case
folded), so ``ADMIN`` or a full-width ``ａｄｍｉｎ`` cannot be created beside ``admin`` and sign
in as it. Passwords are checked by :func:`accounts.passwords.password_problem`. Wrong passwords
are throttled per account and client address (:mod:`accounts.throttle`).
"""
from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accounts.passwords import password_problem
from common.errors import ServiceError
from database.base import db
from database.models import ROLES, LoginSession, LoginThrottle, User, name_key

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("vsion-no-such-user")


class UserError(ServiceError):
    """A user request that cannot be honoured; the message says why."""


def normal_name(name) -> str | None:
    """``name`` in Unicode NFKC form and stripped, or None when it cannot be a user name."""
    if not isinstance(name, str) or len(name) > 256:
        return None
    name = unicodedata.normalize("NFKC", name).strip()
    return name if USERNAME.match(name) else None


def create_user(username: str, password: str, role: str) -> User:
    """Create and commit a user (the name stored in NFKC form). Raises :class:`UserError` on a
    bad name or role, a name taken (whatever its case), or a weak password (the reason)."""
    name = normal_name(username)
    if name is None:
        raise UserError("user name: 2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    taken = db.session.execute(db.select(User).filter_by(username_key=name_key(name))).scalar_one_or_none()
    if taken is not None:
        raise UserError(f"user {name!r} already exists" + (f" (as {taken.username!r}: names are compared "
                                                            "without regard to case)" if taken.username != name else ""))
    problem = password_problem(password, (name,))
    if problem:
        raise UserError(problem)
    user = User(username=name, username_key=name_key(name), password_hash=_hasher.hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    logger.info("user %s created with role %s", name, role)
    return user


def by_name(username) -> User | None:
    """The account called ``username`` (its exact name, else the same name in another case or
    form); None, without asking the database, for a string that cannot be a user name (control
    or NUL characters, too long: PostgreSQL refuses NUL)."""
    name = normal_name(username)
    if name is None:
        return None
    exact = db.session.execute(db.select(User).filter_by(username=name)).scalar_one_or_none()
    return exact or db.session.execute(db.select(User).filter_by(username_key=name_key(name))).scalar_one_or_none()


def verify_password(user: User | None, password: str) -> bool:
    """Check ``password`` against the user's hash, or a dummy one: the same work either way. A
    right password with an outdated hash is hashed again (committed by the caller)."""
    try:
        right = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "") and user is not None
    except (VerificationError, InvalidHashError):
        return False
    if right and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return right


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None (timing does not reveal which was
    wrong). A check only: no wrong password is counted (see :func:`accounts.throttle.login_attempt`)."""
    user = by_name(username)
    if not verify_password(user, password) or not user.active:
        return None
    db.session.commit()  # a hash made again with today's parameters
    return user


def user_exists(username: str) -> bool:
    return by_name(username) is not None


def list_users() -> list[User]:
    """Every account, by name."""
    return list(db.session.execute(db.select(User).order_by(User.username)).scalars())


def get_user(user_id: int) -> User | None:
    """The account with this id, or None (also for an id no database column can hold)."""
    if not isinstance(user_id, int) or not 1 <= user_id < 2**31:
        return None
    return db.session.get(User, user_id)


def open_session(user: User, lifetime_hours: float) -> str:
    """Record a new signed-in session of ``user`` for at most ``lifetime_hours``; returns its id
    (for the session cookie). Sessions past their end are forgotten on the way."""
    now = datetime.now(UTC)
    db.session.execute(sa.delete(LoginSession).where(LoginSession.expires_at < now))
    session_id = secrets.token_urlsafe(32)
    db.session.add(LoginSession(id=session_id, user_id=user.id, created_at=now,
                                expires_at=now + timedelta(hours=lifetime_hours)))
    db.session.commit()
    return session_id


def session_open(user: User, session_id) -> bool:
    """Whether the session ``session_id`` of ``user`` is still open (not logged out nor revoked)."""
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 64:
        return False
    row = db.session.get(LoginSession, session_id)
    return row is not None and row.user_id == user.id and row.expires_at > datetime.now(UTC)


def close_sessions(user: User | None = None, session_id: str | None = None) -> None:
    """End one session (``session_id``), or every session of ``user``."""
    query = sa.delete(LoginSession)
    query = query.where(LoginSession.id == session_id) if session_id else query.where(LoginSession.user_id == user.id)
    db.session.execute(query)
    db.session.commit()


@dataclass(frozen=True)
class Change:
    """One change :func:`update_user` made: an audit action (``user.role``...) and its details
    (names and values only, never a password)."""

    action: str
    detail: dict


def _active_admins() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(User.role == "admin", User.active.is_(True)))


def update_user(user: User, actor: User, role: str | None = None, active: bool | None = None,
                password: str | None = None, unlock: bool = False) -> list[Change]:
    """Apply an administrator's changes to ``user`` and commit them all, or none.

    Raises :class:`UserError` on a bad role or password, when ``actor`` would demote or disable
    themself, or when no active administrator would be left. Returns the changes actually made
    (a field already at the asked value is no change).
    """
    changes: list[Change] = []
    if role is not None and role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    problem = password_problem(password, (user.username,)) if password is not None else None
    if problem:
        raise UserError(problem)
    if user.id == actor.id and ((role is not None and role != "admin") or active is False):
        raise UserError("you cannot demote or disable your own account: ask another administrator")
    was_admin = user.role == "admin" and user.active
    if role is not None and role != user.role:
        changes.append(Change("user.role", {"username": user.username, "old": user.role, "new": role}))
        user.role = role
    if active is not None and active != user.active:
        changes.append(Change("user.enable" if active else "user.disable", {"username": user.username}))
        user.active = active
    if password is not None:
        user.password_hash = _hasher.hash(password)
        changes.append(Change("user.password_reset", {"username": user.username}))
    if any(c.action in ("user.disable", "user.password_reset") for c in changes):
        # The account's open sessions end (a role change applies to them at their next request).
        db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id))
    throttles = db.session.scalars(sa.select(LoginThrottle).where(LoginThrottle.user_id == user.id)).all() \
        if unlock else []
    if throttles:  # every address may try again at once
        changes.append(Change("user.unlock", {"username": user.username, "addresses": len(throttles),
                                              "failed_logins": sum(t.failures for t in throttles)}))
        for row in throttles:
            db.session.delete(row)
    # Counted after the change, in the same transaction, so two administrators demoting each
    # other at once cannot both succeed.
    db.session.flush()
    if was_admin and _active_admins() == 0:
        db.session.rollback()
        raise UserError(f"{user.username} is the last active administrator: make another user "
                        "administrator first")
    db.session.commit()
    for change in changes:
        logger.info("user %s: %s by %s", user.username, change.action, actor.username)
    return changes
