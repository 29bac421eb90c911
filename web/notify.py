"""What the running system tells the pages, over Socket.IO, and who hears it.

Every signed-in link joins :data:`LIVE_ROOM` (camera status, a take stopped by VSION itself);
links that asked for live pose join :data:`POSE_ROOM`; links in the calibration wizard join
:data:`CALIBRATION_ROOM`. Events about a take (``recording status``, ``job status``) are sent
link by link (:class:`web.sockets.SocketRegistry`): the full state to those the policy lets
see that take (:func:`accounts.policy.sees_take_of`), and to the others only that a take is
recording, so a trainee never learns another trainee's take id, name, label or score. No
event carries a server path.
"""
from __future__ import annotations

import re

from flask_login import current_user
from flask_socketio import join_room

from accounts.policy import Action, allows, sees_job_of, sees_take_of
from jobs.base import Job
from web import sockets
from web.extensions import socketio

LIVE_ROOM = "live"
POSE_ROOM = "pose"                # clients that asked for live pose
CALIBRATION_ROOM = "calibration"  # clients in the calibration wizard
ROOM_ACTIONS = {LIVE_ROOM: Action.USE, POSE_ROOM: Action.USE, CALIBRATION_ROOM: Action.CALIBRATE}

# What everyone may know of a take recording or just stopped: that the recorder is busy, since
# when, and why VSION stopped it by itself.
PUBLIC_KEYS = ("recording", "started_at", "elapsed_s", "cameras", "stop_reason", "message")
_PATH = re.compile(r"(?<![\w.:/])/(?:[^/\s'\"]+/)+([^/\s'\"]*)")


def redact_paths(text):
    """``text`` with every absolute path replaced by its last part (a server's folders are nobody's business)."""
    return _PATH.sub(lambda m: m.group(1) or "…", text) if isinstance(text, str) else text


def join_audiences() -> None:
    """Put the connecting client in the room of every signed-in page (the others it joins by asking)."""
    if allows(current_user, ROOM_ACTIONS[LIVE_ROOM]):
        join_room(LIVE_ROOM)


def recording_view(state: dict, viewer) -> dict:
    """The ``recording status`` a viewer gets: everything for a take they may see, else only the
    public part (and no last take). Never a folder."""
    state = {key: value for key, value in state.items() if key != "folder"}
    last = state.get("last_take")
    if last is not None:
        if sees_take_of(viewer, last.get("user_id"), last.get("kind")):
            state["last_take"] = last
        else:
            state.pop("last_take")
    if state.get("take_id") is None or sees_take_of(viewer, state.get("user_id"), state.get("kind")):
        return state
    return {key: state[key] for key in PUBLIC_KEYS if key in state}


class WebNotifier:
    """The :class:`system.Notifier` of the web layer. Thread-safe (Socket.IO emits are).

    ``links`` are the open Socket.IO links; ``session_max_s`` the login's maximum age, past which
    a link is closed (checked with each camera status broadcast, every second)."""

    def __init__(self, links: sockets.SocketRegistry, session_max_s: float):
        self.links, self.session_max_s = links, session_max_s

    def present(self, user_id: int | None) -> bool:
        return self.links.present(user_id)

    def recording_status(self, state: dict) -> None:
        for client in self.links.clients():
            socketio.emit("recording status", recording_view(state, client), to=client.sid)

    def recording_error(self, error: dict, owner_id: int | None) -> None:
        """A take VSION stopped by itself: every page says why (the message names no one)."""
        socketio.emit("recording error", {**error, "message": redact_paths(error.get("message"))}, to=LIVE_ROOM)

    def job_status(self, job: Job) -> None:
        """Every change of a background job, to those who may see it (its take's owner, who queued
        it, those who see every take: :func:`accounts.policy.sees_job_of`); a calibration from a
        take also to those who may calibrate (the calibration page follows it)."""
        payload = job.to_dict()
        payload["message"] = redact_paths(payload.get("message"))
        owner, queued_by = job.params.get("user_id"), job.params.get("queued_by")
        for client in self.links.clients():
            if sees_job_of(client, owner, queued_by, job.kind):
                socketio.emit("job status", payload, to=client.sid)

    def camera_status(self, payload: dict) -> None:
        sockets.expire(socketio, self.links, self.session_max_s)
        socketio.emit("camera status", payload, to=LIVE_ROOM)

    def pose(self, event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=POSE_ROOM)

    def calibration(self, event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=CALIBRATION_ROOM)
