"""What the running system tells the pages, over Socket.IO: one room per audience.

Rooms: every signed-in client joins :data:`LIVE_ROOM` and its user's room; clients whose role
sees every result (:data:`accounts.policy.Action.SEE_ALL_RESULTS`) join :data:`STAFF_ROOM`;
clients that asked for live pose join :data:`POSE_ROOM`; clients in the calibration wizard join
:data:`CALIBRATION_ROOM`. Who may hear an event is decided here from the policy.
"""
from __future__ import annotations

from flask_login import current_user
from flask_socketio import join_room

from accounts.policy import Action, allows
from jobs.base import Job
from web.extensions import socketio

LIVE_ROOM = "live"
POSE_ROOM = "pose"                # clients that asked for live pose
STAFF_ROOM = "staff"              # roles that see every take's job status (trainees' results included)
CALIBRATION_ROOM = "calibration"  # clients in the calibration wizard


def user_room(user_id: int) -> str:
    """The room of one user's clients (job status of their own takes)."""
    return f"user:{user_id}"


def join_audiences() -> None:
    """Put the connecting client in the rooms its user belongs to."""
    join_room(LIVE_ROOM)
    join_room(user_room(current_user.id))
    if allows(current_user, Action.SEE_ALL_RESULTS):
        join_room(STAFF_ROOM)


class WebNotifier:
    """The :class:`system.Notifier` of the web layer. Thread-safe (Socket.IO emits are)."""

    def recording_status(self, state: dict) -> None:
        socketio.emit("recording status", state, to=LIVE_ROOM)

    def recording_error(self, error: dict, owner_id: int | None) -> None:
        socketio.emit("recording error", error, to=LIVE_ROOM)

    def job_status(self, job: Job) -> None:
        """Every change of a background job, to the staff, to the user whose take it is and to the
        user who queued it; a calibration from a take also to the clients in the calibration wizard."""
        people = {job.params.get("user_id"), job.params.get("queued_by")}
        rooms = [STAFF_ROOM] + sorted(user_room(u) for u in people if isinstance(u, int) and not isinstance(u, bool))
        if job.kind == "calibrate":
            rooms.append(CALIBRATION_ROOM)
        socketio.emit("job status", job.to_dict(), to=rooms)

    def camera_status(self, payload: dict) -> None:
        socketio.emit("camera status", payload, to=LIVE_ROOM)

    def pose(self, event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=POSE_ROOM)

    def calibration(self, event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=CALIBRATION_ROOM)
