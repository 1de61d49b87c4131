"""The build state machine.

::

    queued ──► fetching ──► building ──► pushing ──► succeeded
       │           │            │           │
       └───────────┴────────────┴───────────┴──► failed | cancelled | timed_out
    queued ──► superseded          (a newer push to the same ref made it pointless)
    fetching | building | pushing ──► queued   (requeued after its worker was lost)

Finished builds never change again. ``builds.store.transition`` enforces that in the
database, not in Python: it is one
``UPDATE ... WHERE id = :id AND status IN (allowed predecessors)``, so when a worker
finishing a build races a user cancelling it (or two workers race after a requeue),
exactly one wins and a finished build is never resurrected.

A move that is an event to notify (started, succeeded, failed, cancelled) records its
notifications in the same transaction (``notifications.events.on_transition``).
"""

from __future__ import annotations

import enum
from typing import Any

from buildsvc.errors import ServiceError


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


def can_transition(source: BuildStatus | str, target: BuildStatus | str) -> bool:
    return BuildStatus(target) in TRANSITIONS[BuildStatus(source)]


def error_fields(error: ServiceError) -> dict[str, Any]:
    """The error columns of a failed build, from the error that failed it."""
    return {"error_code": error.code, "error_message": error.message, "error_detail": error.detail}
