"""The real app on file cameras and the objects the tests need in it, made as VSION makes them.

Take folders are written with the real exporters (the 3D outputs come from the synthetic person
of :mod:`tests.helpers.motion`, no MediaPipe) and registered in the real database; work cards
are made through the API. ``build_world`` makes one object of each kind, owned by known users.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from database.base import db
from database.models import ROLES, Take, User, WorkCard
from jobs import Job
from reconstruction import exports
from takes.results import job_params
from takes.service import register_take, set_processing
from takes.tasks import compare_take_task
from tests.helpers.accounts import MORE_USERS, call, create_users, csrf_token, signed_in, token
from tests.helpers.motion import person_motion, slower

FPS = 30.0
CAMERAS = ("cam1", "cam2")
STEPS = [{"name": "Reach", "instructions": "Reach for the part.", "start_s": 0.0, "end_s": 4.0},
         {"name": "Lift", "instructions": "", "start_s": 4.0, "end_s": 9.0}]
ANON = "anonymous"
PROBE_BODY = {"__probe__": True}  # every payload model forbids unknown fields: an allowed change answers 400


def make_app(root: Path, video_file: Path, security: dict | None = None, start: bool = False,
             config_file: bool = False):
    """The real app on two file cameras, data in ``root``; ``start``: cameras read (else idle);
    ``config_file``: its settings written to ``root/config.yaml``, where the Cameras page keeps
    the cameras (else camera changes answer 409).

    Exceptions answer 500 as in production (not raised into the test), so a test sees what a
    client would. Login throttling is relaxed unless ``security`` says otherwise: the tests log
    in many times from one address.
    """
    import yaml

    from app import create_app, prepare_app, start_app
    from settings import parse_settings

    data = {"cameras": [{"name": "cam1", "url": str(video_file)}, {"name": "cam2", "url": str(video_file)}],
            "data_dir": str(root / "data"),
            "security": security if security is not None else {"login_rate_limit": "10000/minute",
                                                                "lockout_failures": 100}}
    settings = parse_settings(data)
    config = root / "config.yaml" if config_file else None
    if config is not None:
        config.write_text("# the test site\n" + yaml.safe_dump(data))
    app = create_app(settings, {"TESTING": True, "PROPAGATE_EXCEPTIONS": False}, config_path=config)
    (start_app if start else prepare_app)(app)
    app.extensions["tests.started"] = start
    return app


def stop_app(app) -> None:
    runtime = app.extensions["vsion"]
    if app.extensions.get("tests.started"):
        runtime.stop()
    else:  # nothing was started but the job runner
        runtime.jobs.shutdown()


def wait_connected(client, count=2, timeout=20):
    """Poll ``/api/cameras`` until ``count`` cameras are connected (their list) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cams = client.get("/api/cameras").get_json()
        if sum(c["status"] == "connected" for c in cams) >= count:
            return cams
        time.sleep(0.1)
    raise AssertionError(cams)


def fake_take(app, owner: str, card_id: int | None, kind: str, seconds: float = 10.0, task: str = "walk",
              seed: int = 1, speed: float = 1.0, processed: bool = True, offsets=(3, 0)) -> str:
    """A take folder as the recorder and the process job leave it, registered in the database.

    Two cameras (real MP4 copies, timestamps CSVs with pts in 1/90000 s); when ``processed``,
    ``processed/`` holds pose3d.csv, .trc and .c3d (the synthetic person), keypoints2d.npz
    (``offsets``) and report.json, and the take's processing is done.
    """
    settings = app.extensions["vsion"].settings
    take_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    (folder / "processed").mkdir(parents=True)
    frames = int(seconds * FPS)
    for name in CAMERAS:
        shutil.copyfile(settings.cameras[0].url, folder / f"{name}.mp4")
        with open(folder / f"{name}.timestamps.csv", "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["frame", "pts", "monotonic_ns", "wall_time_ns"])
            for k in range(frames):
                out.writerow([k, 12345 + k * 3000, k * 33_333_333, 1_795_000_000 * 10**9 + k * 33_333_333])
    wall = time.time_ns()
    take_json = {"id": take_id, "status": "complete", "calibration": None, "work_card": card_id, "kind": kind,
                 "start": {"monotonic_ns": 0, "wall_time_ns": wall},
                 "stop": {"monotonic_ns": int(seconds * 1e9), "wall_time_ns": wall + int(seconds * 1e9)},
                 "fps": FPS, "cameras": [{"index": i, "name": n, "file": f"{n}.mp4", "timestamps": f"{n}.timestamps.csv",
                                          "frames": frames} for i, n in enumerate(CAMERAS)]}
    (folder / "take.json").write_text(json.dumps(take_json))
    if processed:
        points = slower(person_motion(frames, FPS, seed=seed, task=task), speed)
        exports.write_pose3d_csv(folder / "processed" / "pose3d.csv", points, FPS)
        exports.write_trc(folder / "processed" / "pose3d.trc", points, FPS)
        exports.write_c3d(folder / "processed" / "pose3d.c3d", points, FPS)
        n = points.shape[0]
        exports.save_keypoints(folder / "processed" / "keypoints2d.npz", exports.Keypoints2D(
            points=np.zeros((2, n, 33, 2), np.float32), scores=np.ones((2, n, 33), np.float32), cameras=CAMERAS,
            fps=FPS, offsets=np.array(offsets)))
        report = {"cameras": list(CAMERAS), "frames": n, "fps": FPS, "median_reprojection_px": 1.2,
                  "reconstructed_pct": 99.0, "mean_segment_cv_pct": 2.0,
                  "sync": {"method": "timestamps", "offsets": dict(zip(CAMERAS, offsets))}}
        exports.write_json(folder / "processed" / "report.json", report)
    with app.app_context():
        user = db.session.scalars(db.select(User).filter_by(username=owner)).one()
        card = db.session.get(WorkCard, card_id) if card_id else None
        register_take(take_json, folder, user, card, kind)
        if processed:
            set_processing(take_id, "done", metrics={"frames": n, "fps": FPS})
    return take_id


def run_comparison(app, attempt_id: str) -> Job:
    """What the process job does for an attempt once processed, through the runtime's job
    listener (database writes and job status events) as the runner calls it."""
    runtime = app.extensions["vsion"]
    takes_dir = app.extensions["vsion"].processor.takes_dir
    with app.app_context():
        params = {"take_dir": str(takes_dir / attempt_id), **job_params(db.session.get(Take, attempt_id), takes_dir)}
    assert params["take_kind"] == "attempt" and params["compare"]["steps"][0]["name"] == "Reach"
    job = Job(kind="process", take_id=attempt_id, params=params)
    job.status = "running"
    runtime.takes.job_changed(job)
    report = json.loads((takes_dir / attempt_id / "processed" / "report.json").read_text())
    job.report = {**report, **compare_take_task(params, lambda done, total, stage: None)}
    job.status = "done"
    runtime.takes.job_changed(job)
    return job


def published_card(app, expert) -> tuple[int, str]:
    """A card made through the API by ``expert``: a processed reference, two steps, published."""
    made = call(expert, "POST", "/api/workcards", {"title": "Lift the box", "description": "Lift it safely.",
                                                    "tags": ["lifting", "safety"]})
    assert made.status_code == 201, made.get_json()
    card_id = made.get_json()["id"]
    reference = fake_take(app, "expert", card_id, "reference", seed=1)
    assert call(expert, "POST", f"/api/workcards/{card_id}/reference", {"take_id": reference}).status_code == 200
    assert call(expert, "PUT", f"/api/workcards/{card_id}/steps", {"steps": STEPS}).status_code == 200
    published = call(expert, "POST", f"/api/workcards/{card_id}/publish", {})
    assert published.status_code == 200, published.get_json()
    return card_id, reference


@dataclass
class World:
    """The objects every check reads: one of each kind, owned by known users."""

    app: object
    clients: dict = field(default_factory=dict)   # role or user name (and "anonymous") -> test client
    tokens: dict = field(default_factory=dict)    # same keys -> CSRF token of that client's session
    published: int = 0                            # a card published by "expert", with a processed reference
    draft: int = 0                                # a draft card by "expert"
    reference: str = ""                           # the published card's reference take
    attempt: str = ""                             # an attempt by "trainee" (scored)
    other_attempt: str = ""                       # an attempt by "trainee2" (scored)
    free: str = ""                                # a free take by "technician"
    expert_free: str = ""                         # a free take by "expert"
    calibration_set: str = ""                     # a saved calibration set, in force
    user_ids: dict = field(default_factory=dict)

    def client(self, who: str):
        return self.clients[who]


def save_calibration_set(app) -> str:
    from calibration import store
    from calibration.camera import Camera, CameraGroup

    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    wizard = app.extensions["vsion"].wizard
    saved = store.save_set(wizard.sets_root, CameraGroup(tuple(Camera(n, (1280, 720), K) for n in ("cam1", "cam2")),
                                                         {"reprojection_rms_px": {"cam1": 0.3, "cam2": 0.4}}),
                           note="matrix")
    store.activate(wizard.sets_root, saved["id"], wizard.active_path)
    app.extensions["vsion"].sync_calibrations()
    return saved["id"]


def build_world(app) -> World:
    """Users of every role (plus ``trainee2`` and ``expert2``), logged-in clients, and one object
    of each kind made through the API and the services, as the work card API tests do."""
    create_users(app)
    world = World(app)
    for who in (*ROLES, *MORE_USERS):
        world.clients[who] = signed_in(app, who)
        world.tokens[who] = token(world.clients[who])
    anonymous = app.test_client()
    world.clients[ANON], world.tokens[ANON] = anonymous, csrf_token(anonymous)
    expert = world.clients["expert"]
    world.published, world.reference = published_card(app, expert)
    made = call(expert, "POST", "/api/workcards", {"title": "Draft card"})
    assert made.status_code == 201, made.get_json()
    world.draft = made.get_json()["id"]
    world.attempt = fake_take(app, "trainee", world.published, "attempt", seed=1, speed=1.2)
    world.other_attempt = fake_take(app, "trainee2", world.published, "attempt", seed=2)
    for attempt in (world.attempt, world.other_attempt):
        run_comparison(app, attempt)
    world.free = fake_take(app, "technician", None, "free", seconds=2)
    world.expert_free = fake_take(app, "expert", None, "free", seconds=2)
    world.calibration_set = save_calibration_set(app)
    with app.app_context():
        world.user_ids = dict(db.session.execute(sa.select(User.username, User.id)).all())
    return world


def db_state(app, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of its rows (tables named in ``skip`` left out)."""
    out = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    return out


def files_state(app) -> dict[str, tuple[int, int]]:
    """Every file under the data folder but the database: (size, mtime ns)."""
    root = Path(app.extensions["vsion"].settings.data_dir)
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.startswith("vsion.db"):
                continue
            stat = (Path(dirpath) / name).stat()
            out[os.path.relpath(Path(dirpath) / name, root)] = (stat.st_size, stat.st_mtime_ns)
    return out
