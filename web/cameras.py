"""The Cameras page (administrators and technicians): add, change, remove, reorder and test cameras
while VSION runs. ``GET /api/cameras`` (the contract's health list) stays in :mod:`web.api`.

Refusals answer JSON ``{"error", "code", "params"}``: 400 for bad input (nothing changes), 404 for
an unknown camera, 409 while a take records or when config.yaml cannot be changed. ``code`` and
``params`` let the page say it in the user's language. No answer, log line or audit row ever
holds a camera password: URLs are shown masked, or without their user info.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request

from accounts.policy import Action
from capture.group import RecordingError
from common.errors import ServiceError
from common.payloads import PayloadError, validate
from config import cameras as camera_list
from config.masking import mask_secrets
from config.schema import ConfigError
from config.schemas import CameraForm, CameraOrder, CameraTest
from system import cameras as use
from system.build import CamerasUnavailable
from web.access import requires
from web.auditing import audit
from web.state import system

logger = logging.getLogger(__name__)
bp = Blueprint("cameras", __name__)


def _refusal(exc: Exception):
    """The JSON answer for a refused request, with its code for the page's translation."""
    if isinstance(exc, PayloadError):
        custom = next((p for p in exc.problems if p["code"] in CUSTOM_CODES), None)
        if custom is not None:
            return jsonify(error=custom["message"], code=custom["code"], params=custom["params"]), 400
        return jsonify(error=str(exc), code="invalid", params={}), 400
    if isinstance(exc, camera_list.CameraChangeError):
        status = 404 if isinstance(exc, camera_list.UnknownCamera) else 400
        return jsonify(error=str(exc), code=exc.code, params=exc.params), status
    code = {RecordingError: "recording", CamerasUnavailable: "no_config_file"}.get(type(exc), "config_write")
    message = mask_secrets(str(exc))
    return jsonify(error=message, code=code, params={"error": message} if code == "config_write" else {}), 409


CUSTOM_CODES = ("not_rtsp", "bad_url", "missing", "rtsp_only", "credentials_twice", "preview_credentials",
                "password_without_user")
REFUSED = (ServiceError, RecordingError, ConfigError)


def _payload():
    return request.get_json(silent=True)


def _summary(camera) -> dict:
    """What the audit log keeps of a camera: no URL, no password (the host only)."""
    return {"source": camera_list.source_of(camera), "host": camera_list.masked_host(camera),
            "substream": camera.preview_url is not None}


def _changed_fields(old, new) -> list[str]:
    fields = []
    if old.name != new.name:
        fields.append("name")
    for key, label in (("url", "source"), ("preview_url", "substream")):
        before, after = getattr(old, key), getattr(new, key)
        if camera_list.without_credentials(before) != camera_list.without_credentials(after):
            fields.append(label)
    (user_a, pw_a), (user_b, pw_b) = camera_list.credentials(old.url), camera_list.credentials(new.url)
    fields += (["user"] if user_a != user_b else []) + (["password"] if pw_a != pw_b else [])
    return fields


def _answer(change: dict, status: int = 200):
    return jsonify({**use.listing(system()), "change": change}), status


# --------------------------------------------------------------------------- page and list
@bp.route("/cameras")
@requires(Action.MANAGE_CAMERAS)
def page():
    return render_template("cameras.html",
                           max_cameras=camera_list.MAX_CAMERAS)


@bp.route("/api/cameras/config")
@requires(Action.MANAGE_CAMERAS)
def list_cameras():
    return jsonify(use.listing(system()))


# --------------------------------------------------------------------------- changes
@bp.route("/api/cameras/config", methods=["POST"])
@requires(Action.MANAGE_CAMERAS)
def add_camera():
    try:
        form = validate(CameraForm, _payload())
        change = use.add(system(), form)
    except REFUSED as exc:
        return _refusal(exc)
    camera = next(c for c in system().settings.cameras if c.name == form.name)
    audit("camera.add", "camera", camera.name, **_summary(camera))
    return _answer(change, 201)


@bp.route("/api/cameras/config/<camera>", methods=["PUT"])
@requires(Action.MANAGE_CAMERAS)
def change_camera(camera: str):
    before = {c.name: c for c in system().settings.cameras}
    try:
        form = validate(CameraForm, _payload())
        change = use.change(system(), camera, form)
    except REFUSED as exc:
        return _refusal(exc)
    now = next(c for c in system().settings.cameras if c.name == form.name)
    audit("camera.update", "camera", now.name, previous_name=camera if camera != now.name else None,
          changed=_changed_fields(before[camera], now), **_summary(now))
    return _answer(change)


@bp.route("/api/cameras/config/<camera>", methods=["DELETE"])
@requires(Action.MANAGE_CAMERAS)
def remove_camera(camera: str):
    try:
        change = use.remove(system(), camera)
    except REFUSED as exc:
        return _refusal(exc)
    audit("camera.remove", "camera", camera)
    return _answer(change)


@bp.route("/api/cameras/order", methods=["PUT"])
@requires(Action.MANAGE_CAMERAS)
def reorder_cameras():
    try:
        order = validate(CameraOrder, _payload())
        change = use.reorder(system(), order)
    except REFUSED as exc:
        return _refusal(exc)
    audit("camera.reorder", "camera", None, order=order.names)
    return _answer(change)


# --------------------------------------------------------------------------- test
@bp.route("/api/cameras/test", methods=["POST"])
@requires(Action.MANAGE_CAMERAS)
def test_camera():
    """Connect to a source and say what was found (codec, size, fps, snapshot, latency) or why
    not. Nothing changes (and nothing is audited: no setting moves)."""
    try:
        form = validate(CameraTest, _payload())
        return jsonify(use.try_source(system(), form))
    except REFUSED as exc:
        return _refusal(exc)
