"""How a build ends when no step of it failed: timeout, a lost worker, an internal error.

Recorded on the build like the step failures of ``buildsvc.worker.errors``::

    ServiceError
    ├── BuildTimedOut       BUILD_TIMEOUT (status timed_out)
    ├── WorkerLost          WORKER_LOST (status failed, after the retry)
    └── InternalBuildError  INTERNAL_ERROR (status failed: a bug or an outage; logged)

A build whose forge account was unbound meanwhile fails with
``buildsvc.bindings.errors.SourceNotBound``.

``NotOwner`` is control flow, not an outcome: the build stopped being this worker's
(cancelled, requeued after a missed heartbeat), so the worker stops without touching it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from buildsvc.errors import ServiceError


class StopReason(enum.StrEnum):
    CANCELLED = "cancelled"  # through the API; the status says so already
    TIMED_OUT = "timed_out"
    LOST = "lost"  # no longer ours
    SHUTDOWN = "shutdown"  # the worker process is stopping: requeue


class NotOwner(Exception):
    """The build is no longer this worker's to change."""


class BuildTimedOut(ServiceError):
    code = "BUILD_TIMEOUT"
    status = 422
    default_message = "The build did not finish within the time limit."


class WorkerLost(ServiceError):
    code = "WORKER_LOST"
    status = 503
    default_message = "The worker running the build stopped responding."


class InternalBuildError(ServiceError):
    code = "INTERNAL_ERROR"
    status = 500
    default_message = "The build failed because of an internal error of the build service."


@dataclass(frozen=True, slots=True)
class Pushed:
    """What a build that succeeded records: the manifest digest and the image's size."""

    digest: str
    size: int | None  # bytes, config and layers; None when the registry would not say
