"""Blocking docker SDK streams run in a thread, cancellable from the event loop.

``run_streaming`` runs ``work(emit, cancel)`` in a thread and awaits a callback per
line it emits, in order. ``StreamCancel.cancel()`` shuts the call's HTTP connection
down: the engine, seeing its client gone, stops the build, pull or push at once.
``CancellableStream`` makes an upload (a build context) stop too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import docker
import requests
import urllib3

__all__ = ["ENGINE_ERRORS", "CancellableStream", "LineCallback", "StreamCancel", "run_streaming"]

T = TypeVar("T")
LineCallback = Callable[[str], Awaitable[None] | None]

# What the SDK and its HTTP stack raise when the engine is gone or the stream breaks.
ENGINE_ERRORS = (
    docker.errors.DockerException,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)

_current = threading.local()


def _capture_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # A requests response hook: runs in the thread that made the request.
    handle: StreamCancel | None = getattr(_current, "handle", None)
    if handle is not None:
        handle._attach(response)


class StreamCancel:
    """Cancels a streaming docker call (build, push) from any thread.

    ``cancel()`` shuts the call's HTTP connection down: the blocked reader wakes up and
    the daemon, seeing the client gone, stops the operation.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            response = self._response
        if response is not None:
            self._close(response)

    @contextlib.contextmanager
    def track(self, api: docker.APIClient) -> Iterator[None]:
        """Remember the responses ``api`` receives in this thread while inside."""
        # APIClient is a requests.Session, so its response hooks see every response.
        if _capture_response not in api.hooks["response"]:
            api.hooks["response"].append(_capture_response)
        _current.handle = self
        try:
            yield
        finally:
            _current.handle = None
            with self._lock:
                response, self._response = self._response, None
            if response is not None:
                # A stream left early (an error item) must not keep its connection.
                response.close()

    def _attach(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
            cancelled = self.cancelled
        if cancelled:
            self._close(response)

    @staticmethod
    def _close(response: requests.Response) -> None:
        # close() alone does not wake a thread blocked in recv(); shutdown() does.
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            response.close()


async def run_streaming(
    work: Callable[[Callable[[str], None], StreamCancel], T],
    *,
    on_line: LineCallback | None,
    cancel: StreamCancel | None = None,
    grace: float = 10.0,
) -> T:
    """Run blocking ``work(emit, cancel)`` in a thread; await ``on_line`` per emitted line.

    If the awaiting task is cancelled (or ``on_line`` fails) the work is cancelled and
    awaited for up to ``grace`` seconds, so no build outlives its task.
    """
    loop = asyncio.get_running_loop()
    handle = cancel or StreamCancel()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def emit(line: str) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, line)

    def run() -> T:
        try:
            return work(emit, handle)
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        while (line := await lines.get()) is not None:
            if on_line is not None:
                result = on_line(line)
                if inspect.isawaitable(result):
                    await result
    except BaseException:
        handle.cancel()
        await asyncio.wait({task}, timeout=grace)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the caller's exception is the one that matters
        raise
    return await task


class CancellableStream:
    """A request body made of chunks (a build context, made as it is sent) that stops at
    the next chunk once ``cancel`` is set. It has no length: requests sends it chunked.

    A build context is uploaded before the engine answers, so there is no response to
    shut yet; this ends the upload instead. ``on_end`` gets the bytes sent, once all are.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        cancel: StreamCancel,
        on_end: Callable[[int], None] | None = None,
    ) -> None:
        self._chunks = chunks
        self._cancel = cancel
        self._on_end = on_end

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._chunks:
            if self._cancel.cancelled:
                raise OSError("the upload was cancelled")
            sent += len(chunk)
            yield chunk
        if self._on_end is not None:
            self._on_end(sent)
