"""Finding builds whose worker died, and queued builds whose job vanished.

Every worker runs ``reap_forever``: once at startup, then every few seconds. A build
in fetching, building or pushing whose heartbeat is older than
``settings.worker_lost_after_seconds`` lost its worker (SIGKILL, a crashed machine):

- requeued (``queued``, attempt + 1, the old job dropped, a new one enqueued) while it
  has been requeued fewer than ``settings.worker_lost_retries`` times;
- after that, ``failed`` with ``WORKER_LOST`` (and its commit status ``failed``: the
  lost worker had set it ``running``).

Each move is a guarded ``transition`` that also requires the heartbeat to still be stale
and the attempt unchanged, so two reapers (or a worker that was only slow) cannot both
act on it. A line in the build's log says what happened.

A queued build whose job is not in Redis is enqueued again, so no build waits forever:
one marked as enqueued whose job vanished (Redis restarted: the queue is not persisted),
and one left in the outbox (Redis was down when it was queued) for ``OUTBOX_SECONDS``
(the API's sweeper normally takes those sooner; workers do it too, so the outbox never
depends on one process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import ColumnElement

from buildsvc.builds import forge_status, jobs, logs, outbox, store
from buildsvc.builds.logs import LogLine
from buildsvc.builds.states import BuildStatus
from buildsvc.store.models import utcnow
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.outcomes import WorkerLost

log = logging.getLogger(__name__)

OUTBOX_SECONDS = 5.0


def interval(deps: WorkerDeps) -> float:
    return max(1.0, min(deps.settings.worker_lost_after_seconds / 3, 10.0))


async def reap_forever(deps: WorkerDeps) -> None:
    while True:
        try:
            await reap_once(deps)
        except Exception:  # a database or Redis hiccup must not end the reaper
            log.exception("reaping lost builds failed; retrying")
        await asyncio.sleep(interval(deps))


async def reap_once(deps: WorkerDeps) -> list[int]:
    """Requeue or fail the builds whose worker is lost; their ids."""
    cutoff = utcnow() - dt.timedelta(seconds=deps.settings.worker_lost_after_seconds)
    found = await store.silent_running(deps.sessionmaker, cutoff)
    reaped = []
    for build_id, attempt, worker_id in found:
        if await _reap(deps, build_id, attempt, worker_id, store.still_silent(attempt, cutoff)):
            reaped.append(build_id)
    await _revive_orphans(deps, cutoff)
    return reaped


async def _reap(
    deps: WorkerDeps,
    build_id: int,
    attempt: int,
    worker_id: str | None,
    stale: list[ColumnElement[bool]],
) -> bool:
    settings = deps.settings
    silent = f"no heartbeat from worker {worker_id} for {settings.worker_lost_after_seconds:g} s"
    retry = attempt < settings.worker_lost_retries
    if retry:
        status = BuildStatus.QUEUED
        note = f"The worker was lost ({silent}); the build is queued again."
        fields: dict[str, Any] = {
            "attempt": attempt + 1,
            "worker_id": None,
            "fetching_at": None,
            "building_at": None,
            "pushing_at": None,
        }
    else:
        status = BuildStatus.FAILED
        error = WorkerLost(detail=f"{silent}; requeued {attempt} time(s) already")
        note = f"Build failed: {error.code}: {error.message} ({error.detail})"
        fields = {
            "error_code": error.code,
            "error_message": error.message,
            "error_detail": error.detail,
        }
    async with deps.sessionmaker.begin() as session:
        if not await store.transition(
            session, build_id, status, where=stale, heartbeat_at=None, **fields
        ):
            return False
        line = LogLine(await logs.next_seq(session, build_id), utcnow(), note)
        await logs.store(session, build_id, [line])
    log.warning("build %s: %s", build_id, note)
    await logs.publish(deps.redis, build_id, logs.encode_lines([line]))
    if retry:
        await jobs.requeue(
            deps.redis, deps.sessionmaker, build_id, old_attempt=attempt, attempt=attempt + 1
        )
    else:
        await logs.publish_end(deps.redis, build_id, status, last=line.seq)  # stored with it
        # Its worker reported "running" on the forge; nobody else will end that.
        deps.spawn(forge_status.post_now(deps.access, [build_id], "lost"))
    return True


async def _revive_orphans(deps: WorkerDeps, cutoff: dt.datetime) -> None:
    if deps.redis is None:
        return
    left_since = utcnow() - dt.timedelta(seconds=OUTBOX_SECONDS)
    waiting = await store.orphan_candidates(deps.sessionmaker, cutoff, left_since)
    for build_id, attempt in waiting:
        job = outbox.job_id(build_id, attempt)
        try:
            in_redis = await outbox.job_waiting(deps.redis, job)
        except logs.REDIS_ERRORS:
            return
        if in_redis:
            # Left alone even when unmarked (the outbox sent it, the mark did not make
            # it): replacing it would drop a worker's in-progress marker, and a second
            # job would run for the build.
            continue
        log.warning("build %s: its job is not in Redis; enqueueing it", build_id)
        await jobs.requeue(
            deps.redis, deps.sessionmaker, build_id, old_attempt=attempt, attempt=attempt
        )
