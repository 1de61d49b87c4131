"""Putting queued builds on the arq queue, with an outbox so none is ever lost.

A build row is committed first (``enqueued`` false), then its job is enqueued and the
row marked. If Redis is down, or the process dies in between, the row stays unmarked
and the outbox sweeper, run by every API process about once a second, enqueues it once
Redis answers. A build's job id is ``build:{id}`` (``build:{id}:retry{N}`` for attempt N
after a lost worker): a second job with the same id is refused, so a build enqueued
twice (intake and sweeper, or two sweeping processes) runs once.

Enqueueing does what ``ArqRedis.enqueue_job`` does (same keys, payload, expiry and
"a job or result with this id exists: do nothing" rule) in one Lua script, so one round
trip instead of arq's three (WATCH, EXISTS, MULTI/EXEC) on the webhook path; jobs of
concurrent deliveries share one pipeline. The same pipeline publishes on ``WAKE_CHANNEL``,
so an idle worker starts the job at once instead of at its next poll tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.prepared import Prepared, RawConnection
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.writer import run_write
from buildsvc.queue import LazyArqPool
from buildsvc.store.models import Build

log = logging.getLogger(__name__)

JOB_FUNCTION = "run_build"
ENQUEUE_TIMEOUT_SECONDS = 2.0  # bounds a webhook answer while Redis hangs
SWEEP_INTERVAL_SECONDS = 1.0
SWEEP_BATCH = 200
# Workers listen here for "jobs are due"; polling stays the fallback (no listener, no Redis).
WAKE_CHANNEL = "buildsvc:jobs:wake"

# KEYS: job, result, queue; ARGV: expiry ms, payload, score, job id.
_ENQUEUE_LUA = """
if redis.call('exists', KEYS[1], KEYS[2]) == 0 then
    redis.call('psetex', KEYS[1], ARGV[1], ARGV[2])
    redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
end
return 1
"""


def job_id(build_id: int, attempt: int = 0) -> str:
    base = f"build:{build_id}"
    return base if attempt == 0 else f"{base}:retry{attempt}"


class _Sender:
    """Jobs enqueued while a pipeline is in flight go together in the next one."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis
        self.pending: list[tuple[int, int, asyncio.Future[None]]] = []
        self.drainer: asyncio.Task[None] | None = None

    async def send(self, build_id: int, attempt: int) -> None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((build_id, attempt, future))
        if self.drainer is None:
            self.drainer = asyncio.get_running_loop().create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                await asyncio.sleep(0)  # let enqueues that are ready join this pipeline
                group, self.pending = self.pending, []
                try:
                    answers = await self._pipeline([(b, a) for b, a, _ in group])
                except BaseException as exc:  # not one of them made it
                    answers = [exc] * len(group)
                for (_, _, future), answer in zip(group, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(None)
        finally:
            self.drainer = None

    async def _pipeline(self, jobs: list[tuple[int, int]]) -> list[Any]:
        redis = self.redis
        now = timestamp_ms()
        async with redis.pipeline(transaction=False) as pipe:
            for build_id, attempt in jobs:
                job = job_id(build_id, attempt)
                payload = serialize_job(
                    JOB_FUNCTION, (build_id,), {}, None, now, serializer=redis.job_serializer
                )
                keys = [job_key_prefix + job, result_key_prefix + job, redis.default_queue_name]
                args = (redis.expires_extra_ms, payload, now, job)  # the payload is bytes
                pipe.execute_command("EVAL", _ENQUEUE_LUA, 3, *keys, *args)
            pipe.publish(WAKE_CHANNEL, b"1")  # same round trip; its answer is not one of ours
            answers = await pipe.execute(raise_on_error=False)
            return list(answers[: len(jobs)])


_senders: weakref.WeakKeyDictionary[ArqRedis, _Sender] = weakref.WeakKeyDictionary()


async def enqueue_job(redis: ArqRedis, build_id: int, attempt: int = 0) -> None:
    """``run_build(build_id)`` on the queue as ``job_id(build_id, attempt)``, unless there."""
    sender = _senders.get(redis)
    if sender is None:
        sender = _senders[redis] = _Sender(redis)
    await sender.send(build_id, attempt)


async def enqueue(
    pool: LazyArqPool,
    sessionmaker: async_sessionmaker[AsyncSession],
    build_ids: Sequence[int],
    attempts: Sequence[int] = (),
) -> list[int]:
    """Enqueue each build's job and mark the ones that made it; the rest wait for the sweeper.

    ``attempts`` pairs with ``build_ids`` (default: first attempts).
    """
    if not build_ids:
        return []
    redis = await pool.get()
    if redis is None:
        return []
    done: list[int] = []
    try:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
            for build_id, attempt in zip(build_ids, attempts or [0] * len(build_ids), strict=True):
                await enqueue_job(redis, build_id, attempt)
                done.append(build_id)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("enqueue failed, %d build(s) left to the outbox: %s", len(build_ids), exc)
    if done:
        await _mark_enqueued(sessionmaker, done)
    return done


@dataclass
class _Marks:
    build_ids: list[int] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


_marks: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], _Marks] = (
    weakref.WeakKeyDictionary()
)
_MARK = Prepared(update(Build).where(Build.id == bindparam("b_id")).values(enqueued=True))


async def _mark_enqueued(
    sessionmaker: async_sessionmaker[AsyncSession], build_ids: list[int]
) -> None:
    """Set ``enqueued``; marks asked for while one is written share the next statement.

    A mark that fails is only logged: the job is in Redis, and the sweeper, finding the
    build unmarked, enqueues it again (refused as a duplicate) and marks it.
    """
    marks = _marks.setdefault(sessionmaker, _Marks())
    waiter = asyncio.get_running_loop().create_future()
    marks.build_ids.extend(build_ids)
    marks.waiters.append(waiter)
    if marks.writer is None:
        marks.writer = asyncio.get_running_loop().create_task(_write_marks(sessionmaker, marks))
    await waiter


async def _write_marks(sessionmaker: async_sessionmaker[AsyncSession], marks: _Marks) -> None:
    try:
        while marks.waiters:
            build_ids, waiters = marks.build_ids, marks.waiters
            marks.build_ids, marks.waiters = [], []
            try:
                await run_write(sessionmaker, functools.partial(_mark, build_ids))
            except Exception:
                log.exception("could not mark %d build(s) enqueued", len(build_ids))
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
    finally:
        marks.writer = None


def _mark(build_ids: list[int], connection: RawConnection) -> None:
    for build_id in build_ids:
        _MARK.run(connection, {"b_id": build_id})


async def sweep_once(
    pool: LazyArqPool, sessionmaker: async_sessionmaker[AsyncSession], batch: int = SWEEP_BATCH
) -> int:
    """Enqueue queued builds whose job is not known to be in Redis; how many were."""
    async with sessionmaker() as session:
        statement = (
            select(Build.id, Build.attempt)
            .where(Build.status == BuildStatus.QUEUED.value, Build.enqueued.is_(False))
            .order_by(Build.id)
            .limit(batch)
        )
        rows = (await session.execute(statement)).all()
    ids, attempts = [row[0] for row in rows], [row[1] for row in rows]
    return len(await enqueue(pool, sessionmaker, ids, attempts))


async def run_sweeper(
    pool: LazyArqPool,
    sessionmaker: async_sessionmaker[AsyncSession],
    interval: float = SWEEP_INTERVAL_SECONDS,
) -> None:
    while True:
        try:
            count = await sweep_once(pool, sessionmaker)
            if count:
                log.info("outbox: enqueued %d build(s)", count)
        except Exception:  # a database hiccup must not end the sweeper
            log.exception("outbox sweep failed; retrying")
        await asyncio.sleep(interval)


def outbox_ctx(
    pool_key: web.AppKey[LazyArqPool],
    sessionmaker_key: web.AppKey[async_sessionmaker[AsyncSession]],
    interval: float = SWEEP_INTERVAL_SECONDS,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the sweeper for the application's lifetime.

    Takes the application's keys (``outbox_ctx(ARQ, SESSIONMAKER)``) so this package
    does not import the HTTP layer; list it after the contexts that set those keys.
    """

    async def outbox(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run_sweeper(app[pool_key], app[sessionmaker_key], interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return outbox
