"""The database: migrations, work cards, takes, calibration sets — on SQLite and on a real PostgreSQL server.

Every service test runs twice: on an SQLite file in a temporary data folder (the default)
and on a fresh database of a PostgreSQL server the suite starts (``tests/helpers/postgres.py``),
selected the way users select it, with ``DATABASE_URL``.
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.users import authenticate, create_user
from database.base import db
from database.models import CalibrationSet, Take, User, WorkCardVersion
from settings import dump_settings, parse_settings
from takes.calibrations import active_calibration_set, sync_calibration_sets
from takes.service import get_take, list_takes, register_take, set_processing
from tests.helpers.postgres import PostgresServer, find_bindir
from workcards.service import (
    ServiceError,
    card_content,
    choose_reference,
    create_work_card,
    get_work_card,
    list_card_contents,
    list_work_cards,
    publish,
    revise,
    set_steps,
    update_work_card,
)

HEAD = "0008_login_throttles"
PASSWORD = "correct-horse-1"
STEPS = [{"name": "Pick up the part", "start_s": 0.5, "end_s": 3.0, "instructions": "Both hands."},
         {"name": "Fit it", "start_s": 3.0, "end_s": 7.5},
         {"name": "Check", "start_s": 8.0, "end_s": 10.0}]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def postgres():
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries missing: install Debian's postgresql package (make apt-test)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch):
    """``sqlite`` (no DATABASE_URL) or ``postgresql`` (DATABASE_URL names a fresh database)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if request.param == "sqlite":
        yield "sqlite"
        return
    server = request.getfixturevalue("postgres")
    url = server.database()
    monkeypatch.setenv("DATABASE_URL", url)
    yield "postgresql"
    server.drop(url)


@pytest.fixture
def db_settings(tmp_path):
    return parse_settings({"cameras": [{"name": "cam1", "url": "demo:0"}], "data_dir": str(tmp_path / "data")})


def _make_app(settings):
    from app import create_app, prepare_app

    app = create_app(settings, {"TESTING": True})
    prepare_app(app)
    return app


def _close(app):
    """Release the app's database connections (its cameras never started)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(backend, db_settings):
    """The real app factory (migrations included), cameras not started."""
    app = _make_app(db_settings)
    yield app
    _close(app)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture(scope="module")
def password_hash():
    from argon2 import PasswordHasher

    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def people(ctx, password_hash):
    """One user per role, two experts and two trainees (one argon2 hash for all: hashing is slow on purpose)."""
    users = {name: User(username=name, password_hash=password_hash, role=role) for name, role in
             [("admin", "admin"), ("expert", "expert"), ("expert2", "expert"), ("tech", "technician"),
              ("ann", "trainee"), ("bob", "trainee")]}
    db.session.add_all(users.values())
    db.session.commit()
    return users


_serial = iter(range(1000, 10000))


def take_json(status="complete", seconds=10.0, take_id=None) -> dict:
    """A take.json as the VideoProcessor writes it."""
    take_id = take_id or f"20261121-1055{next(_serial) % 60:02d}-{next(_serial):04x}"
    wall, mono = 1_795_000_000 * 10**9, 5 * 10**9
    return {"id": take_id, "status": status, "calibration": "calibration.toml", "work_card": None,
            "start": {"monotonic_ns": mono, "wall_time_ns": wall},
            "stop": {"monotonic_ns": mono + int(seconds * 1e9), "wall_time_ns": wall + int(seconds * 1e9)},
            "fps": 30.0, "cameras": [{"index": 0, "name": "cam1", "file": "cam1.mp4", "timestamps": "cam1.csv",
                                      "frames": int(seconds * 30)},
                                     {"index": 1, "name": "cam2", "file": None, "timestamps": None, "frames": 0}]}


def record(app, user, card=None, kind="free", seconds=10.0, processed=True, **extra) -> Take:
    data = take_json(seconds=seconds)
    folder = app.extensions["vsion"].settings.data_dir / "takes" / data["id"]
    take = register_take(data, folder, user, card, kind, **extra)
    if processed:
        set_processing(take.id, "done", metrics={"frames": int(seconds * 30), "fps": 30.0,
                                                 "median_reprojection_px": 1.5})
    return take


def published_card(app, author, title="Fit the bracket", steps=STEPS):
    card = create_work_card(author, title, "Fit the bracket to the frame.", ["assembly", "bracket"])
    reference = record(app, author, card, "reference")
    choose_reference(author, card, reference)
    set_steps(author, card, steps)
    publish(author, card)
    return card, reference


# --------------------------------------------------------------------------- migrations
def test_migrations_build_the_schema_of_the_models(ctx, backend):
    with db.engine.connect() as conn:
        assert conn.dialect.name == backend
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        if backend == "sqlite":  # enforced per connection, as PostgreSQL always does
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert diffs == []
    tables = set(sa.inspect(db.engine).get_table_names())
    assert {"users", "calibration_sets", "work_cards", "work_card_steps", "work_card_versions", "takes",
            "comparisons"} <= tables
    for table, column in [("takes", "user_id"), ("takes", "work_card_id"), ("comparisons", "attempt_id"),
                          ("work_card_steps", "work_card_id"), ("work_cards", "author_id")]:
        indexed = {tuple(ix["column_names"]) for ix in sa.inspect(db.engine).get_indexes(table)}
        assert (column,) in indexed, (table, column)


def test_database_enforces_kinds_and_step_times(ctx, people):
    card = create_work_card(people["expert"], "Card")
    bad = [
        ("INSERT INTO takes (id, user_id, kind, folder, files, status, processing, created_at) "
         "VALUES ('20261121-000000-0001', :user, 'attempt', 'x', '[]', 'complete', 'none', :now)"),  # no card
        ("INSERT INTO takes (id, user_id, kind, folder, files, status, processing, created_at) "
         "VALUES ('20261121-000000-0002', :user, 'bogus', 'x', '[]', 'complete', 'none', :now)"),
        ("INSERT INTO work_card_steps (work_card_id, position, name, instructions, start_s, end_s) "
         "VALUES (:card, 1, 'x', '', 2.0, 1.0)"),
    ]
    for sql in bad:
        with pytest.raises(IntegrityError):
            db.session.execute(sa.text(sql), {"user": people["ann"].id, "now": datetime.now(UTC), "card": card.id})
        db.session.rollback()


def legacy_users_database(url: str) -> None:
    """The database an installation from before migrations has: ``create_all`` of the old users model."""
    from argon2 import PasswordHasher

    old = sa.MetaData()
    users = sa.Table("users", old,
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("username", sa.String(64), unique=True, nullable=False),
                     sa.Column("password_hash", sa.String(255), nullable=False),
                     sa.Column("role", sa.String(16), nullable=False),
                     sa.Column("active", sa.Boolean, nullable=False),
                     sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    engine = sa.create_engine(url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(users.insert(), [
            {"username": "olga", "password_hash": PasswordHasher().hash(PASSWORD), "role": "expert", "active": True,
             "created_at": datetime(2025, 3, 1, 8, 30, tzinfo=UTC)},
            {"username": "tim", "password_hash": PasswordHasher().hash(PASSWORD), "role": "trainee", "active": False,
             "created_at": datetime(2025, 3, 2, 9, 0, tzinfo=UTC)}])
    engine.dispose()


def test_an_installation_from_before_migrations_keeps_its_users(backend, db_settings):
    import os

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{db_settings.data_dir / 'vsion.db'}"
    db_settings.data_dir.mkdir(parents=True)
    legacy_users_database(url)
    for _ in range(2):  # the second start finds everything in place
        app = _make_app(db_settings)
        with app.app_context():
            olga = authenticate("olga", PASSWORD)
            assert olga is not None and olga.role == "expert"
            assert olga.created_at == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
            assert db.session.scalar(sa.select(User.active).filter_by(username="tim")) is False
            assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
            card = create_work_card(olga, "Still works")  # the new tables are there
            assert card.author_id == olga.id
            create_user(f"new{card.id}", PASSWORD, "trainee")
            assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2 + card.id
        _close(app)


def test_users_create_command_migrates_a_new_data_folder(tmp_path, monkeypatch):
    from app import cli

    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = parse_settings({"cameras": [{"name": "cam1", "url": "demo:0"}], "data_dir": str(tmp_path / "data")})
    config = tmp_path / "config.yaml"
    dump_settings(settings, config)
    result = CliRunner().invoke(cli, ["users", "create", "carla", "--role", "expert", "--config", str(config)],
                                input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'vsion.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        assert conn.execute(sa.text("SELECT role FROM users WHERE username = 'carla'")).scalar() == "expert"
    engine.dispose()


# --------------------------------------------------------------------------- work cards
def test_drafts_are_seen_only_by_their_author_and_admins(ctx, people):
    card = create_work_card(people["expert"], "  Torque the bolts ", "Four bolts.", ["bolts", "Bolts", " torque  "])
    assert (card.title, card.tags, card.status, card.version) == ("Torque the bolts", ["bolts", "torque"], "draft", 0)
    for name in ("expert", "admin"):
        assert [c.id for c in list_work_cards(people[name])] == [card.id]
        assert get_work_card(people[name], card.id) is card
    for name in ("expert2", "tech", "ann"):
        assert list_work_cards(people[name]) == []
        with pytest.raises(ServiceError, match="^work card not found$"):
            get_work_card(people[name], card.id)
    with pytest.raises(ServiceError, match="^work card not found$"):
        get_work_card(people["admin"], 999_999)


def test_only_experts_and_admins_author_and_only_the_author_or_admin_edits(ctx, people):
    for name in ("ann", "tech"):
        with pytest.raises(ServiceError, match="only experts and admins"):
            create_work_card(people[name], "Mine")
    card = create_work_card(people["expert"], "Card")
    with pytest.raises(ServiceError, match="author or an admin"):
        update_work_card(people["expert2"], card, title="Taken over")
    update_work_card(people["admin"], card, description="Edited by the admin", tags=["a"])
    assert (card.title, card.description, card.tags) == ("Card", "Edited by the admin", ["a"])
    with pytest.raises(ServiceError, match="title is empty"):
        update_work_card(people["expert"], card, title="   ")
    with pytest.raises(ServiceError, match="longer than 120"):
        create_work_card(people["expert"], "x" * 201)
    with pytest.raises(ServiceError, match="list of words"):
        create_work_card(people["expert"], "Card", tags="one,two")


@pytest.mark.parametrize("steps, message", [
    ([{"name": " ", "start_s": 0, "end_s": 1}], "step 1: the name is empty"),
    ([{"name": "A", "start_s": -0.5, "end_s": 1}], r"step 1 \(A\): starts before the reference take"),
    ([{"name": "A", "start_s": 2, "end_s": 2}], r"step 1 \(A\): must end after it starts"),
    ([{"name": "A", "start_s": 1, "end_s": 10.5}], r"ends at 10.5 s, after the reference take \(10 s\)"),
    ([{"name": "A", "start_s": 0, "end_s": 4}, {"name": "B", "start_s": 3, "end_s": 5}],
     r"step 2 \(B\): starts at 3 s, before the previous step ends \(4 s\)"),
    ([{"name": "A", "start_s": 5, "end_s": 6}, {"name": "B", "start_s": 1, "end_s": 2}], r"step 2 \(B\): starts at 1 s"),
    ([{"name": "A", "start_s": "1", "end_s": 2}], r"the start must be a number of seconds"),
    ([{"name": "A", "start_s": 1, "end_s": float("nan")}], r"the end must be a number of seconds"),
    ("A then B", "steps must be a list"),
])
def test_steps_are_validated_against_the_reference_timeline(ctx, people, steps, message):
    expert = people["expert"]
    card = create_work_card(expert, "Card")
    choose_reference(expert, card, record(ctx, expert, card, "reference", seconds=10.0))
    set_steps(expert, card, STEPS)
    with pytest.raises(ServiceError, match=message):
        set_steps(expert, card, steps)
    assert [s.name for s in card.steps] == [s["name"] for s in STEPS]  # unchanged by the refused call


def test_steps_need_a_reference_and_are_replaced_in_order(ctx, people):
    expert = people["expert"]
    card = create_work_card(expert, "Card")
    with pytest.raises(ServiceError, match="choose the reference take before setting steps"):
        set_steps(expert, card, STEPS)
    assert set_steps(expert, card, []) == []
    choose_reference(expert, card, record(ctx, expert, card, "reference", seconds=10.0))
    set_steps(expert, card, STEPS)
    stored = set_steps(expert, card, [{"name": "Only", "start_s": 0.0, "end_s": 10.0}])
    assert [(s.position, s.name, s.start_s, s.end_s) for s in stored] == [(1, "Only", 0.0, 10.0)]
    set_steps(expert, card, STEPS)
    assert [(s.position, s.name) for s in card.steps] == [(1, "Pick up the part"), (2, "Fit it"), (3, "Check")]
    assert card.steps[0].instructions == "Both hands."


def test_reference_must_be_a_processed_reference_of_the_card(ctx, people):
    expert = people["expert"]
    card = create_work_card(expert, "Card")
    other = create_work_card(expert, "Other")
    with pytest.raises(ServiceError, match="not recorded as a reference for this card"):
        choose_reference(expert, card, record(ctx, expert, other, "reference"))
    with pytest.raises(ServiceError, match="not recorded as a reference for this card"):
        choose_reference(expert, card, record(ctx, expert))
    pending = record(ctx, expert, card, "reference", processed=False)
    with pytest.raises(ServiceError, match="not processed yet"):
        choose_reference(expert, card, pending)
    set_processing(pending.id, "failed", "no calibration")
    with pytest.raises(ServiceError, match="not processed yet"):
        choose_reference(expert, card, pending)
    long = record(ctx, expert, card, "reference", seconds=10.0)
    choose_reference(expert, card, long)
    set_steps(expert, card, STEPS)
    with pytest.raises(ServiceError, match=r"step 2 \(Fit it\) ends at 7.5 s, after take .* \(5 s\)"):
        choose_reference(expert, card, record(ctx, expert, card, "reference", seconds=5.0))
    assert card.reference_take_id == long.id
    with pytest.raises(ServiceError, match="records its reference"):
        record(ctx, people["expert2"], card, "reference")


def test_publishing_needs_reference_and_steps_and_keeps_every_version(ctx, people):
    expert, ann = people["expert"], people["ann"]
    card = create_work_card(expert, "Fit the bracket", "v1 text", ["assembly"])
    with pytest.raises(ServiceError, match="choose a reference take before publishing"):
        publish(expert, card)
    reference = record(ctx, expert, card, "reference")
    choose_reference(expert, card, reference)
    with pytest.raises(ServiceError, match="at least one step"):
        publish(expert, card)
    set_steps(expert, card, STEPS)
    with pytest.raises(ServiceError, match="author or an admin"):
        publish(people["expert2"], card)
    v1 = publish(expert, card)
    assert (v1.version, card.version, card.status) == (1, 1, "published")
    assert card.published_at.tzinfo is not None and v1.reference_take_id == reference.id
    assert v1.snapshot["title"] == "Fit the bracket" and len(v1.snapshot["steps"]) == 3

    with pytest.raises(ServiceError, match="version 1 is published: revise"):
        update_work_card(expert, card, title="Changed")
    with pytest.raises(ServiceError, match="revise"):
        set_steps(expert, card, STEPS[:1])
    assert [c.id for c in list_work_cards(ann)] == [card.id]

    revise(expert, card)
    update_work_card(expert, card, title="Fit the bracket, v2", description="v2 text")
    set_steps(expert, card, STEPS[:2])
    # While v2 is drafted, the trainee still sees version 1; the author sees the draft.
    assert get_work_card(ann, card.id) is card
    shown = card_content(ann, card)
    assert (shown["title"], shown["version"], shown["status"], len(shown["steps"])) == ("Fit the bracket", 1,
                                                                                        "published", 3)
    assert shown["reference_take"] == reference.id
    assert [c["title"] for c in list_card_contents(ann)] == ["Fit the bracket"]
    assert [c["title"] for c in list_card_contents(people["expert2"])] == ["Fit the bracket"]
    mine = card_content(expert, card)
    assert (mine["title"], mine["status"], len(mine["steps"])) == ("Fit the bracket, v2", "draft", 2)
    with pytest.raises(ServiceError, match="already a draft"):
        revise(expert, card)

    v2 = publish(expert, card)
    assert v2.version == 2 and card_content(ann, card)["title"] == "Fit the bracket, v2"
    versions = db.session.scalars(sa.select(WorkCardVersion).filter_by(work_card_id=card.id)
                                  .order_by(WorkCardVersion.version)).all()
    assert [(v.version, v.snapshot["title"], len(v.snapshot["steps"])) for v in versions] == [
        (1, "Fit the bracket", 3), (2, "Fit the bracket, v2", 2)]


def test_a_concurrent_publish_of_the_same_version_is_refused(ctx, people):
    expert = people["expert"]
    card, reference = published_card(ctx, expert)
    revise(expert, card)
    # Another server process publishes version 2 between our read and our write.
    with Session(db.engine) as other:
        other.add(WorkCardVersion(work_card_id=card.id, version=2, snapshot={"version": 2},
                                  reference_take_id=reference.id, published_at=datetime.now(UTC)))
        other.commit()
    with pytest.raises(ServiceError, match="published this card meanwhile"):
        publish(expert, card)
    db.session.refresh(card)
    assert (card.version, card.status) == (1, "draft")


# --------------------------------------------------------------------------- takes
def test_a_trainee_never_sees_another_trainees_attempts(ctx, people):
    expert, ann, bob = people["expert"], people["ann"], people["bob"]
    card, reference = published_card(ctx, expert)
    draft = create_work_card(expert, "Unpublished")
    draft_reference = record(ctx, expert, draft, "reference")
    ann_attempt = record(ctx, ann, card, "attempt")
    bob_attempt = record(ctx, bob, card, "attempt")
    ann_free = record(ctx, ann)
    assert ann_attempt.work_card_version == 1

    assert {t.id for t in list_takes(ann)} == {ann_attempt.id, ann_free.id, reference.id}
    assert {t.id for t in list_takes(ann, work_card=card)} == {ann_attempt.id, reference.id}
    assert {t.id for t in list_takes(ann, kind="attempt")} == {ann_attempt.id}
    assert {t.id for t in list_takes(bob)} == {bob_attempt.id, reference.id}
    assert get_take(ann, reference.id) is reference
    for hidden in (bob_attempt.id, draft_reference.id, "20991231-235959-ffff", "../../etc/passwd", None):
        with pytest.raises(ServiceError, match="^take not found$"):
            get_take(ann, hidden)
    everything = {ann_attempt.id, bob_attempt.id, ann_free.id, reference.id, draft_reference.id}
    for name in ("expert", "expert2", "admin"):
        assert {t.id for t in list_takes(people[name])} == everything
        assert get_take(people[name], bob_attempt.id) is bob_attempt
    # Technicians (cameras and calibration) see free takes and published references, not attempts.
    assert {t.id for t in list_takes(people["tech"])} == {ann_free.id, reference.id}
    with pytest.raises(ServiceError, match="^take not found$"):
        get_take(people["tech"], bob_attempt.id)


def test_takes_are_registered_for_a_purpose_the_user_may_have(ctx, people):
    expert, ann = people["expert"], people["ann"]
    draft = create_work_card(expert, "Draft")
    with pytest.raises(ServiceError, match="not published yet"):
        record(ctx, ann, draft, "attempt")
    with pytest.raises(ServiceError, match="records its reference"):
        record(ctx, ann, draft, "reference")
    with pytest.raises(ServiceError, match="needs its work card"):
        record(ctx, ann, None, "attempt")
    with pytest.raises(ServiceError, match="a reference or an attempt"):
        record(ctx, ann, draft, "free")
    with pytest.raises(ServiceError, match="unknown kind"):
        record(ctx, ann, None, "practice")
    with pytest.raises(ServiceError, match="not a VSION take id"):
        register_take({**take_json(), "id": "../x"}, ctx.extensions["vsion"].settings.data_dir, ann)
    with pytest.raises(ServiceError, match="unknown status"):
        register_take(take_json(status="paused"), ctx.extensions["vsion"].settings.data_dir, ann)
    with pytest.raises(ServiceError, match="unknown calibration set"):
        record(ctx, ann, calibration_set="20260101-000000")


def test_registration_records_the_take_json_and_is_repeatable(ctx, people):
    ann = people["ann"]
    data = take_json(status="recording", seconds=12.5)
    data["stop"] = None
    folder = ctx.extensions["vsion"].settings.data_dir / "takes" / data["id"]
    take = register_take(data, folder, ann)
    assert (take.status, take.processing, take.duration_s, take.kind) == ("recording", "none", None, "free")
    assert take.folder == f"takes/{data['id']}"
    assert take.created_at == datetime.fromtimestamp(1_795_000_000, UTC)
    again = register_take(take_json(status="complete", seconds=12.5, take_id=data["id"]), folder, ann)
    assert again is take and (take.status, take.duration_s) == ("complete", 12.5)
    assert take.files == [{"camera": "cam1", "file": "cam1.mp4", "timestamps": "cam1.csv", "frames": 375}]
    with pytest.raises(ServiceError, match="already registered"):
        register_take(take_json(take_id=data["id"]), folder, people["bob"])
    outside = register_take(take_json(), Path("/srv/elsewhere/take"), ann)
    assert outside.folder == "/srv/elsewhere/take"


def test_processing_state_and_metrics(ctx, people):
    take = record(ctx, people["ann"], processed=False, seconds=9.0)
    set_processing(take.id, "queued")
    set_processing(take.id, "running")
    assert take.processing == "running"
    set_processing(take.id, "failed", "x" * 5000)
    assert take.processing == "failed" and len(take.processing_message) == 2000
    report = {"frames": 301, "fps": 30.0, "median_reprojection_px": 2.25, "reconstructed_pct": 97.5}
    set_processing(take.id, "done", metrics=report)
    db.session.expire_all()
    stored = db.session.get(Take, take.id)
    assert (stored.processing, stored.processing_message, stored.metrics) == ("done", None, report)
    assert stored.duration_s == pytest.approx(301 / 30)
    assert stored.created_at.tzinfo is not None
    with pytest.raises(ServiceError, match="unknown processing state"):
        set_processing(take.id, "finished")
    with pytest.raises(ServiceError, match="take not found"):
        set_processing("20991231-235959-ffff", "done")


def test_registering_the_same_take_from_several_threads_makes_one_row(ctx, people):
    data = take_json()
    folder = ctx.extensions["vsion"].settings.data_dir / "takes" / data["id"]
    ann_id, barrier, results, errors = people["ann"].id, threading.Barrier(4), [], []

    def register():
        with ctx.app_context():
            try:
                user = db.session.get(User, ann_id)
                barrier.wait(5)
                results.append(register_take(data, folder, user).id)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=register, name=f"register-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and results == [data["id"]] * 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Take)) == 1


# --------------------------------------------------------------------------- calibration sets
def _group(rms):
    from calibration.camera import Camera, CameraGroup

    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    return CameraGroup(tuple(Camera(name, (1280, 720), K) for name in rms), {"reprojection_rms_px": rms})


def test_calibration_sets_are_mirrored_from_the_store(ctx, people):
    from calibration import store

    root = ctx.extensions["vsion"].settings.data_dir / "calibration" / "sets"
    first = store.save_set(root, _group({"cam1": 0.31, "cam2": 0.42}), note="morning")
    second = store.save_set(root, _group({"cam1": 0.25}), note="after the bump",
                            extra={"created_by": "tech"})
    rows = sync_calibration_sets(root, second["id"])
    assert [r.id for r in rows] == [second["id"], first["id"]]
    assert active_calibration_set().id == second["id"]
    row = db.session.get(CalibrationSet, first["id"])
    assert (row.note, row.cameras, row.rms, row.active) == ("morning", ["cam1", "cam2"],
                                                           {"cam1": 0.31, "cam2": 0.42}, False)
    assert row.created_at.tzinfo is not None and row.created_by_id is None
    assert db.session.get(CalibrationSet, second["id"]).created_by_id == people["tech"].id

    take = record(ctx, people["ann"], calibration_set=second["id"])
    assert take.calibration_set.id == second["id"]

    sync_calibration_sets(root, first["id"])  # rolled back to the first set
    db.session.expire_all()
    assert active_calibration_set().id == first["id"]
    assert sync_calibration_sets(root, None) and active_calibration_set() is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalibrationSet)) == 2
    assert sync_calibration_sets(root / "missing", None) == []
