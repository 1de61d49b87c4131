"""``worker.main`` turns the job modules' ``JobSpec``/``CronSpec`` into arq's functions
and cron jobs with the same names, limits and schedules, and ``RetryLater`` into arq's
``Retry`` (checked on a real arq worker and Redis)."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.jobs import Job, JobStatus

from buildsvc.builds.outbox import JOB_FUNCTION
from buildsvc.config import Settings
from buildsvc.notifications import jobs as notifications
from buildsvc.queue import JobSpec, RetryLater
from buildsvc.replication import jobs as replication
from buildsvc.worker.deps import DEADLINE_SLACK_SECONDS
from buildsvc.worker.main import MAX_TRIES, arq_function, worker_options
from tests.common.arq_burst import run_burst


def test_the_worker_registers_each_job_with_its_limits(settings: Settings) -> None:
    options = worker_options(settings)
    functions = {f.name: f for f in options["functions"]}
    limits = {name: (f.timeout_s, f.max_tries, f.keep_result_s) for name, f in functions.items()}
    assert limits == {
        JOB_FUNCTION: (settings.build_timeout_seconds + DEADLINE_SLACK_SECONDS, MAX_TRIES, None),
        notifications.JOB_FUNCTION: (600, notifications.MAX_TRIES, 0),
        replication.JOB_FUNCTION: (3600, settings.replication_attempts, None),
    }
    [sweep] = options["cron_jobs"]
    assert (sweep.name, sweep.second, sweep.unique) == ("replication-sweep", {7, 37}, True)


async def test_a_job_that_raises_retry_later_runs_again(redis_url: str) -> None:
    tries: list[int] = []

    async def flaky(ctx: dict[str, Any], word: str) -> str:
        tries.append(ctx["job_try"])
        if len(tries) == 1:
            raise RetryLater(0)
        return word

    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await redis.enqueue_job("flaky", "done", _job_id="flaky-1")
        await run_burst(redis_url, [arq_function(JobSpec("flaky", flaky, max_tries=3))])

        assert tries == [1, 2]
        job = Job("flaky-1", redis)
        assert await job.status() == JobStatus.complete
        assert await job.result(timeout=1) == "done"
    finally:
        await redis.aclose()
