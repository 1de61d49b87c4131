"""The arq (Redis) connection, tolerant of Redis being down.

The API must start and accept webhook deliveries while Redis is unreachable: builds stay
in the database outbox (``Build.enqueued`` false) until a sweeper enqueues them. So the
connection is made lazily: ``await queue.get()`` returns the ``ArqRedis`` pool, or None
while Redis cannot be reached (retried at most every ``retry_interval`` seconds, so a
burst of requests during an outage does not hammer Redis or wait on connect timeouts).

Once connected the pool is kept: redis-py reconnects by itself when Redis comes back,
and a command sent while it is down raises ``redis.exceptions.RedisError`` (or
``OSError``), which callers treat like ``None``. Enqueues report how they went to
``outage``, which logs once when Redis goes and once when it is back.

This module, ``builds.outbox`` (the fast enqueue, job ids and job keys) and
``worker.main`` (the poll loop's internals) are the only ones that import arq
(``tests/test_arq_boundary.py``): everything else takes arq's public names from here,
so an arq upgrade (pinned to a minor range in ``pyproject.toml``) is checked in three
places.
"""

from __future__ import annotations

import asyncio
import logging
import time

from arq import Retry, func
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.cron import CronJob, cron
from arq.worker import Function, Worker
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from buildsvc.outage import Outage

__all__ = [
    "ArqRedis",
    "CronJob",
    "Function",
    "LazyArqPool",
    "RedisSettings",
    "Retry",
    "Worker",
    "create_pool",
    "cron",
    "func",
    "in_progress_key_prefix",
    "job_key_prefix",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 5.0


class LazyArqPool:
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
