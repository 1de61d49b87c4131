"""Request bodies of the notifications API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from buildsvc.notifications.events import SUBSCRIBABLE

EventName = Literal[
    "build.queued",
    "build.started",
    "build.succeeded",
    "build.failed",
    "build.canceled",
    "image.pushed",
    "tag.deleted",
]
ALL_EVENTS: list[EventName] = [event.value for event in SUBSCRIBABLE]  # type: ignore[misc]


class NotificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook", "slack"]
    url: str = Field(min_length=1, max_length=2048)
    description: str = Field(default="", max_length=255)
    events: list[EventName] = Field(default_factory=lambda: list(ALL_EVENTS), min_length=1)


class NotificationPatch(BaseModel):
    """``enabled: true`` re-enables a target disabled after failing; ``url`` is checked
    as on creation."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    description: str | None = Field(default=None, max_length=255)
    events: list[EventName] | None = Field(default=None, min_length=1)
    enabled: bool | None = None
