"""The payloads of work cards, each field with its one limit: used by the routes (JSON bodies)
and by the services (which validate what they are given with the same schemas)."""
from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from common.payloads import PRINTABLE, Payload, PrintableText
from scoring.inputs import StepInputs

MAX_TITLE = 120
MAX_DESCRIPTION = 4_000
MAX_TAGS, MAX_TAG = 20, 40
MAX_STEPS, MAX_STEP_NAME, MAX_INSTRUCTIONS = 50, 80, 2_000
_PRINTABLE_MESSAGE = "must not hold control characters"


def _printable(text: str, what: str) -> str:
    if not re.fullmatch(PRINTABLE, text):
        raise ValueError(f"the {what} {_PRINTABLE_MESSAGE}")
    return text


def check_title(value: object) -> str:
    title = value.strip() if isinstance(value, str) else ""
    if not title:
        raise ValueError("the title is empty")
    if len(title) > MAX_TITLE:
        raise ValueError(f"the title is longer than {MAX_TITLE} characters")
    return _printable(title, "title")


def check_description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("the description must be text")
    if len(value) > MAX_DESCRIPTION:
        raise ValueError(f"the description is longer than {MAX_DESCRIPTION} characters")
    return _printable(value.strip(), "description")


def check_tags(value: object) -> list[str]:
    """Tags as stored: words, spaces collapsed, duplicates (any case) dropped."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("tags must be a list of words")
    if len(value) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    clean, seen = [], set()
    for tag in value:
        if not isinstance(tag, str) or not tag.strip():
            raise ValueError("a tag is empty")
        tag = " ".join(tag.split())
        if len(tag) > MAX_TAG:
            raise ValueError(f"the tag {tag[:MAX_TAG]!r}... is longer than {MAX_TAG} characters")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            clean.append(_printable(tag, "tag"))
    return clean


class NewCard(Payload):
    title: str
    description: str = ""
    tags: list[str] = []

    _title = field_validator("title", mode="before")(check_title)
    _description = field_validator("description", mode="before")(check_description)
    _tags = field_validator("tags", mode="before")(check_tags)


class CardChanges(Payload):
    title: str | None = None
    description: str | None = None
    tags: list[str] | None = None

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value):
        return None if value is None else check_title(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value):
        return None if value is None else check_description(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value):
        return None if value is None else check_tags(value)

    @model_validator(mode="after")
    def _something(self):
        if self.title is None and self.description is None and self.tags is None:
            raise ValueError("nothing to change: give title, description or tags")
        return self


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"the {what} must be a number of seconds")
    return float(value)


class StepIn(Payload):
    """One step of a card: a name, instructions, its times on the reference take (s), and the
    ergonomic inputs the cameras cannot see (load, coupling, a lift...; None: the defaults)."""

    name: str
    instructions: PrintableText = ""
    start_s: float
    end_s: float
    ergonomics: StepInputs | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value):
        name = " ".join(value.split()) if isinstance(value, str) else ""
        if not name:
            raise ValueError("the name is empty")
        if len(name) > MAX_STEP_NAME:
            raise ValueError(f"the name is longer than {MAX_STEP_NAME} characters")
        return _printable(name, "name")

    @field_validator("instructions", mode="before")
    @classmethod
    def _instructions(cls, value):
        value = value or ""
        if not isinstance(value, str) or len(value) > MAX_INSTRUCTIONS:
            raise ValueError(f"instructions must be text of at most {MAX_INSTRUCTIONS} characters")
        return value.strip()

    @field_validator("start_s", mode="before")
    @classmethod
    def _start(cls, value):
        return _seconds(value, "start")

    @field_validator("end_s", mode="before")
    @classmethod
    def _end(cls, value):
        return _seconds(value, "end")


class Steps(Payload):
    steps: Annotated[list[StepIn], Field(max_length=MAX_STEPS)]


class ReferenceChoice(Payload):
    take_id: Annotated[str, Field(min_length=1, max_length=32)]
