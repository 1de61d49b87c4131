"""Fixtures of the builds tests: a Redis for arq jobs, and the outbox's fast enqueue on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from buildsvc.builds.outbox import LazyArqPool, Sender


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = LazyArqPool(redis_url)
    redis = await pool.get()
    assert redis is not None
    yield redis
    await pool.close()


@pytest.fixture
async def sender(arq_redis: ArqRedis) -> AsyncIterator[Sender]:
    """The outbox's fast enqueue on ``arq_redis`` (what an ``Outbox`` holds per pool)."""
    sender = Sender(arq_redis)
    yield sender
    await sender.close()
