"""What happened, as a notification: event names, their payloads, and ``emit``.

Events are recorded as deliveries (one row per enabled target that wants the event) in
the transaction that made them happen: an outbox, so an event is sent if and only if
its change committed, and a repository without targets pays one indexed read.

A payload follows the Standard Webhooks shape ``{"type", "timestamp", "data"}``; a
build's ``data`` is ``{"repository": {...}, "build": {...}}`` plus, per event,
``error`` (``build.failed``), ``reason`` (``build.canceled``) or ``tag`` and ``digest``
(``image.pushed``, ``tag.deleted``). The build page's URL is added when it is sent.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from buildsvc.store.models import (
    Build,
    ImageRepository,
    NotificationDelivery,
    NotificationTarget,
    utcnow,
)


class Event(enum.StrEnum):
    BUILD_QUEUED = "build.queued"
    BUILD_STARTED = "build.started"
    BUILD_SUCCEEDED = "build.succeeded"
    BUILD_FAILED = "build.failed"
    BUILD_CANCELED = "build.canceled"
    IMAGE_PUSHED = "image.pushed"
    TAG_DELETED = "tag.deleted"
    TEST = "notification.test"  # the "send test" action's; not subscribed to


SUBSCRIBABLE: tuple[Event, ...] = tuple(event for event in Event if event is not Event.TEST)

# The event a build's move into a status is (builds.states.transition calls ``on_transition``).
_STATUS_EVENTS: dict[str, Event] = {
    "fetching": Event.BUILD_STARTED,
    "succeeded": Event.BUILD_SUCCEEDED,
    "failed": Event.BUILD_FAILED,
    "timed_out": Event.BUILD_FAILED,
    "cancelled": Event.BUILD_CANCELED,
    "superseded": Event.BUILD_CANCELED,
}
NOTIFIED_STATUSES = frozenset(_STATUS_EVENTS)


def payload(event: Event, data: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    stamp = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return {"type": event.value, "timestamp": stamp, "data": dict(data)}


def build_data(repository: Mapping[str, Any], build: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` every build event shares; ``build`` is a builds row (or its dict)."""
    return {
        "repository": {
            "id": repository["id"],
            "namespace": repository["namespace"],
            "name": repository["name"],
        },
        "build": {
            "id": build["id"],
            "status": build["status"],
            "trigger": build["trigger"],
            "ref": build["ref"],
            "ref_name": build["ref_name"],
            "commit_sha": build["commit_sha"],
            "tags": list(build["tags"]),
            "digest": build.get("digest"),
        },
    }


def build_events(
    repository: Mapping[str, Any], build: Mapping[str, Any], event: Event
) -> list[tuple[Event, dict[str, Any]]]:
    """The events (with their data) a build's move into its current status makes;
    a success is first an ``image.pushed`` per tag."""
    data = build_data(repository, build)
    if event is Event.BUILD_FAILED:
        data["error"] = {
            "code": build.get("error_code"),
            "message": build.get("error_message"),
            "step": build.get("step"),  # the transition's notice: not a column
        }
    elif event is Event.BUILD_CANCELED:
        data["reason"] = "superseded" if build["status"] == "superseded" else "cancelled"
    found: list[tuple[Event, dict[str, Any]]] = []
    if event is Event.BUILD_SUCCEEDED:
        for reference in build["tags"]:
            pushed = build_data(repository, build)
            pushed.update(tag=str(reference), digest=build.get("digest"))
            found.append((Event.IMAGE_PUSHED, pushed))
    found.append((event, data))
    return found


def delivery_rows(
    targets: Iterable[tuple[int, Sequence[str]]],
    events: Iterable[tuple[Event, Mapping[str, Any]]],
    build_id: int | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Every column of the deliveries of ``events`` to the ``targets`` that want them,
    in the events' order (the order they are sent in, per target)."""
    targets = list(targets)
    rows = []
    for event, data in events:
        body = payload(event, data, now)
        for target_id, wanted in targets:
            if event.value in wanted or event is Event.TEST:
                rows.append(
                    {
                        "target_id": target_id,
                        "event": event.value,
                        "build_id": build_id,
                        "payload": body,
                        "state": "pending",
                        "attempts": 0,
                        "created_at": now,
                        "next_attempt_at": now,
                        "last_attempt_at": None,
                        "response_status": None,
                        "response_ms": None,
                        "error": None,
                    }
                )
    return rows


def has_targets(repository_id: ColumnElement[int] | InstrumentedAttribute[int]) -> Exists:
    """Whether the repository has a target that events are recorded for."""
    return (
        select(NotificationTarget.id)
        .where(
            NotificationTarget.repository_id == repository_id,
            NotificationTarget.enabled.is_(True),
        )
        .exists()
    )


async def _targets(session: AsyncSession, repository_id: int) -> list[tuple[int, list[str]]]:
    statement = select(NotificationTarget.id, NotificationTarget.events).where(
        NotificationTarget.repository_id == repository_id, NotificationTarget.enabled.is_(True)
    )
    return [(int(i), [str(e) for e in events]) for i, events in await session.execute(statement)]


async def emit(
    session: AsyncSession,
    repository_id: int,
    event: Event,
    data: Mapping[str, Any],
    *,
    build_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Record ``event`` for the repository's targets in the caller's transaction (the
    caller commits; a worker sends it soon after). How many deliveries it made.

    For events from outside builds, such as the registry's ``image.pushed`` and
    ``tag.deleted``: ``data`` is ``{"repository": {...}, "tag": ..., "digest": ...}``.
    """
    targets = await _targets(session, repository_id)
    rows = delivery_rows(targets, [(event, data)], build_id, now or utcnow())
    if rows:
        await session.execute(insert(NotificationDelivery), rows)
    return len(rows)


_BUILD_COLUMNS = list(Build.__table__.columns)


async def on_transition(
    session: AsyncSession,
    build_id: int,
    status: str,
    now: dt.datetime,
    notice: Mapping[str, Any] | None = None,
) -> None:
    """Record the events of a build's move into ``status``, in the move's transaction."""
    event = _STATUS_EVENTS.get(status)
    if event is not None:
        await record_build(session, build_id, event, now, notice)


async def record_build(
    session: AsyncSession,
    build_id: int,
    event: Event,
    now: dt.datetime,
    notice: Mapping[str, Any] | None = None,
) -> None:
    """Record a build's event (and those it implies) for its repository's targets."""
    # Columns, not entities: the session may hold this build as it was before the move.
    statement = (
        select(*_BUILD_COLUMNS, ImageRepository.namespace, ImageRepository.name)
        .join(ImageRepository, ImageRepository.id == Build.repository_id)
        .where(Build.id == build_id, has_targets(Build.repository_id))
    )
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        return
    repository = {"id": row["repository_id"], "namespace": row["namespace"], "name": row["name"]}
    targets = await _targets(session, int(row["repository_id"]))
    events = build_events(repository, {**row, **(notice or {})}, event)
    rows = delivery_rows(targets, events, build_id, now)
    if rows:
        await session.execute(insert(NotificationDelivery), rows)
