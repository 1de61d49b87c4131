"""The job queue's vocabulary, in the service's own words (no arq here).

Job modules (``notifications``, ``replication``, ``worker.run``) declare their jobs
with ``JobSpec``/``CronSpec``, ask for a later attempt with ``RetryLater`` and enqueue
through a ``JobQueue``. Only ``builds.outbox`` (the client side: the Redis pool, the
fast enqueue, job ids and keys) and ``worker.main`` (the worker side: turning these
into arq's functions and cron jobs, and ``RetryLater`` into arq's ``Retry``) import
arq (``tests/test_arq_boundary.py``), so an arq upgrade (pinned to a minor range in
``pyproject.toml``) is checked in those two places.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CronSpec", "JobCoroutine", "JobQueue", "JobSpec", "RetryLater"]

# A job: the worker's context (a dict of its dependencies) and the job's arguments.
JobCoroutine = Callable[..., Awaitable[Any]]


class RetryLater(Exception):
    """Raised by a job: end this attempt and run the job again in ``defer_seconds``
    (an attempt counted against its ``max_tries``)."""

    def __init__(self, defer_seconds: float = 0) -> None:
        super().__init__(f"retry in {defer_seconds:g} s")
        self.defer_seconds = defer_seconds


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job the worker runs, by ``name``; None keeps the worker's default."""

    name: str
    coroutine: JobCoroutine
    timeout: float | None = None
    max_tries: int | None = None
    keep_result: float | None = None  # seconds a finished job's result (and id) is kept


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A job the worker runs on a schedule: at these seconds of every minute."""

    name: str
    coroutine: JobCoroutine
    second: frozenset[int]
    unique: bool = True  # one run across all workers per tick


class JobQueue(Protocol):
    """What enqueuing needs of the queue's Redis connection (``builds.outbox``'s pool).

    A job id already queued, running or with a kept result is refused (None).
    """

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None
    ) -> object | None: ...
