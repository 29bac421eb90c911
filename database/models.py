"""Database models: users, calibration sets, work cards (steps, published versions), takes, their
jobs, comparisons, and the site's and users' flags.

Portable to SQLite and PostgreSQL: JSON columns, string enums checked by the database,
datetimes stored in UTC and always returned timezone-aware. The schema itself is made by
the migrations in ``migrations/``; a change here needs a new revision there.
"""
from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database.base import db

ROLES = ("admin", "technician", "expert", "trainee")
CARD_STATUSES = ("draft", "published")
TAKE_KINDS = ("reference", "attempt", "free")
TAKE_STATUSES = ("recording", "complete", "incomplete", "interrupted")
PROCESSING = ("none", "queued", "running", "done", "failed", "cancelled")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
JOB_FAILURES = ("input", "crash", "cancelled")
MAX_LABEL, MAX_NOTES = 120, 2_000


def _now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset, so it is stored as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: VSION stores timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    """A string column limited to ``values`` by a CHECK constraint (no native enum type to migrate)."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, validate_strings=True,
                   length=16)


def name_key(name: str) -> str:
    """The form two user names are compared in: NFKC, case folded ("ADMIN" and "ａｄｍｉｎ" are "admin")."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _username_key(context) -> str:
    return name_key(context.get_current_parameters()["username"])


class User(db.Model):
    """A person who logs in. ``role`` is one of :data:`ROLES`; the password is an argon2 hash.

    Implements the four attributes Flask-Login expects, so the web layer can log it in.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # The name compared (:func:`name_key`), so "ADMIN" cannot join "admin"; made from username by default.
    username_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False, default=_username_key)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class CalibrationSet(db.Model):
    """A saved calibration (mirror of ``calibration/sets/<id>/meta.json``; the folder stays the source)."""

    __tablename__ = "calibration_sets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the store's set id, YYYYmmdd-HHMMSS[-n]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    note: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    cameras: Mapped[list] = mapped_column(JSON, default=list, nullable=False)   # camera names
    rms: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)       # camera name -> reprojection RMS, px
    active: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    created_by: Mapped[User | None] = relationship()


class WorkCard(db.Model):
    """A task to learn: the working copy an author edits, plus ``version``, the last published one.

    ``status`` is ``draft`` while the working copy may change and ``published`` when it is the
    version in force. ``version`` 0 means never published; a card revised after publication
    is a draft again while its last :class:`WorkCardVersion` stays in force for trainees.
    """

    __tablename__ = "work_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    tags: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    status: Mapped[str] = mapped_column(_choice("card_status", CARD_STATUSES), default="draft", nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # The tables reference each other: this key is added after ``takes`` exists.
    reference_take_id: Mapped[str | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL", use_alter=True), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship()
    reference_take: Mapped[Take | None] = relationship(foreign_keys=[reference_take_id], post_update=True)
    steps: Mapped[list[WorkCardStep]] = relationship(
        back_populates="work_card", order_by="WorkCardStep.position", cascade="all, delete-orphan")
    versions: Mapped[list[WorkCardVersion]] = relationship(
        back_populates="work_card", order_by="WorkCardVersion.version", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<WorkCard {self.id} {self.title!r} v{self.version} {self.status}>"


class WorkCardStep(db.Model):
    """One step of a card's working copy; ``start_s``/``end_s`` are on the reference take's timeline (s)."""

    __tablename__ = "work_card_steps"
    __table_args__ = (
        UniqueConstraint("work_card_id", "position"),
        CheckConstraint("start_s >= 0 AND end_s > start_s", name="times"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_card_id: Mapped[int] = mapped_column(ForeignKey("work_cards.id", ondelete="CASCADE"), index=True,
                                              nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # 1, 2, ... in the order performed
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    instructions: Mapped[str] = mapped_column(Text, default="", nullable=False)
    start_s: Mapped[float] = mapped_column(Float, nullable=False)
    end_s: Mapped[float] = mapped_column(Float, nullable=False)
    # What the cameras cannot see, entered by the expert (scoring.inputs.StepInputs: load, coupling,
    # a lift's frequency...); None: the defaults.
    ergonomics: Mapped[dict | None] = mapped_column(JSON)

    work_card: Mapped[WorkCard] = relationship(back_populates="steps")

    def to_dict(self) -> dict:
        return {"position": self.position, "name": self.name, "instructions": self.instructions,
                "start_s": self.start_s, "end_s": self.end_s, "ergonomics": self.ergonomics}


class WorkCardVersion(db.Model):
    """A published version of a card, kept unchanged: ``snapshot`` holds title, description, tags,
    steps and reference take as they were published (attempts and comparisons name the version)."""

    __tablename__ = "work_card_versions"
    __table_args__ = (UniqueConstraint("work_card_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_card_id: Mapped[int] = mapped_column(ForeignKey("work_cards.id", ondelete="CASCADE"), index=True,
                                              nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    snapshot: Mapped[dict] = mapped_column(JSON, nullable=False)
    # Also in the snapshot; a column so a published reference can be found (and not deleted).
    reference_take_id: Mapped[str] = mapped_column(ForeignKey("takes.id"), index=True, nullable=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    work_card: Mapped[WorkCard] = relationship(back_populates="versions")


class Take(db.Model):
    """One recording (``data_dir/takes/<id>/``): who made it, for which card, and its processing state.

    ``kind`` is ``reference`` (an expert's model performance), ``attempt`` (a trainee's try at a
    published card) or ``free``. ``metrics`` is the processing report's summary.
    """

    __tablename__ = "takes"
    __table_args__ = (CheckConstraint("kind = 'free' OR work_card_id IS NOT NULL", name="card_for_kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. 20261121-105547-5003
    work_card_id: Mapped[int | None] = mapped_column(ForeignKey("work_cards.id"), index=True)
    work_card_version: Mapped[int | None] = mapped_column(Integer)  # the published version an attempt followed
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(_choice("take_kind", TAKE_KINDS), default="free", nullable=False)
    calibration_set_id: Mapped[str | None] = mapped_column(
        ForeignKey("calibration_sets.id", ondelete="SET NULL"), index=True)
    folder: Mapped[str] = mapped_column(String(500), nullable=False)  # relative to data_dir when inside it
    files: Mapped[list] = mapped_column(JSON, default=list, nullable=False)  # [{camera, file, timestamps, frames}]
    status: Mapped[str] = mapped_column(_choice("take_status", TAKE_STATUSES), default="recording", nullable=False)
    processing: Mapped[str] = mapped_column(_choice("processing", PROCESSING), default="none", nullable=False)
    processing_message: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict | None] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True, nullable=False)
    label: Mapped[str | None] = mapped_column(String(MAX_LABEL))    # the user's name for it (given at start)
    notes: Mapped[str] = mapped_column(Text, default="", server_default="", nullable=False)

    work_card: Mapped[WorkCard | None] = relationship(foreign_keys=[work_card_id])
    user: Mapped[User] = relationship()
    calibration_set: Mapped[CalibrationSet | None] = relationship()

    def __repr__(self) -> str:
        return f"<Take {self.id} {self.kind} {self.status}/{self.processing}>"


class LoginSession(db.Model):
    """One signed-in session, named by a random id its cookie carries. A session whose row is
    gone is over at its next request or Socket.IO event, even from a copied cookie: logout
    deletes its row, a password reset or a disabled account deletes all of the account's rows."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, nullable=False)


class LoginThrottle(db.Model):
    """Wrong passwords for one account from one client address: past ``security.lockout_failures``
    of them, that address waits until ``blocked_until`` before its next try (the wait doubles with
    each further wrong password). Other addresses are not held back. A right password from the
    address, or an administrator, deletes the row."""

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("user_id", "address", name="uq_login_throttles_user_id_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    address: Mapped[str] = mapped_column(String(45), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEvent(db.Model):
    """Who did what, when, from where: one row per action that starts, stops, deletes or exports
    something, or changes an account or a setting. Rows are only ever added. ``username`` and
    ``role`` are copied so the row still says who it was after the account is gone."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True, nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40), index=True, nullable=False)   # e.g. take.start
    target_type: Mapped[str | None] = mapped_column(String(24))                   # take, work_card, user, ...
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(45))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target_type}:{self.target_id}>"


class Comparison(db.Model):
    """An attempt scored against the reference of the card version it followed."""

    __tablename__ = "comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"), index=True, nullable=False)
    reference_id: Mapped[str] = mapped_column(ForeignKey("takes.id"), index=True, nullable=False)
    work_card_version: Mapped[int] = mapped_column(Integer, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    per_step: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    per_joint: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    worst: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    # The safety part, beside the motion part (``score``): 0-100 from the attempt's ergonomics,
    # and the coaching messages comparing its postures with the reference's, per step.
    safety_score: Mapped[float | None] = mapped_column(Float)
    feedback: Mapped[list | None] = mapped_column(JSON)

    attempt: Mapped[Take] = relationship(foreign_keys=[attempt_id])
    reference: Mapped[Take] = relationship(foreign_keys=[reference_id])


class JobRecord(db.Model):
    """One background job on a take, as its runner last reported it (the job history): kept
    across restarts. ``status`` is ``cancelled`` for a job the server's stop (or the cluster)
    cancelled, ``failure`` says why a failed job failed; ``report`` is the report's summary.
    Rows go with their take."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the runner's job id
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # e.g. process
    take_id: Mapped[str] = mapped_column(ForeignKey("takes.id", ondelete="CASCADE"), index=True, nullable=False)
    status: Mapped[str] = mapped_column(_choice("job_status", JOB_STATUSES), index=True, nullable=False)
    stage: Mapped[str] = mapped_column(String(40), default="", nullable=False)
    done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(_choice("job_failure", JOB_FAILURES))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    report: Mapped[dict | None] = mapped_column(JSON)

    take: Mapped[Take] = relationship()
    queued_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<JobRecord {self.id} {self.kind} of {self.take_id} {self.status}>"


class SiteFlag(db.Model):
    """A fact about the whole site, set once (e.g. ``onboarding.board``: the board was printed)."""

    __tablename__ = "site_flags"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class UserFlag(db.Model):
    """One user's preference (e.g. ``onboarding``: the checklist dismissed or reopened)."""

    __tablename__ = "user_flags"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, nullable=False)
