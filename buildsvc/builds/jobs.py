"""Housekeeping on a build's arq job, beyond enqueueing (``builds.outbox``).

A build's first job is ``build:{id}``; after its worker was lost, attempt N runs as
``build:{id}:retry{N}``, so a worker that only seemed dead (and ends its arq job later)
never removes the new attempt's job. arq keeps a job as its definition
(``arq:job:<id>``), an entry in the queue's sorted set (score: when it is due), an
in-progress marker while a worker runs it, a retry counter and, once it ended, its
result. arq has no API for the moves below, so they act on those keys (in
``builds.outbox``, the one module of ``builds`` that knows them), each in one MULTI/EXEC
transaction (no worker sees half of a move):

- ``drop``: forget a job entirely: a queued build was cancelled, or a build whose worker
  died is requeued (the dead worker's in-progress marker would otherwise keep the job
  from every other worker until it expires, an hour later);
- ``kick``: make a deferred job due now: a build waiting for the same ref's running
  build starts the moment that build ends;
- ``requeue``: ``drop`` the old job and enqueue the next attempt's; if Redis is down the
  build is left to the outbox sweeper (``enqueued`` false).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import outbox, store
from buildsvc.builds.logs import REDIS_ERRORS

log = logging.getLogger(__name__)


async def requeue(
    redis: outbox.ArqRedis | None,
    sessionmaker: async_sessionmaker[AsyncSession],
    build_id: int,
    *,
    old_attempt: int,
    attempt: int,
) -> bool:
    """Replace the job of ``old_attempt`` by one for ``attempt``; False: left to the outbox."""
    if redis is not None:
        try:
            await outbox.drop(redis, outbox.job_id(build_id, old_attempt))
            await redis.enqueue_job(
                outbox.JOB_FUNCTION, build_id, _job_id=outbox.job_id(build_id, attempt)
            )
        except REDIS_ERRORS as exc:
            log.warning("could not requeue build %s: %s", build_id, exc)
        else:
            await store.mark_enqueued(sessionmaker, build_id, True)
            return True
    await store.mark_enqueued(sessionmaker, build_id, False)
    return False
