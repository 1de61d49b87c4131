"""Bitbucket Cloud's error bodies and its page-number pagination (``pagelen``, ``page``).

Errors are ``{"type": "error", "error": {"message": ..., "detail"?: ...}}``; pages are
``{"pagelen", "size", "values", "page", "next"?, "previous"?}`` where ``next`` and
``previous`` are absolute URLs keeping the query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
DEFAULT_PAGELEN, MAX_PAGELEN = 10, 100
DENIED = "Access denied. You must have write or admin access."


class Reply(Exception):
    """Raised by helpers to answer right away with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, message: str, detail: Any = None) -> web.Response:
    body: dict[str, Any] = {"type": "error", "error": {"message": message}}
    if detail is not None:
        body["error"]["detail"] = detail
    return web.json_response(body, status=status)


def not_found(message: str) -> Reply:
    return Reply(error(404, message))


def denied() -> Reply:
    return Reply(error(403, DENIED))


def bad_request(message: str, fields: dict[str, list[str]] | None = None) -> Reply:
    return Reply(error(400, message, {"fields": fields} if fields else None))


def _int(request: web.Request, name: str, default: int) -> int:
    try:
        value = int(request.query.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def page_response(
    request: web.Request, items: Sequence[T], shape: Callable[[T], Any], pagelen: int = 0
) -> web.Response:
    """One page of ``items``; a ``pagelen`` above the maximum is a 400, as on Bitbucket."""
    size = _int(request, "pagelen", pagelen or DEFAULT_PAGELEN)
    if size > MAX_PAGELEN:
        raise bad_request(f"Invalid pagelen: must be between 1 and {MAX_PAGELEN}")
    page = _int(request, "page", 1)
    pages = max(1, math.ceil(len(items) / size))
    start = (page - 1) * size
    body: dict[str, Any] = {
        "pagelen": size,
        "size": len(items),
        "values": [shape(item) for item in items[start : start + size]],
        "page": page,
    }
    if page < pages:
        body["next"] = str(request.url.update_query(page=page + 1))
    if page > 1:
        body["previous"] = str(request.url.update_query(page=min(page - 1, pages)))
    return web.json_response(body)
