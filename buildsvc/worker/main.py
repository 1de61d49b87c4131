"""The build worker process: arq running ``run_build``, plus its reaper and cancel listener.

``buildsvc worker`` calls ``run_worker(settings)``. ``worker_options(settings)`` is what
arq gets (also for an in-process ``arq.Worker`` in tests):

- ``max_jobs``: ``settings.worker_concurrency`` builds at once;
- ``job_timeout``: above ``settings.build_timeout_seconds``, so the build's own deadline
  (``timed_out``, docker stopped) always fires first;
- ``poll_delay``: ``settings.worker_poll_delay_seconds`` (0.5 s): only the fallback. A
  worker made by ``create_worker`` listens on ``WAKE_CHANNEL`` (published with every
  enqueue and every kick of a waiting build) and starts due jobs at once. A fast poll
  would cost an idle worker a fifth of a core in Redis round trips, taken from the
  Docker engine next to it;
- ``keep_result``: a minute (results are in the database; Redis keeps only the queue);
- ``allow_abort_jobs``: arq's abort works on our jobs too;
- ``max_tries``: high, because a build waiting behind its ref's running build is
  deferred with ``Retry`` as often as needed (SIGTERM also retries: the job runs again);
- ``job_completion_wait``: ``settings.worker_shutdown_grace_seconds``. On SIGTERM (or
  SIGINT) arq stops taking jobs and waits that long for the running ones; then it
  cancels them, and each cancelled build goes back to the queue (``run._requeue``) for
  another worker. With 0 arq cancels at once.

``run_worker`` keeps the process up through Redis outages (``worker.supervise``): arq's
poll loop is run again once Redis is back.

This module and ``builds.outbox`` are the only ones that import arq
(``tests/test_arq_boundary.py``). Job modules declare ``queue.JobSpec``/``CronSpec`` and
raise ``queue.RetryLater``; ``arq_function``/``arq_cron`` turn those into arq's
functions and cron jobs, whose coroutines turn ``RetryLater`` into arq's ``Retry``.
The worker also sends notifications (``notifications.jobs``: their job, and the sweeper
that enqueues it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arq import Retry, cron, func
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.utils import timestamp_ms
from arq.worker import Function, Worker

from buildsvc.builds.logs import REDIS_ERRORS
from buildsvc.builds.outbox import JOB_FUNCTION, WAKE_CHANNEL
from buildsvc.config import Settings
from buildsvc.notifications import jobs as notifications
from buildsvc.outage import Backoff, Outage
from buildsvc.queue import CronSpec, JobCoroutine, JobSpec, RetryLater
from buildsvc.replication import jobs as replication
from buildsvc.replication.jobs import DEPS as REPLICATION
from buildsvc.replication.jobs import ReplicationDeps
from buildsvc.replication.sweep import sweep_cron
from buildsvc.worker.deps import DEADLINE_SLACK_SECONDS, close_deps, open_deps
from buildsvc.worker.image_gc import collect_forever
from buildsvc.worker.reaper import reap_forever
from buildsvc.worker.run import DEPS, run_build
from buildsvc.worker.supervise import close, supervise
from buildsvc.worker.watch import listen_for_cancels

log = logging.getLogger(__name__)

SETTINGS = "buildsvc_settings"  # arq ctx key
TASKS = "buildsvc_tasks"
WORKER = "buildsvc_worker"  # the arq Worker itself, when made by create_worker
KEEP_RESULT_SECONDS = 60
MAX_TRIES = 1_000_000
# Each running build streams docker output in a thread; forge calls run in threads too.
THREADS_PER_BUILD = 4


def _retrying(coroutine: JobCoroutine) -> WorkerCoroutine:
    """``coroutine`` with its ``RetryLater`` raised as arq's ``Retry``."""

    @functools.wraps(coroutine)
    async def job(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await coroutine(ctx, *args, **kwargs)
        except RetryLater as exc:
            raise Retry(defer=exc.defer_seconds) from exc

    return job


def arq_function(spec: JobSpec) -> Function:
    return func(
        _retrying(spec.coroutine),
        name=spec.name,
        timeout=spec.timeout,
        max_tries=spec.max_tries,
        keep_result=spec.keep_result,
    )


def arq_cron(spec: CronSpec) -> CronJob:
    job = _retrying(spec.coroutine)
    return cron(job, name=spec.name, second=set(spec.second), unique=spec.unique)


def worker_options(settings: Settings) -> dict[str, Any]:
    timeout = settings.build_timeout_seconds + DEADLINE_SLACK_SECONDS
    build = JobSpec(JOB_FUNCTION, run_build, timeout=timeout, max_tries=MAX_TRIES)
    return {
        "functions": [
            arq_function(build),
            arq_function(notifications.job_spec()),
            arq_function(replication.job_spec(settings)),
        ],
        "cron_jobs": [arq_cron(sweep_cron())],  # queues replications whose job Redis lost
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.worker_concurrency,
        "job_timeout": timeout,
        "keep_result": KEEP_RESULT_SECONDS,
        "poll_delay": settings.worker_poll_delay_seconds,
        "allow_abort_jobs": True,
        "job_completion_wait": settings.worker_shutdown_grace_seconds,
        "health_check_interval": 10,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {SETTINGS: settings},
    }


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx[SETTINGS]
    threads = 8 + THREADS_PER_BUILD * settings.worker_concurrency
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=threads))
    deps = await open_deps(settings, ctx["redis"])
    ctx[DEPS] = deps
    notifier = notifications.Notifier(deps.sessionmaker, deps.access.cipher, settings)
    ctx[notifications.NOTIFIER] = notifier
    ctx[REPLICATION] = ReplicationDeps(settings, deps.sessionmaker, deps.access.cipher)
    ctx[TASKS] = [
        asyncio.create_task(notifications.sweep_forever(notifier, ctx["redis"]), name="notify"),
        asyncio.create_task(reap_forever(deps), name="reaper"),
        asyncio.create_task(collect_forever(deps), name="image-gc"),
        asyncio.create_task(listen_for_cancels(deps), name="cancel-listener"),
    ]
    if WORKER in ctx:
        waker = wake_on_enqueue(ctx[WORKER], ctx["redis"])
        ctx[TASKS].append(asyncio.create_task(waker, name="wake-listener"))
    builder: str = settings.build_builder
    if builder == "buildkit" and settings.build_memory_limit is not None:
        builder = "legacy (BuildKit cannot apply BUILDSVC_BUILD_MEMORY_LIMIT)"
    log.info(
        "worker %s ready: %d concurrent builds, timeout %d s, builder %s",
        deps.worker_id,
        settings.worker_concurrency,
        settings.build_timeout_seconds,
        builder,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    for task in ctx.get(TASKS, []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if DEPS in ctx:
        await close_deps(ctx[DEPS])


async def wake_on_enqueue(worker: Worker, redis: ArqRedis) -> None:
    """Start due jobs as soon as an enqueue is announced (runs until cancelled).

    Saves the wait for the next poll tick (half of ``poll_delay`` on average) on every
    build. ``start_jobs`` is arq's own claim: it takes a job only if no worker (nor this
    one's poll loop, running alongside) has it in progress, and within ``max_jobs``.
    """
    # ``start_jobs``, ``job_counter`` and ``queue_name`` are arq internals (no public API
    # starts a due job early): used here only, so an arq upgrade (pinned to its minor
    # range) is checked in this module and ``builds.outbox``, nowhere else.
    backoff = Backoff()
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(WAKE_CHANNEL)
            backoff.reset()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or worker.job_counter >= worker.max_jobs:
                    continue  # busy: the poll loop takes the job when a slot frees up
                if not worker.allow_pick_jobs:
                    continue  # shutting down: arq's own poll loop stopped taking jobs too
                due = await redis.zrangebyscore(
                    worker.queue_name, min=float("-inf"), max=timestamp_ms(), start=0, num=10
                )
                await worker.start_jobs(due)
        except REDIS_ERRORS as exc:  # the supervisor logs the outage; polling covers it
            log.debug("wake-up channel unavailable: %s", exc)
            await asyncio.sleep(backoff.next())
        finally:
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq worker for ``settings``; construct it inside the loop it will run on."""
    worker = Worker(**{**worker_options(settings), **overrides})
    worker.ctx[WORKER] = worker  # for its wake-up listener (started with the worker)
    return worker


async def connect(settings: RedisSettings, outage: Outage) -> ArqRedis:
    """arq's pool, once Redis answers (``settings.conn_retries`` are not used)."""
    once = dataclasses.replace(settings, conn_retries=0)
    while True:
        try:
            pool = await create_pool(once)
        except REDIS_ERRORS as exc:
            await asyncio.sleep(outage.lost(exc))
        else:
            outage.restored()
            return pool


async def supervise_worker(worker: Worker, outage: Outage) -> None:
    """``supervise`` for an arq worker (its in-progress keys are arq's)."""
    await supervise(worker, outage, in_progress_prefix=in_progress_key_prefix)


async def serve(settings: Settings) -> None:
    """The worker until SIGINT/SIGTERM, through Redis outages."""
    outage = Outage(log)
    pool = await connect(worker_options(settings)["redis_settings"], outage)
    worker = create_worker(settings, redis_pool=pool)
    try:
        await supervise_worker(worker, outage)
    finally:
        await close(worker)


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (running builds get the grace period, then go back
    to the queue)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with contextlib.suppress(asyncio.CancelledError):  # how SIGINT/SIGTERM end it
            loop.run_until_complete(serve(settings))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
