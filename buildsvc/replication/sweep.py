"""Queue again the copies whose job is gone, so none is lost.

A row is planned (committed) before its job is queued, so Redis being down then leaves
it ``pending`` without a job; a Redis restart loses queued and deferred jobs; a job
that died on an unexpected error leaves its row ``copying``. Every
``SWEEP_INTERVAL_SECONDS`` one worker (an arq cron job, unique across workers) looks at
rows still waiting (pending, copying, or failed with a retry due) that nothing touched
for ``LOST_AFTER_SECONDS`` and whose job Redis does not have, gives each a new job token
and queues it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.outbox import ArqRedis, job_known
from buildsvc.queue import CronSpec
from buildsvc.replication.jobs import DEPS, ReplicationDeps, enqueue, job_id
from buildsvc.replication.plan import Planned
from buildsvc.store.models import Replication

__all__ = ["LOST_AFTER_SECONDS", "requeue_lost", "sweep_cron"]

LOST_AFTER_SECONDS = 120.0  # beyond a job's polling, backoff jitter and a slow attempt start
SWEEP_SECONDS = frozenset({7, 37})  # twice a minute, off the minute's busiest second
BATCH = 200


async def requeue_lost(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    lost_after: float = LOST_AFTER_SECONDS,
) -> int:
    """Queue the rows whose job Redis lost; how many."""
    now = dt.datetime.now(dt.UTC)
    quiet = now - dt.timedelta(seconds=lost_after)
    waiting = or_(
        Replication.status.in_(("pending", "copying")),
        and_(Replication.status == "failed", Replication.retry_at.is_not(None)),
    )
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(Replication)
                .where(waiting, Replication.updated_at < quiet)
                .order_by(Replication.id)
                .limit(BATCH)
            )
        ).all()
    lost: list[Planned] = []
    for row in rows:
        if row.retry_at is not None and row.retry_at > quiet:
            continue  # its retry is not overdue yet
        planned = Planned(row.id, row.generation, row.job_token)
        if not await job_known(redis, job_id(planned)):
            lost.append(planned)
    renamed: list[Planned] = []
    for item in lost:
        async with sessions.begin() as session:
            found = await session.get(Replication, item.replication_id, with_for_update=True)
            if found is None or (found.generation, found.job_token) != (
                item.generation,
                item.job_token,
            ):
                continue  # planned again meanwhile: that plan queued its own job
            found.job_token = secrets.token_hex(8)  # an old job's kept result must not refuse it
            renamed.append(Planned(found.id, found.generation, found.job_token))
    return await enqueue(redis, renamed)


async def _sweep(ctx: dict[str, Any]) -> int:
    deps: ReplicationDeps = ctx[DEPS]
    return await requeue_lost(deps.sessionmaker, ctx["redis"])


def sweep_cron() -> CronSpec:
    return CronSpec("replication-sweep", _sweep, second=SWEEP_SECONDS, unique=True)
