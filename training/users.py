"""User accounts: creation and password checks (argon2)."""
from __future__ import annotations

import logging
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from training.db import db
from training.models import ROLES, User

logger = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Checked against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("vsion-no-such-user")


class UserError(ValueError):
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


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None (timing does not reveal which was wrong)."""
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def user_exists(username: str) -> bool:
    return db.session.execute(db.select(User.id).filter_by(username=username)).first() is not None


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)
