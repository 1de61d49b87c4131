"""Injected faults: slow answers, error answers (any status and body), reset connections.

Faults match ``re.search(path_regex, request.path)`` (the path, without the query) on
every route except ``/_forgesim``. The first matching fault applies; ``times`` limits
how often it fires, ``method`` limits it to one HTTP method.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

ADMIN_PREFIX = "/_forgesim"


@dataclass
class Fault:
    path_regex: str
    delay_ms: int = 0
    status: int | None = None
    body: str | None = None
    content_type: str | None = None
    reset: bool = False
    method: str | None = None
    times: int | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        fault = cls(
            path_regex=str(raw["path_regex"]),
            delay_ms=int(raw.get("delay_ms") or 0),
            status=int(raw["status"]) if raw.get("status") is not None else None,
            body=None if raw.get("body") is None else str(raw["body"]),
            content_type=raw.get("content_type"),
            reset=bool(raw.get("reset", False)),
            method=(raw.get("method") or None),
            times=int(raw["times"]) if raw.get("times") is not None else None,
        )
        re.compile(fault.path_regex)
        return fault

    def matches(self, request: web.Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != request.method:
            return False
        return re.search(self.path_regex, request.path) is not None


class FaultSet:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if fault.matches(request):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


def _answer(fault: Fault) -> web.Response:
    body = fault.body if fault.body is not None else ""
    content_type = fault.content_type
    if content_type is None:
        html = body.lstrip().startswith("<")
        content_type = "text/html" if html else "application/json"
    return web.Response(status=fault.status or 500, text=body, content_type=content_type)


def middleware(faults: FaultSet) -> Any:
    @web.middleware
    async def apply_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        fault = faults.take(request)
        if fault is None:
            return await handler(request)
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.reset:
            # Drop the TCP connection without an answer: clients see a ConnectionError.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.status is not None:
            return _answer(fault)
        return await handler(request)

    return apply_faults
