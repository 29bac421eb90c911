"""User accounts: creation, password checks (argon2), lockout after repeated failures, administration.

Lockout trade-off: a name that matches no account always gets the same answer as a wrong
password, so the login form does not tell which names exist; an existing account that is
locked says so (and until when), whatever password is typed, so a locked account does not
reveal whether a guess was right. Saying "locked" does reveal that the name exists: the
usual price for telling a real user why their right password is refused.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accounts.schemas import MIN_PASSWORD
from common.errors import ServiceError
from database.base import db
from database.models import ROLES, LoginSession, User

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("vsion-no-such-user")


class UserError(ServiceError):
    """A user request that cannot be honoured; the message says why."""


def create_user(username: str, password: str, role: str) -> User:
    """Create and commit a user. Raises :class:`UserError` on a bad name, role or password."""
    if not USERNAME.match(username or ""):
        raise UserError("user name: 2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    if db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none():
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    logger.info("user %s created with role %s", username, role)
    return user


def _by_name(username) -> User | None:
    """The account called ``username``; None, without asking the database, for a string that
    cannot be a user name (control or NUL characters, too long: PostgreSQL refuses NUL)."""
    if not isinstance(username, str) or not USERNAME.match(username):
        return None
    return db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()


def _verify(user: User | None, password: str) -> bool:
    """Check ``password`` against the user's hash, or a dummy one: the same work either way."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "") and user is not None
    except (VerificationError, InvalidHashError):
        return False


def _is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def authenticate(username: str, password: str) -> User | None:
    """The active, unlocked user with this name and password, or None (timing does not reveal
    which was wrong). A check only: no failure is counted (see :func:`login_attempt`)."""
    user = _by_name(username)
    if not _verify(user, password) or not user.active or _is_locked(user, datetime.now(UTC)):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt gave.

    ``user`` is set only on success. ``account`` is the existing account the name refers to
    (None for an unknown name: never echo that name anywhere, it may be a mistyped password).
    ``reason``: ``ok``, ``unknown``, ``password``, ``disabled`` or ``locked``. ``locked_until``
    (UTC) is set when the account is locked now; ``lock_started`` when this attempt locked it.
    """

    reason: str
    user: User | None = None
    account: User | None = None
    failures: int = 0
    locked_until: datetime | None = None
    lock_started: bool = False


def login_attempt(username: str, password: str, max_failures: int = 5, lock_minutes: float = 15,
                  now: datetime | None = None) -> LoginResult:
    """Check a login and keep the account's count of consecutive wrong passwords.

    After ``max_failures`` wrong passwords in a row the account is locked for ``lock_minutes``;
    while locked, every password (the right one too) is refused. A lock that has run out is
    forgotten (count back to 0). Success resets the count and sets ``last_login_at``. The
    password hash is checked in every case, so timing does not tell the cases apart. Counts are
    updated in SQL (``failed_logins + 1``) so concurrent attempts are all counted.
    """
    now = now or datetime.now(UTC)
    user = _by_name(username)
    right = _verify(user, password)
    if user is None:
        return LoginResult("unknown")
    if user.locked_until is not None and not _is_locked(user, now):  # the lock ran out: a fresh start
        user.locked_until, user.failed_logins = None, 0
        db.session.commit()
    if not user.active:
        return LoginResult("disabled", account=user, failures=user.failed_logins)
    if _is_locked(user, now):
        return LoginResult("locked", account=user, failures=user.failed_logins, locked_until=user.locked_until)
    if right:
        user.failed_logins, user.last_login_at = 0, now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        db.session.commit()
        return LoginResult("ok", user=user, account=user)
    db.session.execute(sa.update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    db.session.commit()
    db.session.refresh(user)
    if user.failed_logins < max_failures:
        return LoginResult("password", account=user, failures=user.failed_logins)
    until = now + timedelta(minutes=lock_minutes)
    # Only the attempt that sets the lock starts it (and is audited as such), even under concurrency.
    started = db.session.execute(sa.update(User).where(User.id == user.id, User.locked_until.is_(None))
                                 .values(locked_until=until)).rowcount == 1
    db.session.commit()
    db.session.refresh(user)
    if started:
        logger.warning("user %s locked until %s after %d wrong passwords", user.username,
                       until.isoformat(timespec="seconds"), user.failed_logins)
    return LoginResult("locked", account=user, failures=user.failed_logins, locked_until=user.locked_until,
                       lock_started=started)


def user_exists(username: str) -> bool:
    return _by_name(username) is not None


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


def is_locked(user: User, now: datetime | None = None) -> bool:
    """Whether ``user`` may not log in now because of repeated wrong passwords."""
    return _is_locked(user, now or datetime.now(UTC))


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
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
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
    if unlock and (user.locked_until is not None or user.failed_logins):
        changes.append(Change("user.unlock", {"username": user.username, "failed_logins": user.failed_logins}))
        user.locked_until, user.failed_logins = None, 0
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
