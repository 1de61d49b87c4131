"""The build state machine.

::

    queued ──► fetching ──► building ──► pushing ──► succeeded
       │           │            │           │
       └───────────┴────────────┴───────────┴──► failed | cancelled | timed_out
    queued ──► superseded          (a newer push to the same ref made it pointless)
    fetching | building | pushing ──► queued   (requeued after its worker was lost)

Finished builds never change again. ``transition`` enforces that in the database, not in
Python: it is one ``UPDATE ... WHERE id = :id AND status IN (allowed predecessors)``, so
when a worker finishing a build races a user cancelling it (or two workers race after a
requeue), exactly one wins and a finished build is never resurrected.

A move that is an event to notify (started, succeeded, failed, cancelled) records its
notifications in the same transaction (``notifications.events.on_transition``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.errors import ServiceError
from buildsvc.notifications.events import NOTIFIED_STATUSES, on_transition
from buildsvc.store.models import Build, utcnow


class BuildStatus(enum.StrEnum):
    QUEUED = "queued"
    FETCHING = "fetching"
    BUILDING = "building"
    PUSHING = "pushing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SUPERSEDED = "superseded"


S = BuildStatus
RUNNING: frozenset[BuildStatus] = frozenset({S.FETCHING, S.BUILDING, S.PUSHING})
UNFINISHED: frozenset[BuildStatus] = RUNNING | {S.QUEUED}
FINISHED: frozenset[BuildStatus] = frozenset(
    {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.TIMED_OUT, S.SUPERSEDED}
)
_ABORTS = frozenset({S.FAILED, S.CANCELLED, S.TIMED_OUT})

TRANSITIONS: dict[BuildStatus, frozenset[BuildStatus]] = {
    S.QUEUED: frozenset({S.FETCHING, S.SUPERSEDED}) | _ABORTS,
    S.FETCHING: frozenset({S.BUILDING, S.QUEUED}) | _ABORTS,
    S.BUILDING: frozenset({S.PUSHING, S.QUEUED}) | _ABORTS,
    S.PUSHING: frozenset({S.SUCCEEDED, S.QUEUED}) | _ABORTS,
    **{status: frozenset() for status in FINISHED},
}

PREDECESSORS: dict[BuildStatus, frozenset[BuildStatus]] = {
    target: frozenset(source for source, targets in TRANSITIONS.items() if target in targets)
    for target in BuildStatus
}

# The column stamped when a build enters a status (queued_at is set on insert and kept
# on requeue so the queue time stays honest).
PHASE_TIMESTAMP: dict[BuildStatus, str] = {
    S.FETCHING: "fetching_at",
    S.BUILDING: "building_at",
    S.PUSHING: "pushing_at",
    **{status: "finished_at" for status in FINISHED},
}

_COLUMNS = frozenset(Build.__table__.columns.keys())


def can_transition(source: BuildStatus | str, target: BuildStatus | str) -> bool:
    return BuildStatus(target) in TRANSITIONS[BuildStatus(source)]


def error_fields(error: ServiceError) -> dict[str, Any]:
    """The error columns of a failed build, from the error that failed it."""
    return {"error_code": error.code, "error_message": error.message, "error_detail": error.detail}


async def transition(
    session: AsyncSession,
    build_id: int,
    to: BuildStatus | str,
    *,
    only_from: Iterable[BuildStatus | str] | None = None,
    now: dt.datetime | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    notice: Mapping[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move a build to ``to`` if its current status allows it; True if it moved.

    ``only_from`` narrows the allowed predecessors further (cancel a build only while
    queued, say). ``where`` adds conditions to the same statement (a worker moves only a
    build it still owns: ``Build.worker_id == me``). ``fields`` are other columns to set
    in the same statement (``digest``, ``error_code`` ...). ``notice`` is what the move's
    notification says beyond the row (a failed build's ``step``). Runs in the caller's
    transaction; the caller commits.
    """
    target = BuildStatus(to)
    allowed = PREDECESSORS[target]
    if only_from is not None:
        allowed = allowed & {BuildStatus(status) for status in only_from}
    unknown = set(fields) - _COLUMNS
    if unknown:
        raise TypeError(f"builds has no column(s) {sorted(unknown)}")
    if not allowed:
        return False
    values: dict[str, Any] = {"status": target.value, **fields}
    now = now or utcnow()
    if target in PHASE_TIMESTAMP:
        values.setdefault(PHASE_TIMESTAMP[target], now)
    statement = (
        update(Build)
        .where(Build.id == build_id, Build.status.in_([status.value for status in allowed]))
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    moved = bool(getattr(result, "rowcount", 0) == 1)
    if moved and target.value in NOTIFIED_STATUSES:
        await on_transition(session, build_id, target.value, now, notice or {})
    return moved
