"""Putting queued builds on the arq queue, with an outbox so none is ever lost.

A build row is committed first (``enqueued`` false), then its job is enqueued and the
row marked (``Outbox.enqueue``). If Redis is down, or the process dies in between, the row
stays unmarked and the outbox sweeper, run by every API process about once a second,
enqueues it once Redis answers. A build's job id is ``build:{id}`` (``build:{id}:retry{N}``
for attempt N after a lost worker): a second job with the same id is refused, so a build
enqueued twice (intake and sweeper, or two sweeping processes) runs once.

Webhook intake saves the marking write (``Outbox.enqueue_recorded``): while Redis is reachable
it commits its builds as ``enqueued`` already, and unmarks the ones whose job then does
not make it, which puts them in the outbox. Should the process die between the commit
and Redis, the workers' reaper (``worker.reaper``) enqueues such a build: queued, marked,
and no job in Redis.

Enqueueing does what ``ArqRedis.enqueue_job`` does (same keys, payload, expiry and
"a job or result with this id exists: do nothing" rule) in one Lua script, so one round
trip instead of arq's three (WATCH, EXISTS, MULTI/EXEC) on the webhook path; jobs of
concurrent deliveries share one call of the script (``EVALSHA``, the script's text only
when Redis does not know it yet). The same call publishes on ``WAKE_CHANNEL``, so an
idle worker starts the job at once instead of at its next poll tick.

This is the client side of arq, and besides ``worker.main`` the only module that
imports it (``tests/test_arq_boundary.py``): ``LazyArqPool`` and ``ArqRedis``, the Redis
connection every enqueuer uses; besides the enqueue, ``drop``, ``kick``, ``job_known``
and ``job_waiting`` act on a job's keys for ``builds.jobs``, ``builds.cancel``, the
worker's reaper and the replication sweep. The state of the round trips and marks in
flight lives on an ``Outbox`` (one per application, ``outbox_ctx``), not in this module.

``LazyArqPool``: the API must start and accept webhook deliveries while Redis is
unreachable (builds stay in the outbox), so ``await pool.get()`` connects lazily and
returns None while Redis cannot be reached (tried again at most every
``retry_interval`` seconds, so a burst of requests during an outage neither hammers
Redis nor waits on connect timeouts). Once connected the pool is kept: redis-py
reconnects by itself, and a command sent while Redis is down raises, which callers
treat like None. Enqueues report to ``outage``: one line when Redis goes, one when back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from arq.connections import ArqRedis
from arq.constants import (
    default_queue_name,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import store
from buildsvc.outage import Outage
from buildsvc.store.fastpath.writer import Writer

__all__ = [
    "JOB_FUNCTION",
    "WAKE_CHANNEL",
    "ArqRedis",
    "LazyArqPool",
    "Outbox",
    "Sender",
    "drop",
    "job_id",
    "job_known",
    "job_waiting",
    "kick",
    "outbox_ctx",
    "sweeper_ctx",
]

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]

CONNECT_TIMEOUT_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 5.0

JOB_FUNCTION = "run_build"
ENQUEUE_TIMEOUT_SECONDS = 2.0  # bounds a webhook answer while Redis hangs
SWEEP_STOP_SECONDS = 5.0  # how long shutdown waits for a sweep under way
SWEEP_INTERVAL_SECONDS = 1.0
SWEEP_BATCH = 200
# Workers listen here for "jobs are due"; polling stays the fallback (no listener, no Redis).
WAKE_CHANNEL = "buildsvc:jobs:wake"

# One call enqueues every job of a round trip and wakes the workers.
# KEYS: the queue, then each job's job key and result key.
# ARGV: expiry ms, the wake channel, then each job's payload, score and id.
_ENQUEUE_LUA = """
for i = 2, #KEYS, 2 do
    local n = 3 * i / 2
    if redis.call('exists', KEYS[i], KEYS[i + 1]) == 0 then
        redis.call('psetex', KEYS[i], ARGV[1], ARGV[n])
        redis.call('zadd', KEYS[1], ARGV[n + 1], ARGV[n + 2])
    end
end
redis.call('publish', ARGV[2], '1')
return 1
"""
# Redis names scripts by their SHA-1: an identifier here, not a security measure.
_ENQUEUE_SHA = hashlib.sha1(_ENQUEUE_LUA.encode(), usedforsecurity=False).hexdigest()


def job_id(build_id: int, attempt: int = 0) -> str:
    base = f"build:{build_id}"
    return base if attempt == 0 else f"{base}:retry{attempt}"


async def drop(redis: ArqRedis, job: str) -> None:
    """Forget a job entirely (one MULTI/EXEC: no worker sees half of it)."""
    async with redis.pipeline(transaction=True) as tx:
        tx.zrem(default_queue_name, job)
        tx.delete(
            job_key_prefix + job,
            in_progress_key_prefix + job,
            result_key_prefix + job,
            retry_key_prefix + job,
        )
        await tx.execute()


async def kick(redis: ArqRedis, job: str) -> bool:
    """Make a queued (deferred) job due now and wake the workers; False if it is not in
    the queue."""
    changed = await redis.zadd(default_queue_name, {job: timestamp_ms()}, xx=True, ch=True)
    if changed:  # an idle worker starts it now, not at its next poll
        await redis.publish(WAKE_CHANNEL, b"1")
    return bool(changed)


async def job_known(redis: ArqRedis, job: str) -> bool:
    """Whether Redis holds the job's definition (queued, deferred or running)."""
    return bool(await redis.exists(job_key_prefix + job))


async def job_waiting(redis: ArqRedis, job: str) -> bool:
    """Whether the job is defined and in the queue (to run, or running)."""
    known = await job_known(redis, job)
    queued = await redis.zscore(default_queue_name, job)
    return known and queued is not None


class LazyArqPool:
    """The enqueuers' Redis pool, connected on first use; None while Redis is down."""

    def __init__(self, redis_url: str, *, retry_interval: float = 2.0) -> None:
        self._url = redis_url
        self._retry_interval = retry_interval
        self._pool: ArqRedis | None = None
        self._next_attempt = 0.0
        self._lock = asyncio.Lock()
        # Told by every enqueue how it went: one log line when Redis goes, one when back.
        self.outage = Outage(log)

    @property
    def connected(self) -> bool:
        return self._pool is not None

    async def get(self) -> ArqRedis | None:
        """The pool, connecting first if needed; None while Redis is unreachable."""
        if self._pool is not None:
            return self._pool
        if time.monotonic() < self._next_attempt:
            return None
        async with self._lock:
            if self._pool is None and time.monotonic() >= self._next_attempt:
                self._pool = await self._connect()
                if self._pool is None:
                    self._next_attempt = time.monotonic() + self._retry_interval
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()
            await pool.connection_pool.disconnect()

    async def _connect(self) -> ArqRedis | None:
        connections = ConnectionPool.from_url(
            self._url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
        )
        redis = ArqRedis(connections)
        try:
            await redis.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            self.outage.lost(exc)  # builds stay in the outbox
            await redis.aclose()
            await connections.disconnect()
            return None
        self.outage.restored()
        return redis


class Sender:
    """Jobs enqueued while a round trip is in flight go together in the next one.

    The round trips run one at a time on a connection of the pool kept for this sender,
    so each is a plain write and read: each job's deadline bounds them (one timer per
    round trip), not redis-py's ``socket_timeout``, which costs a task per command.
    """

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis
        self.pending: list[tuple[int, int, float, asyncio.Future[None]]] = []
        self.drainer: asyncio.Task[None] | None = None
        self.connection: AbstractConnection | None = None

    async def enqueue_job(self, build_id: int, attempt: int = 0) -> None:
        """``run_build(build_id)`` on the queue as ``job_id(build_id, attempt)``, unless there."""
        deadline = asyncio.get_running_loop().time() + ENQUEUE_TIMEOUT_SECONDS
        [future] = self.send([(build_id, attempt)], deadline)
        await future

    async def close(self) -> None:
        """Stop the round trip in flight (its jobs fail) and drop this sender's connection."""
        if self.drainer is not None:
            self.drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.drainer
        if self.connection is not None:
            connection, self.connection = self.connection, None
            await connection.disconnect()

    def send(self, jobs: Sequence[tuple[int, int]], deadline: float) -> list[asyncio.Future[None]]:
        """Futures, one per ``(build_id, attempt)``: done once the job is in Redis, or
        failed (at the latest at ``deadline``, loop time)."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in jobs]
        self.pending += [(b, a, deadline, f) for (b, a), f in zip(jobs, futures, strict=True)]
        if self.drainer is None:
            self.drainer = loop.create_task(self._drain())
        return futures

    async def _drain(self) -> None:
        try:
            while self.pending:
                await asyncio.sleep(0)  # let enqueues that are ready join this round trip
                group, self.pending = self.pending, []
                failure: BaseException | None = None
                try:
                    async with asyncio.timeout_at(min(job[2] for job in group)):
                        await self._call([(job[0], job[1]) for job in group])
                except Exception as exc:  # not one of them made it
                    failure = exc
                except BaseException:
                    failure = RedisError("enqueueing stopped")
                    raise
                finally:
                    _settle(group, failure)
        finally:
            self.drainer = None
            _settle(self.pending, RedisError("enqueueing stopped"))  # left if cancelled
            self.pending = []

    async def _call(self, jobs: list[tuple[int, int]]) -> None:
        redis = self.redis
        now = timestamp_ms()
        keys: list[str] = [redis.default_queue_name]
        args: list[bytes | int | str] = [redis.expires_extra_ms, WAKE_CHANNEL]
        for build_id, attempt in jobs:
            job = job_id(build_id, attempt)
            payload = serialize_job(
                JOB_FUNCTION, (build_id,), {}, None, now, serializer=redis.job_serializer
            )
            keys += (job_key_prefix + job, result_key_prefix + job)
            args += (payload, now, job)
        if self.connection is None:
            connection = await redis.connection_pool.get_connection()
            connection.socket_timeout = None  # see the class docstring; never back in the pool
            self.connection = connection
        # redis-py drops the connection on a network error or a cancel (the deadline)
        # mid-call, and connects again on the next call.
        await self.connection.send_command("EVALSHA", _ENQUEUE_SHA, len(keys), *keys, *args)
        try:
            await self.connection.read_response()
        except NoScriptError:  # Redis restarted since the script was loaded: send it
            await self.connection.send_command("EVAL", _ENQUEUE_LUA, len(keys), *keys, *args)
            await self.connection.read_response()


def _settle(
    group: list[tuple[int, int, float, asyncio.Future[None]]], failure: BaseException | None
) -> None:
    for *_, future in group:
        if future.done():
            continue
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)


@dataclass
class _Marks:
    build_ids: list[int] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class Outbox:
    """Enqueueing builds of one database through one lazy Redis pool.

    Made once per process (``app.py``'s outbox context, ``outbox_ctx``) and closed with
    it: it holds the sender of the pool's current connection and the marks being written.
    """

    def __init__(self, pool: LazyArqPool, sessionmaker: Sessions, writer: Writer) -> None:
        self.pool = pool
        self.sessionmaker = sessionmaker
        self.writer = writer
        self._sender: Sender | None = None
        self._marks = _Marks()

    async def enqueue(self, build_ids: Sequence[int], attempts: Sequence[int] = ()) -> list[int]:
        """Enqueue each build's job and mark the ones that made it; the rest wait for the
        sweeper. ``attempts`` pairs with ``build_ids`` (default: first attempts)."""
        done = await self._send(build_ids, attempts)
        if done:
            await self._mark_enqueued(done)
        return done

    async def enqueue_recorded(self, build_ids: Sequence[int]) -> list[int]:
        """Enqueue first attempts of builds committed as ``enqueued``; the ones whose job
        did not make it are unmarked, so the sweeper takes them. Which made it."""
        done = await self._send(build_ids, ())
        if len(done) < len(build_ids):
            made_it = set(done)
            left = [build_id for build_id in build_ids if build_id not in made_it]
            try:
                await self.writer.run(functools.partial(store.set_enqueued, left, False))
            except Exception:  # still marked: the workers' reaper enqueues them
                log.exception("could not put %d build(s) back in the outbox", len(left))
        return done

    async def sweep_once(self, batch: int = SWEEP_BATCH) -> int:
        """Enqueue queued builds whose job is not known to be in Redis; how many were."""
        rows = await store.outbox_batch(self.sessionmaker, batch)
        ids, attempts = [row[0] for row in rows], [row[1] for row in rows]
        return len(await self.enqueue(ids, attempts))

    async def run_sweeper(
        self, stopping: asyncio.Event, interval: float = SWEEP_INTERVAL_SECONDS
    ) -> None:
        """Sweep every ``interval`` until ``stopping`` is set; a sweep under way ends first."""
        while not stopping.is_set():
            try:
                count = await self.sweep_once()
                if count:
                    log.info("outbox: enqueued %d build(s)", count)
            except Exception:  # a database hiccup must not end the sweeper
                log.exception("outbox sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)

    async def close(self) -> None:
        writer = self._marks.writer
        if writer is not None:  # marks in flight end first: their jobs are in Redis
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        if self._sender is not None:
            sender, self._sender = self._sender, None
            await sender.close()

    def _sender_for(self, redis: ArqRedis) -> Sender:
        """The sender of the pool's connection (a new one after the pool reconnected)."""
        if self._sender is None or self._sender.redis is not redis:
            self._sender = Sender(redis)
        return self._sender

    async def _send(self, build_ids: Sequence[int], attempts: Sequence[int]) -> list[int]:
        """The jobs on the queue: the builds whose job is there now (or was already)."""
        if not build_ids:
            return []
        pool = self.pool
        redis = await pool.get()
        if redis is None:
            return []
        deadline = asyncio.get_running_loop().time() + ENQUEUE_TIMEOUT_SECONDS
        jobs = list(zip(build_ids, attempts or [0] * len(build_ids), strict=True))
        futures = self._sender_for(redis).send(jobs, deadline)
        done: list[int] = []
        failure: Exception | None = None
        for (build_id, _), future in zip(jobs, futures, strict=True):
            try:
                await future
            except (RedisError, OSError, TimeoutError) as exc:
                failure = exc
            else:
                done.append(build_id)
        if failure is None:
            pool.outage.restored()
        else:  # one warning per outage (``pool.outage``), not one per delivery or sweep
            pool.outage.lost(failure)
            left = len(build_ids) - len(done)
            log.debug("enqueue failed, %d build(s) left to the outbox: %s", left, failure)
        return done

    async def _mark_enqueued(self, build_ids: list[int]) -> None:
        """Set ``enqueued``; marks asked for while one is written share the next statement.

        A mark that fails is only logged: the job is in Redis, and the sweeper, finding
        the build unmarked, enqueues it again (refused as a duplicate) and marks it.
        """
        marks = self._marks
        waiter = asyncio.get_running_loop().create_future()
        marks.build_ids.extend(build_ids)
        marks.waiters.append(waiter)
        if marks.writer is None:
            marks.writer = asyncio.get_running_loop().create_task(self._write_marks())
        await waiter

    async def _write_marks(self) -> None:
        marks = self._marks
        try:
            while marks.waiters:
                build_ids, waiters = marks.build_ids, marks.waiters
                marks.build_ids, marks.waiters = [], []
                try:
                    await self.writer.run(functools.partial(store.set_enqueued, build_ids, True))
                except Exception:
                    log.exception("could not mark %d build(s) enqueued", len(build_ids))
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            marks.writer = None


def outbox_ctx(
    outbox_key: web.AppKey[Outbox],
    pool_key: web.AppKey[LazyArqPool],
    sessionmaker_key: web.AppKey[Sessions],
    writer_key: web.AppKey[Writer],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context making the application's ``Outbox`` (closed with the app).

    Takes the application's keys so this package does not import the HTTP layer; list
    it after the contexts that set those keys.
    """

    async def outbox(app: web.Application) -> AsyncIterator[None]:
        app[outbox_key] = Outbox(app[pool_key], app[sessionmaker_key], app[writer_key])
        yield
        await app[outbox_key].close()

    return outbox


def sweeper_ctx(
    outbox_key: web.AppKey[Outbox], interval: float = SWEEP_INTERVAL_SECONDS
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the outbox sweeper for the application's lifetime
    (after ``outbox_ctx``)."""

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        stopping = asyncio.Event()
        task = asyncio.create_task(app[outbox_key].run_sweeper(stopping, interval))
        yield
        # Let a sweep under way finish rather than cancel it: a cancelled query leaves
        # aiosqlite's thread answering a loop that is about to close.
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), SWEEP_STOP_SECONDS)
        except TimeoutError:  # a database that hangs must not hold up the shutdown
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return sweeper
