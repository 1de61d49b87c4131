"""Keeping the worker process up through Redis outages.

arq's ``Worker.main`` polls Redis and raises on the first Redis error, and arq's
``close`` needs Redis too: left alone, a worker exits a poll into an outage, without
running its shutdown hook. Here instead:

- ``worker.main.connect`` makes the Redis pool, retrying with a capped backoff
  (``Backoff``: 0.5 s doubling to 2 s), also when Redis is down as the worker starts;
- ``supervise`` runs the worker's startup hook once, then arq's ``main``, and ``main``
  again on the same ``Worker`` once Redis answers a ping after an error.
  Builds in flight are tasks of their own that need no Redis (heartbeats and log lines
  are database writes; live log messages are skipped meanwhile), so they run on, and
  stay counted against ``max_jobs``. A job task whose own Redis calls failed meanwhile
  is forgotten before ``main`` restarts (arq's loop would re-raise its error as if
  Redis were down again), and its job freed to run again (``_release_failed_jobs``);
- one line is logged when the connection is lost and one when it is back (``Outage``);
- SIGINT/SIGTERM (arq's handler stops taking jobs, waits the grace period for the
  running ones, then cancels what is left, which gives those builds back) end
  ``supervise`` wherever it waits, and ``close`` then needs no Redis: the shutdown hook
  always runs.

Jobs Redis lost meanwhile (it keeps nothing across a restart) are the reaper's: it
enqueues every queued build whose job is missing again (``worker.reaper``).

arq is imported by ``worker.main`` alone: the worker is typed here by what this module
uses of it (``PollLoop``), and arq's in-progress key prefix is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis

from buildsvc.builds.logs import REDIS_ERRORS
from buildsvc.outage import Outage

log = logging.getLogger(__name__)


class Hook(Protocol):
    """A startup or shutdown hook, called with the worker's context."""

    __qualname__: str

    async def __call__(self, ctx: dict[Any, Any]) -> Any: ...


class PollLoop(Protocol):
    """What supervising needs of arq's ``Worker``."""

    ctx: dict[Any, Any]
    tasks: dict[str, asyncio.Task[Any]]
    health_check_key: str
    on_stop: Callable[[signal.Signals], None] | None
    on_startup: Hook | None
    on_shutdown: Hook | None

    @property
    def pool(self) -> Redis: ...

    async def main(self) -> None: ...


async def supervise(worker: PollLoop, outage: Outage, *, in_progress_prefix: str) -> None:
    """Run arq's poll loop until SIGINT/SIGTERM, through Redis outages."""
    this = asyncio.current_task()

    def stop(_signal: signal.Signals) -> None:  # once arq's grace ended, jobs cancelled
        if this is not None:
            this.cancel()

    worker.on_stop = stop
    # Called here, once: arq would call it on every restart of its loop, and a failing
    # startup must end the process, not pass for an outage.
    startup, worker.on_startup = worker.on_startup, None
    if startup is not None:
        worker.ctx["redis"] = worker.pool  # as arq's main does before calling it
        await startup(worker.ctx)
    while True:
        try:
            if outage.down:
                await worker.pool.ping()
                await _release_failed_jobs(worker, in_progress_prefix)
                outage.restored()
            await worker.main()
            return  # burst mode only
        except REDIS_ERRORS as exc:
            await asyncio.sleep(outage.lost(exc))


async def _release_failed_jobs(worker: PollLoop, in_progress_prefix: str) -> None:
    """Forget job tasks that failed on Redis, and free their jobs to run again.

    Such a task's build either never started or has ended (arq failed before or after
    calling ``run_build``). A Redis that kept its data still holds the job and its
    in-progress marker, which would keep every worker from the job for the marker's
    lifetime (above the build timeout): dropping the marker lets the job run again at
    once, and ``claim`` skips a build that has ended.
    """
    failed = [
        job_id
        for job_id, task in worker.tasks.items()
        if task.done() and not task.cancelled() and isinstance(task.exception(), REDIS_ERRORS)
    ]
    if not failed:
        return
    await worker.pool.delete(*(in_progress_prefix + job_id for job_id in failed))
    for job_id in failed:
        del worker.tasks[job_id]
    log.info("%d job(s) that arq could not record while Redis was away: freed", len(failed))


async def close(worker: PollLoop) -> None:
    """arq's ``close``, with every Redis call allowed to fail."""
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    with contextlib.suppress(*REDIS_ERRORS):
        await worker.pool.delete(worker.health_check_key)
    try:
        if worker.on_shutdown is not None:
            await worker.on_shutdown(worker.ctx)
    finally:
        with contextlib.suppress(*REDIS_ERRORS):
            await worker.pool.aclose()
