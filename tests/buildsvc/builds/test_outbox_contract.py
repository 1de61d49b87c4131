"""The contract with arq: a job written by the outbox's own enqueue (a Lua script that
re-implements ``ArqRedis.enqueue_job``) is a job arq reads, runs and deduplicates.

Real Redis and a real ``arq.Worker``; fails when an arq upgrade changes its keys or its
job encoding under ``builds.outbox``.
"""

from __future__ import annotations

from typing import Any

from arq import func
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from buildsvc.builds.outbox import JOB_FUNCTION, Sender, job_id
from tests.common import arq_burst


async def run_burst(redis_url: str, calls: list[int]) -> None:
    """A real arq worker, with a function under the build job's name, until the queue is empty."""

    async def run_build(_ctx: dict[str, Any], build_id: int) -> str:
        calls.append(build_id)
        return f"built {build_id}"

    await arq_burst.run_burst(redis_url, [func(run_build, name=JOB_FUNCTION)])


async def test_arq_reads_the_job_the_outbox_wrote(arq_redis: ArqRedis, sender: Sender) -> None:
    await sender.enqueue_job(41, attempt=3)

    job = Job(job_id(41, 3), arq_redis)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None
    assert (info.function, info.args, info.kwargs) == (JOB_FUNCTION, (41,), {})
    assert info.job_try is None  # not started yet


async def test_a_real_arq_worker_runs_the_job(
    arq_redis: ArqRedis, sender: Sender, redis_url: str
) -> None:
    await sender.enqueue_job(42)
    calls: list[int] = []

    await run_burst(redis_url, calls)

    assert calls == [42]
    job = Job(job_id(42), arq_redis)
    assert await job.status() == JobStatus.complete
    assert await job.result(timeout=5) == "built 42"


async def test_a_job_id_is_enqueued_once(
    arq_redis: ArqRedis, sender: Sender, redis_url: str
) -> None:
    await sender.enqueue_job(43)
    await sender.enqueue_job(43)  # the outbox's second try: refused
    # arq's own enqueue sees our job and refuses it too, and we refuse one arq wrote.
    assert await arq_redis.enqueue_job(JOB_FUNCTION, 43, _job_id=job_id(43)) is None
    assert await arq_redis.enqueue_job(JOB_FUNCTION, 44, _job_id=job_id(44)) is not None
    await sender.enqueue_job(44)
    assert await arq_redis.zrange("arq:queue", 0, -1) == [job_id(43).encode(), job_id(44).encode()]

    calls: list[int] = []
    await run_burst(redis_url, calls)
    assert sorted(calls) == [43, 44]

    # Its result is kept: enqueueing the same id again does not run the build twice.
    await sender.enqueue_job(43)
    assert await arq_redis.zcard("arq:queue") == 0
    await run_burst(redis_url, calls)
    assert sorted(calls) == [43, 44]
