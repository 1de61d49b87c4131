"""Sending jobs to Redis: the same job as arq's, concurrent jobs in one call of the
script, a Redis that forgot the script, and a Redis that never answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from redis.asyncio import ConnectionPool

from buildsvc.builds import outbox
from buildsvc.builds.outbox import JOB_FUNCTION, WAKE_CHANNEL, Sender, job_id


async def evalsha_calls(redis: ArqRedis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_jobs_are_arq_jobs_and_wake_the_workers(arq_redis: ArqRedis, sender: Sender) -> None:
    wake = arq_redis.pubsub()
    await wake.subscribe(WAKE_CHANNEL)
    await sender.enqueue_job(7)
    await sender.enqueue_job(7, attempt=2)

    info = await Job(job_id(7), arq_redis).info()
    assert info is not None
    assert (info.function, info.args) == (JOB_FUNCTION, (7,))
    assert await Job(job_id(7, 2), arq_redis).status() == JobStatus.queued
    # A job with that id exists: arq's own enqueue refuses it, as does ours (no second entry).
    assert await arq_redis.enqueue_job(JOB_FUNCTION, 7, _job_id=job_id(7)) is None
    await sender.enqueue_job(7)
    assert await arq_redis.zrange("arq:queue", 0, -1) == [b"build:7", b"build:7:retry2"]

    messages: list[bytes] = []
    deadline = time.monotonic() + 5
    while len(messages) < 3 and time.monotonic() < deadline:
        message = await wake.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            messages.append(message["data"])
    assert messages == [b"1"] * 3  # one per round trip, refused job or not
    await wake.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


async def test_concurrent_jobs_share_one_call(arq_redis: ArqRedis, sender: Sender) -> None:
    await sender.enqueue_job(1)  # Redis knows the script from now on
    before = await evalsha_calls(arq_redis)
    await asyncio.gather(*(sender.enqueue_job(n) for n in range(2, 12)))
    assert await evalsha_calls(arq_redis) - before == 1
    queued = await arq_redis.zrange("arq:queue", 0, -1)
    assert sorted(queued) == sorted(job_id(n).encode() for n in range(1, 12))


async def test_a_redis_that_forgot_the_script_gets_it_again(
    arq_redis: ArqRedis, sender: Sender
) -> None:
    await sender.enqueue_job(1)
    await arq_redis.script_flush()  # as after a restart
    await sender.enqueue_job(2)
    assert await arq_redis.zrange("arq:queue", 0, -1) == [b"build:1", b"build:2"]


@pytest.fixture
async def silent_redis() -> AsyncIterator[ArqRedis]:
    """A server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = ArqRedis(ConnectionPool.from_url(f"redis://127.0.0.1:{port}/0"))
    yield redis
    await redis.aclose()
    await redis.connection_pool.disconnect()
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_each_job_fails_by_its_own_deadline_when_redis_hangs(
    silent_redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "ENQUEUE_TIMEOUT_SECONDS", 0.3)
    started = time.monotonic()
    silent = Sender(silent_redis)
    first = asyncio.create_task(silent.enqueue_job(1))
    await asyncio.sleep(0.15)  # the second waits for the first's round trip, then its own
    second = asyncio.create_task(silent.enqueue_job(2))
    results = await asyncio.gather(first, second, return_exceptions=True)
    await silent.close()
    assert [type(result) for result in results] == [TimeoutError, TimeoutError]
    assert time.monotonic() - started < 0.3 + 0.15 + 0.5
