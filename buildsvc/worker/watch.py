"""Keeping a running build honest: heartbeats, cancel requests, loss of ownership.

While a build runs, ``watch`` stamps ``heartbeat_at`` every
``settings.worker_heartbeat_seconds`` (the reaper of any worker takes a build whose
heartbeat went stale for lost) and reads the build's row every ``POLL_SECONDS``: once it
is cancelled, or no longer this worker's (requeued, failed by the reaper), the pipeline
task is cancelled, which closes the docker stream and stops the step in the engine.

Cancel requests also arrive at once over Redis: ``listen_for_cancels`` (one per worker
process) subscribes to ``CANCEL_CHANNEL`` and stops the named build if it runs here. The
poll is the fallback for a lost message or Redis being down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from buildsvc.builds import store
from buildsvc.builds.cancel import CANCEL_CHANNEL
from buildsvc.builds.logs import REDIS_ERRORS
from buildsvc.builds.states import RUNNING, BuildStatus
from buildsvc.outage import Backoff
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.outcomes import Pushed, StopReason

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


@dataclass
class Handle:
    """A running build's pipeline task and why it was stopped, if it was."""

    job: Job
    task: asyncio.Task[Pushed]
    reason: StopReason | None = None

    def stop(self, reason: StopReason) -> None:
        """Stop the pipeline; the first reason given is the one that counts."""
        if self.reason is None and not self.task.done():
            self.reason = reason
            self.task.cancel()

    def canceller(self) -> Callable[[], None]:
        return lambda: self.stop(StopReason.CANCELLED)


def verdict(job: Job, row: tuple[str, bool, str | None, int] | None) -> StopReason | None:
    """Why the build must stop, from its row; None while it is still ours to run."""
    if row is None:
        return StopReason.LOST
    status, cancel_requested, worker_id, attempt = row
    if status == BuildStatus.CANCELLED or cancel_requested:
        return StopReason.CANCELLED
    if status not in RUNNING or worker_id != job.worker_id or attempt != job.attempt:
        return StopReason.LOST
    return None


async def _beat(deps: WorkerDeps, job: Job) -> None:
    await store.heartbeat(deps.sessionmaker, job.build_id, job.worker_id, job.attempt)


async def row(deps: WorkerDeps, build_id: int) -> tuple[str, bool, str | None, int] | None:
    return await store.control_row(deps.sessionmaker, build_id)


async def watch(deps: WorkerDeps, handle: Handle) -> None:
    """Until the pipeline ends: heartbeat, and stop it when the row says so."""
    next_beat = time.monotonic() + deps.settings.worker_heartbeat_seconds
    while not handle.task.done():
        await asyncio.sleep(POLL_SECONDS)
        try:
            if time.monotonic() >= next_beat:
                await _beat(deps, handle.job)
                next_beat = time.monotonic() + deps.settings.worker_heartbeat_seconds
            reason = verdict(handle.job, await row(deps, handle.job.build_id))
        except SQLAlchemyError as exc:  # the database is away: keep building, retry
            log.warning("watching build %s: %s", handle.job.build_id, exc)
            continue
        if reason is not None:
            handle.stop(reason)


async def listen_for_cancels(deps: WorkerDeps) -> None:
    """Stop builds of this process named on the cancel channel (runs until cancelled)."""
    backoff = Backoff()
    while deps.redis is not None:
        pubsub = deps.redis.pubsub()
        try:
            await pubsub.subscribe(CANCEL_CHANNEL)
            backoff.reset()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                data = message["data"]
                text = data.decode() if isinstance(data, bytes) else str(data)
                stop = deps.running.get(int(text)) if text.isdigit() else None
                if stop is not None:
                    log.info("build %s: cancel requested", text)
                    stop()
        except REDIS_ERRORS as exc:  # the supervisor logs the outage; polling covers it
            log.debug("cancel channel unavailable: %s", exc)
            await asyncio.sleep(backoff.next())
        finally:
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
