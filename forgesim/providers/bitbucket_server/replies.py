"""Bitbucket Server's JSON (``application/json;charset=UTF-8``, exactly: atlassian-python-api
only reads a 401's error list with that header), its error lists and ``start``/``limit``
paging (``size``, ``limit``, ``isLastPage``, ``values``, ``start``, ``nextPageStart``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
CONTENT_TYPE = "application/json;charset=UTF-8"
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000
NOT_PERMITTED = "You are not permitted to access this resource"
AUTHORISATION = "com.atlassian.bitbucket.AuthorisationException"


class Reply(Exception):
    """Raised by helpers to answer right away with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": CONTENT_TYPE}
    )


def error(status: int, message: str, exception: str | None) -> web.Response:
    entry = {"context": None, "message": message, "exceptionName": exception}
    return json_response({"errors": [entry]}, status)


def not_permitted() -> Reply:
    """Bitbucket Server answers 401, not 403, when a signed-in user lacks a permission."""
    return Reply(error(401, NOT_PERMITTED, AUTHORISATION))


def not_found(message: str, exception: str) -> Reply:
    return Reply(error(404, message, "com.atlassian.bitbucket." + exception))


def bad_request(message: str) -> Reply:
    return Reply(
        error(400, message, "com.atlassian.bitbucket.validation.ArgumentValidationException")
    )


def _int(request: web.Request, name: str, default: int, minimum: int) -> int:
    try:
        value = int(request.query.get(name, ""))
    except ValueError:
        return default
    return max(value, minimum)


def page(request: web.Request, items: Sequence[T], shape: Callable[[T], Any]) -> web.Response:
    start = _int(request, "start", 0, 0)
    limit = min(_int(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    values = [shape(item) for item in items[start : start + limit]]
    last = start + limit >= len(items)
    body: dict[str, Any] = {
        "size": len(values),
        "limit": limit,
        "isLastPage": last,
        "values": values,
        "start": start,
    }
    if not last:
        body["nextPageStart"] = start + limit
    return json_response(body)
