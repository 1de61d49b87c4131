"""The build worker process: arq running ``run_build``, plus its reaper and cancel listener.

``buildsvc worker`` calls ``run_worker(settings)``. ``worker_options(settings)`` is what
arq gets (also for an in-process ``arq.Worker`` in tests):

- ``max_jobs``: ``settings.worker_concurrency`` builds at once;
- ``job_timeout``: above ``settings.build_timeout_seconds``, so the build's own deadline
  (``timed_out``, docker stopped) always fires first;
- ``poll_delay``: ``settings.worker_poll_delay_seconds`` (20 ms): a push should not wait
  half a second for a worker to notice its job;
- ``keep_result``: a minute (results are in the database; Redis keeps only the queue);
- ``allow_abort_jobs``: arq's abort works on our jobs too;
- ``max_tries``: high, because a build waiting behind its ref's running build is
  deferred with ``Retry`` as often as needed (SIGTERM also retries: the job runs again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker

from buildsvc.builds.queue import JOB_FUNCTION
from buildsvc.config import Settings
from buildsvc.worker.deps import DEADLINE_SLACK_SECONDS, close_deps, open_deps
from buildsvc.worker.reaper import reap_forever
from buildsvc.worker.run import DEPS, run_build
from buildsvc.worker.watch import listen_for_cancels

log = logging.getLogger(__name__)

SETTINGS = "buildsvc_settings"  # arq ctx key
TASKS = "buildsvc_tasks"
KEEP_RESULT_SECONDS = 60
MAX_TRIES = 1_000_000
# Each running build streams docker output in a thread; forge calls run in threads too.
THREADS_PER_BUILD = 4


def worker_options(settings: Settings) -> dict[str, Any]:
    timeout = settings.build_timeout_seconds + DEADLINE_SLACK_SECONDS
    return {
        "functions": [func(run_build, name=JOB_FUNCTION, timeout=timeout, max_tries=MAX_TRIES)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.worker_concurrency,
        "job_timeout": timeout,
        "keep_result": KEEP_RESULT_SECONDS,
        "poll_delay": settings.worker_poll_delay_seconds,
        "allow_abort_jobs": True,
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
    ctx[TASKS] = [
        asyncio.create_task(reap_forever(deps), name="reaper"),
        asyncio.create_task(listen_for_cancels(deps), name="cancel-listener"),
    ]
    log.info(
        "worker %s ready: %d concurrent builds, timeout %d s",
        deps.worker_id,
        settings.worker_concurrency,
        settings.build_timeout_seconds,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    for task in ctx.get(TASKS, []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if DEPS in ctx:
        await close_deps(ctx[DEPS])


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq worker for ``settings``; construct it inside the loop it will run on."""
    return Worker(**{**worker_options(settings), **overrides})


def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (running builds go back to the queue)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        create_worker(settings).run()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
