"""Build events on the webhook path: recorded with ``Prepared`` statements in intake's
raw transaction (``intake.db``), as ``events.on_transition`` does for the rest.

Intake calls this only for repositories with an enabled target (its repository read
says so), so a push to a repository without notifications costs nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select

from buildsvc.notifications.events import Event, build_events, delivery_rows
from buildsvc.store.fastpath.prepared import Prepared, RawConnection
from buildsvc.store.models import Build, NotificationDelivery, NotificationTarget

_TARGETS = Prepared(
    select(NotificationTarget.id, NotificationTarget.events)
    .where(
        NotificationTarget.repository_id == bindparam("n_repository_id"),
        NotificationTarget.enabled.is_(True),
    )
    .order_by(NotificationTarget.id)
)
_BUILD_KEYS = tuple(Build.__table__.columns.keys())
_BUILD = Prepared(select(*Build.__table__.columns).where(Build.id == bindparam("n_build_id")))
_DELIVERY_KEYS = (
    "target_id",
    "event",
    "build_id",
    "payload",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
    "last_attempt_at",
    "response_status",
    "response_ms",
    "error",
)
_INSERT = Prepared(insert(NotificationDelivery), column_keys=_DELIVERY_KEYS)


def record(
    connection: RawConnection,
    repository: Mapping[str, Any],
    superseded: Sequence[int],
    queued: Iterable[tuple[int, Mapping[str, Any]]],
    now: dt.datetime,
) -> None:
    """``build.canceled`` for the older builds ``superseded`` (ids), then ``build.queued``
    for each ``(id, row)`` inserted (and ``build.canceled`` after it, if it was inserted
    superseded)."""
    targets = _targets(connection, int(repository["id"]))
    if not targets:
        return
    for build_id in superseded:
        found = _BUILD.run(connection, {"n_build_id": build_id})
        if found:
            build = dict(zip(_BUILD_KEYS, found[0], strict=True))
            _insert(connection, targets, repository, build, Event.BUILD_CANCELED, now)
    for build_id, row in queued:
        build = {**row, "id": build_id, "digest": None}
        queued_build = {**build, "status": "queued"}
        _insert(connection, targets, repository, queued_build, Event.BUILD_QUEUED, now)
        if build["status"] == "superseded":
            _insert(connection, targets, repository, build, Event.BUILD_CANCELED, now)


def _targets(connection: RawConnection, repository_id: int) -> list[tuple[int, list[str]]]:
    """The repository's enabled targets, read once per transaction (a group commit
    records many deliveries to one repository)."""
    key = ("notifications.targets", repository_id)
    found: list[tuple[int, list[str]]] | None = connection.memo.get(key)
    if found is None:
        rows = _TARGETS.run(connection, {"n_repository_id": repository_id})
        found = [(int(target_id), [str(e) for e in events]) for target_id, events in rows]
        connection.memo[key] = found
    return found


def _insert(
    connection: RawConnection,
    targets: list[tuple[int, list[str]]],
    repository: Mapping[str, Any],
    build: Mapping[str, Any],
    event: Event,
    now: dt.datetime,
) -> None:
    events = build_events(repository, build, event)
    for row in delivery_rows(targets, events, int(build["id"]), now):
        _INSERT.run(connection, row)
