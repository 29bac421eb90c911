"""What a request brings, validated with its one schema: a JSON body or a query string.

A body or query that does not fit answers 400 with the schema's one-line message
(:func:`common.payloads.explain`), before any service is called.
"""
from __future__ import annotations

from flask import abort, request

from common.payloads import Payload, PayloadError, validate


class Empty(Payload):
    """A body that must be ``{}`` (or absent): an action without options."""


def payload(model):
    """The request's JSON body validated into ``model`` (no body counts as ``{}``), or 400."""
    data = request.get_json(silent=True) if request.content_length else {}
    if data is None:
        abort(400, "the body must be a JSON object")
    try:
        return validate(model, data)
    except PayloadError as exc:
        abort(400, str(exc))


def query(model):
    """The request's query string validated into ``model`` (empty values count as absent), or 400."""
    try:
        return validate(model, {key: value for key, value in request.args.items() if value != ""})
    except PayloadError as exc:
        abort(400, str(exc))
