"""Sign-in attempts, and wrong passwords throttled per account and client address.

A lock per account let anyone lock anyone out, the only administrator included: five wrong
passwords from any machine. Here the count is per (account, client address): past
``throttle_after`` wrong passwords from one address, that address waits before its next try for
this account, 1 s, then twice as long after each further wrong password, up to ``max_wait_s``.
While it waits its tries are refused unchecked (a guess is never confirmed), and the same
account signs in normally from any other address. A right password from the address clears its
count; an administrator clears them all (``PATCH /api/users/<id>`` ``unlock``). Failures older
than :data:`FORGET_AFTER` are forgotten.

A name that matches no account gets the same answer as a wrong password and is never recorded;
an account whose address must wait says so, which tells that the name exists: the usual price of
telling a real user why their password is refused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accounts.users import by_name, verify_password
from database.base import db
from database.models import LoginThrottle, User

logger = logging.getLogger(__name__)

FIRST_WAIT_S = 1.0
FORGET_AFTER = timedelta(days=1)
MAX_ADDRESS = 45  # characters of a client address kept (an IPv6 address)


@dataclass(frozen=True)
class LoginResult:
    """What a sign-in attempt gave.

    ``reason``: ``ok``, ``unknown`` (no such name: never echo it, it may be a mistyped password),
    ``password``, ``disabled`` or ``throttled`` (this address must wait ``retry_after_s`` s; the
    password was not checked). ``account`` is the existing account the name refers to,
    ``failures`` this address's count of wrong passwords for it, ``throttle_started`` whether
    this attempt made the address wait for the first time.
    """

    reason: str
    user: User | None = None
    account: User | None = None
    failures: int = 0
    retry_after_s: float = 0.0
    throttle_started: bool = False


def wait_s(failures: int, throttle_after: int, max_wait_s: float) -> float:
    """How long an address waits after its ``failures``-th wrong password (0 before ``throttle_after``)."""
    if failures < throttle_after:
        return 0.0
    return min(FIRST_WAIT_S * 2.0 ** min(failures - throttle_after, 40), max_wait_s)


def _row(user: User, address: str) -> LoginThrottle | None:
    return db.session.scalars(sa.select(LoginThrottle).filter_by(user_id=user.id, address=address)).one_or_none()


def _count_failure(user: User, address: str, now: datetime) -> LoginThrottle:
    """Add one wrong password for (user, address) in SQL, so concurrent attempts all count."""
    stale = now - FORGET_AFTER
    for _ in range(3):
        updated = db.session.execute(
            sa.update(LoginThrottle).where(LoginThrottle.user_id == user.id, LoginThrottle.address == address)
            .values(failures=sa.case((LoginThrottle.last_failure_at < stale, 1), else_=LoginThrottle.failures + 1),
                    last_failure_at=now)).rowcount
        if updated:
            break
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(user_id=user.id, address=address, failures=1, last_failure_at=now))
            break
        except IntegrityError:  # another attempt made the row meanwhile: count on it
            continue
    db.session.flush()
    row = _row(user, address)
    db.session.refresh(row)
    return row


def login_attempt(username: str, password: str, address: str | None, throttle_after: int = 5,
                  max_wait_s: float = 900.0, now: datetime | None = None) -> LoginResult:
    """Check a sign-in from client ``address`` and keep that address's count of wrong passwords
    for the account (see the module). Success sets ``last_login_at``. Commits."""
    now = now or datetime.now(UTC)
    address = (address or "?")[:MAX_ADDRESS]
    user = by_name(username)
    row = _row(user, address) if user is not None else None
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        return LoginResult("throttled", account=user, failures=row.failures,
                           retry_after_s=(row.blocked_until - now).total_seconds())
    right = verify_password(user, password)
    if user is None:
        return LoginResult("unknown")
    if not user.active:
        return LoginResult("disabled", account=user, failures=row.failures if row else 0)
    if right:
        if row is not None:
            db.session.delete(row)
        user.last_login_at = now
        db.session.commit()
        return LoginResult("ok", user=user, account=user)
    row = _count_failure(user, address, now)
    wait = wait_s(row.failures, throttle_after, max_wait_s)
    row.blocked_until = now + timedelta(seconds=wait) if wait else None
    db.session.commit()
    if row.failures == throttle_after:
        logger.warning("user %s: %d wrong passwords from %s, which now waits between tries", user.username,
                       row.failures, address)
    return LoginResult("password", account=user, failures=row.failures, retry_after_s=wait,
                       throttle_started=row.failures == throttle_after)


def throttles(user: User, now: datetime | None = None) -> list[dict]:
    """The addresses counting wrong passwords for ``user`` (for administrators): address,
    failures, last failure, and until when it waits (None: it may try now)."""
    now = now or datetime.now(UTC)
    rows = db.session.scalars(sa.select(LoginThrottle).filter_by(user_id=user.id)
                              .order_by(LoginThrottle.last_failure_at.desc())).all()
    return [{"address": r.address, "failures": r.failures, "last_failure_at": r.last_failure_at,
             "waits_until": r.blocked_until if r.blocked_until and r.blocked_until > now else None} for r in rows
            if r.last_failure_at >= now - FORGET_AFTER]
