"""A build's log as server-sent events, for the REST API and the console alike.

Each line is an event whose ``id`` is its seq; the build's end is ``event: end``. When
the process stops (SIGTERM: aiohttp runs ``on_shutdown`` before it waits for requests in
flight), every stream ends with ``event: reconnect`` and a short ``retry:``, so it does
not hold the shutdown until its timeout: the CLI reconnects at once and a browser's
EventSource after ``retry`` ms, both with ``Last-Event-ID``, to another API process or
to this one restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from buildsvc.builds import logs
from buildsvc.web.keys import ARQ, SESSIONMAKER, STOPPING

KEEPALIVE_SECONDS = 15.0
RECONNECT_RETRY_MS = 500  # how soon a browser comes back after ``reconnect``

EndPayload = Callable[[logs.LogEnd], Awaitable[dict[str, object]]]
Item = logs.LogLine | logs.LogEnd | logs.LogIdle


def setup_stopping(app: web.Application) -> None:
    """Declare the app's stopping event; set by the first step of its shutdown."""
    app[STOPPING] = asyncio.Event()

    async def stop(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(stop)


def event(data: object, *, name: str | None = None, event_id: int | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    head += f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def reconnect_event(last: int) -> bytes:
    return f"retry: {RECONNECT_RETRY_MS}\n".encode() + event({"after": last}, name="reconnect")


async def stream(
    request: web.Request, build_id: int, after: int, end_payload: EndPayload
) -> web.StreamResponse:
    """Stream the log after ``after`` until the build ends, the client leaves or we stop."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies must not hold lines back
        }
    )
    await response.prepare(request)
    redis = await request.app[ARQ].get()
    follower = logs.follow(request.app[SESSIONMAKER], redis, build_id, after=after)
    with contextlib.suppress(ConnectionResetError):  # the client went away: nothing to do
        async with contextlib.aclosing(follower):
            await _send(response, follower, request.app[STOPPING], after, end_payload)
        await response.write_eof()
    return response


async def _send(
    response: web.StreamResponse,
    follower: AsyncIterator[Item],
    stopping: asyncio.Event,
    last: int,
    end_payload: EndPayload,
) -> None:
    written = time.monotonic()
    while (item := await _next_or_stop(follower, stopping)) is not None:
        if isinstance(item, logs.LogLine):
            await response.write(event(item.to_json(), event_id=item.seq))
            last = item.seq
        elif isinstance(item, logs.LogEnd):
            await response.write(event(await end_payload(item), name="end"))
            return
        elif time.monotonic() - written < KEEPALIVE_SECONDS:
            continue
        else:
            await response.write(b": keep-alive\n\n")
        written = time.monotonic()
    await response.write(reconnect_event(last))


async def _next_or_stop(follower: AsyncIterator[Item], stopping: asyncio.Event) -> Item | None:
    """The follower's next item, or None once the process is stopping."""
    if stopping.is_set():
        return None
    step = asyncio.ensure_future(anext(follower))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the handler was cancelled: the follower must be idle to close
        await _cancel(step)
        raise
    finally:
        stop.cancel()
    if step.done():
        return step.result()
    await _cancel(step)  # the follower is closed next (aclosing): the client resumes
    return None


async def _cancel(step: asyncio.Future[Item]) -> None:
    step.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await step
