"""Socket.IO events: ``start recording`` / ``stop recording`` (contract), status broadcasts.

Every event needs a logged-in user with an allowed role, and its payload is validated
with pydantic. Errors are answered with a ``recording error`` event (and the ack), never
with a changed state.
"""
from __future__ import annotations

import functools
import logging
from typing import Literal

from flask import current_app, request
from flask_login import current_user
from flask_socketio import emit, join_room, leave_room
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.models import ROLES
from training.workcards import TrainingError
from VideoProcessor import RecordingError
from web.auth import session_expired
from web.extensions import socketio

logger = logging.getLogger(__name__)

LIVE_ROOM = "live"
POSE_ROOM = "pose"  # clients that asked for live pose
STAFF_ROOM = "staff"  # admins and experts: every take's job status
STAFF_ROLES = ("admin", "expert")  # see every take's job status (trainees' results included)
RECORDING_ROLES = ROLES  # the contract: admin, technician, expert, trainee (their own attempt)


def user_room(user_id: int) -> str:
    """The room of one user's clients (job status of their own takes)."""
    return f"user:{user_id}"


class StartRecording(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    label: str | None = Field(default=None, max_length=120, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
    work_card_id: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)
    kind: Literal["reference", "attempt", "free"] | None = None


class LivePoseToggle(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool


class StopRecording(BaseModel):
    model_config = ConfigDict(extra="forbid")
    take_id: str | None = Field(default=None, pattern=r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


def _processor():
    return current_app.extensions["vsion.processor"]


def _runtime():
    return current_app.extensions["vsion.runtime"]


def explain(exc: ValidationError) -> str:
    """A pydantic error as one line for the user: ``invalid payload (field: problem; ...)``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "invalid payload (" + "; ".join(parts) + ")"


def socket_event(name: str, model: type[BaseModel], roles, error_event: str, refused: tuple = ()):
    """Register a Socket.IO handler that checks login, role and payload before calling ``fn(data)``.

    ``fn`` returns a dict, sent back as the ack with ``ok: true``. A refusal (not logged in,
    role, bad payload, or one of the ``refused`` exceptions, whose message is shown) emits
    ``error_event`` {event, code, message} to the sender and acks the same with ``ok: false``.
    """

    def decorate(fn):
        @socketio.on(name)
        @functools.wraps(fn)
        def handler(*args):
            def refuse(code: str, message: str):
                error = {"event": name, "code": code, "message": message}
                emit(error_event, error)
                return {"ok": False, **error}

            if not current_user.is_authenticated or session_expired():
                return refuse("unauthorized", "login required")
            if current_user.role not in roles:
                return refuse("forbidden", f"the role {current_user.role} may not use '{name}'")
            payload = args[0] if args else None
            if len(args) > 1 or (payload is not None and not isinstance(payload, dict)):
                return refuse("invalid", "invalid payload (expected one JSON object)")
            try:
                data = model.model_validate(payload or {})
            except ValidationError as exc:
                return refuse("invalid", explain(exc))
            try:
                return {"ok": True, **fn(data)}
            except refused as exc:
                return refuse("refused", str(exc))
            except Exception:  # noqa: BLE001 - the client gets an answer, the log gets the details
                logger.exception("event %r failed", name)
                return refuse("error", "the server could not do this; see its log")

        return handler

    return decorate


def recording_event(name: str, model: type[BaseModel]):
    """A recording event: roles of the contract, errors as ``recording error``."""
    return socket_event(name, model, RECORDING_ROLES, "recording error", (RecordingError, TrainingError))


def camera_status(processor) -> dict:
    """The ``camera status`` event's payload."""
    return {"cameras": processor.health(), "recording": processor.record_event.is_set()}


@socketio.on("connect")
def on_connect(auth=None):
    if not current_user.is_authenticated or session_expired():
        raise ConnectionRefusedError("login required")
    join_room(LIVE_ROOM)
    join_room(user_room(current_user.id))
    if current_user.role in STAFF_ROLES:
        join_room(STAFF_ROOM)
    emit("recording status", _runtime().recording_state())
    emit("camera status", camera_status(_processor()))


@recording_event("start recording", StartRecording)
def start_recording(data: StartRecording) -> dict:
    """Contract: optional ``work_card_id`` and ``kind``; trainees record attempts only."""
    from web.audit import audit

    state = _runtime().start_take(current_user, data.label, data.work_card_id, data.kind)
    socketio.emit("recording status", state, to=LIVE_ROOM)
    audit("take.start", "take", state["take_id"], kind=state["kind"], work_card_id=state["work_card_id"])
    return state


@recording_event("stop recording", StopRecording)
def stop_recording(data: StopRecording) -> dict:
    from web.audit import audit

    state = _runtime().stop_take(current_user, data.take_id)
    socketio.emit("recording status", state, to=LIVE_ROOM)
    _runtime().take_stopped(state["take"])
    cameras = {cam.get("name"): cam.get("frames") for cam in state["take"].get("cameras") or []}
    audit("take.stop", "take", state["take_id"], kind=state["kind"], work_card_id=state["work_card_id"],
          status=state["status"], frames=cameras)
    return state


@socketio.on("disconnect")
def on_disconnect(*args):
    runtime = current_app.extensions.get("vsion.runtime")
    if runtime is not None:
        runtime.live_pose.forget(request.sid)


@socket_event("live pose", LivePoseToggle, ROLES, "live pose error")
def live_pose(data: LivePoseToggle) -> dict:
    (join_room if data.enabled else leave_room)(POSE_ROOM)
    return current_app.extensions["vsion.runtime"].live_pose.enable(request.sid, data.enabled)


def pose_emitter(event: str, payload: dict) -> None:
    """Live pose results go to the clients that asked for them."""
    socketio.emit(event, payload, to=POSE_ROOM)


def job_emitter(job) -> None:
    """Every change of a background job, to the staff and to the user whose take it is
    (trainees hear only about their own takes)."""
    user_id = job.params.get("user_id")
    rooms = [STAFF_ROOM] + ([user_room(user_id)] if isinstance(user_id, int) else [])
    socketio.emit("job status", job.to_dict(), to=rooms)
