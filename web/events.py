"""Socket.IO events: ``start recording`` / ``stop recording`` (contract), live pose, connection.

Every event needs a signed-in user whose role the policy allows, and its payload is validated
with its schema. Errors are answered with an error event (and the ack), never with a changed state.
"""
from __future__ import annotations

import functools
import logging

from flask import request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError as RefusedLink
from flask_socketio import emit, join_room, leave_room
from pydantic import BaseModel, ValidationError

from accounts.policy import Action, allows
from capture.group import RecordingError
from common.errors import ServiceError
from common.payloads import explain
from live.people import ChoiceError
from live.schemas import LivePerson, LivePoseToggle
from takes.schemas import StartRecording, StopRecording
from web import sockets
from web.auditing import audit
from web.auth import LOGIN_AT, SESSION_ID, session_expired
from web.extensions import socketio
from web.notify import POSE_ROOM, join_audiences, recording_view
from web.state import links, system

logger = logging.getLogger(__name__)


def socket_event(name: str, model: type[BaseModel], action: Action, error_event: str, refused: tuple = ()):
    """Register a Socket.IO handler that checks login, the policy's ``action`` and the payload
    before calling ``fn(data)``.

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

            try:
                if not current_user.is_authenticated or session_expired():
                    return refuse("unauthorized", "login required")
                if not allows(current_user, action):
                    return refuse("forbidden", f"the role {current_user.role} may not use '{name}'")
                payload = args[0] if args else None
                if len(args) > 1 or (payload is not None and not isinstance(payload, dict)):
                    return refuse("invalid", "invalid payload (expected one JSON object)")
                try:
                    data = model.model_validate(payload or {})
                except ValidationError as exc:
                    return refuse("invalid", explain(exc))
                return {"ok": True, **fn(data)}
            except refused as exc:
                return refuse("refused", str(exc))
            except Exception:  # noqa: BLE001 - the client gets an answer, the log gets the details
                logger.exception("event %r failed", name)
                return refuse("error", "the server could not do this; see its log")

        return handler

    return decorate


def recording_event(name: str, model: type[BaseModel]):
    """A recording event: who may record (trainees: their own attempts), errors as ``recording error``."""
    return socket_event(name, model, Action.RECORD, "recording error", (RecordingError, ServiceError))


def _refuse_link(message: str):
    """Refuse this Socket.IO connection with ``message``, and close the link under it soon."""
    sockets.close_refused(socketio, request.sid)
    raise RefusedLink(message)


@socketio.on("connect")
def on_connect(auth=None):
    """Accept a signed-in user's link within their cap, and send it the recording and camera
    state. Any failure refuses the link with a reason (python-socketio would otherwise leave the
    client waiting for an answer that never comes)."""
    try:
        _open_link()
    except RefusedLink:
        raise
    except Exception:  # noqa: BLE001 - the client gets an answer, the log gets the details
        logger.exception("Socket.IO link of %s could not be opened", request.remote_addr)
        links().remove(request.sid)
        _refuse_link("the server could not open this link; see its log")


def _open_link() -> None:
    if not current_user.is_authenticated or session_expired():
        _refuse_link("login required")
    limit = system().settings.limits.sockets_per_user
    if len(links().of_user(current_user.id)) >= limit:
        logger.warning("Socket.IO link refused: user %s already holds %d (limits.sockets_per_user)",
                       current_user.username, limit)
        _refuse_link(f"too many open pages for this account (at most {limit}): close some")
    client = sockets.Client(request.sid, current_user.id, current_user.role, session.get(SESSION_ID),
                            session.get(LOGIN_AT) or 0.0, request.remote_addr)
    links().add(client)
    join_audiences()
    running = system()
    emit("recording status", recording_view(running.takes.recording_state(), client))
    emit("camera status", running.camera_status())


@recording_event("start recording", StartRecording)
def start_recording(data: StartRecording) -> dict:
    """Contract: optional ``work_card_id`` and ``kind``; trainees record attempts only."""
    state = system().takes.start_take(current_user, data.label, data.work_card_id, data.kind)
    audit("take.start", "take", state["take_id"], kind=state["kind"], work_card_id=state["work_card_id"])
    return state


@recording_event("stop recording", StopRecording)
def stop_recording(data: StopRecording) -> dict:
    state = system().takes.stop_take(current_user, data.take_id)
    cameras = {cam.get("name"): cam.get("frames") for cam in state["take"].get("cameras") or []}
    audit("take.stop", "take", state["take_id"], kind=state["kind"], work_card_id=state["work_card_id"],
          status=state["status"], frames=cameras)
    return state


@socketio.on("disconnect")
def on_disconnect(*args):
    links().remove(request.sid)
    running = system()
    running.live_pose.forget(request.sid)
    if running.wizard.driver.leave(request.sid):  # one fewer on the calibration page
        running.notifier.calibration("calibration driver", running.wizard.driver.state())


@socket_event("live pose", LivePoseToggle, Action.USE, "live pose error")
def live_pose(data: LivePoseToggle) -> dict:
    (join_room if data.enabled else leave_room)(POSE_ROOM)
    return system().live_pose.enable(request.sid, data.enabled)


@socket_event("live person", LivePerson, Action.RECORD, "live pose error", (ChoiceError,))
def live_person(data: LivePerson) -> dict:
    """Choose the worker in the live view (a person of the ``pose3d`` people; null: the work
    area decides again): for every viewer, and for the takes recorded while they stay in view."""
    answer = system().live_pose.choose(data.person_id)
    audit("live.person", "live", None, person=data.person_id)
    return answer
