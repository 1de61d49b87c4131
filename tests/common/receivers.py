"""Real HTTP receivers on loopback for notification tests, and a real arq worker.

``receiving(statuses)`` serves ``POST /hook`` on 127.0.0.1 and records each request; it
answers the statuses given in turn (the last one from then on). ``notifying(notifier)``
runs an in-process arq worker with the notification job and the sweeper, as
``buildsvc worker`` does (with short poll intervals).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from arq.connections import RedisSettings
from arq.worker import Worker

from buildsvc.notifications import jobs
from buildsvc.worker.main import arq_function


@dataclass(frozen=True, slots=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # monotonic


@dataclass
class Receiver:
    url: str
    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(dict(request.headers), body, time.monotonic()))
        self.arrived.set()
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return web.Response(status=status, text="ok")

    async def wait_for(self, done: Callable[[list[Received]], bool], seconds: float = 30) -> None:
        async with asyncio.timeout(seconds):
            while not done(self.received):
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def receiving(statuses: Iterable[int] = (200,)) -> AsyncIterator[Receiver]:
    receiver = Receiver("", list(statuses))
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def notifying(notifier: jobs.Notifier) -> AsyncIterator[Worker]:
    """An arq worker running notification jobs, and the sweep that enqueues them."""
    started = asyncio.Event()

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["sweep"] = asyncio.create_task(jobs.sweep_forever(notifier, ctx["redis"]))
        started.set()

    async def shutdown(ctx: dict[str, Any]) -> None:
        ctx["sweep"].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ctx["sweep"]

    worker = Worker(
        functions=[arq_function(jobs.job_spec())],
        redis_settings=RedisSettings.from_dsn(notifier.settings.redis_url),
        ctx={jobs.NOTIFIER: notifier},
        on_startup=startup,
        on_shutdown=shutdown,
        poll_delay=0.05,
        handle_signals=False,
    )
    running = asyncio.create_task(worker.async_run())
    try:
        await started.wait()
        yield worker
    finally:
        await stop(worker, running)


async def stop(worker: Worker, running: asyncio.Task[None]) -> None:
    """Stop an arq worker run by ``async_run`` in ``running``: its jobs are cancelled
    (``Worker.close`` would re-raise their cancellation), then it closes."""
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    jobs_left = list(worker.tasks.values())
    for task in jobs_left:
        task.cancel()
    await asyncio.gather(*jobs_left, return_exceptions=True)
    worker.tasks.clear()
    with warnings.catch_warnings():  # arq closes its pool with redis-py's deprecated close()
        warnings.simplefilter("ignore", DeprecationWarning)
        await worker.close()
