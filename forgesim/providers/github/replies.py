"""GitHub's error bodies and its ``Link``-header pagination (``page``, ``per_page``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
DOCS = "https://docs.github.com/enterprise-server@3.14/rest"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100


class Reply(Exception):
    """Raised by helpers to answer right away with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, message: str, docs: str = DOCS, **extra: Any) -> web.Response:
    """``{"message", "documentation_url", "status"}``: every GitHub error looks like this."""
    body = {"message": message, "documentation_url": docs, **extra, "status": str(status)}
    return web.json_response(body, status=status)


def not_found() -> Reply:
    return Reply(error(404, "Not Found"))


def forbidden(message: str, **headers: str) -> Reply:
    response = error(403, message)
    response.headers.update(headers)
    return Reply(response)


def invalid(message: str, resource: str, field: str, code: str = "invalid") -> Reply:
    """422 Validation Failed with one error entry, as GitHub words field errors."""
    entry = {"resource": resource, "code": code, "field": field}
    if code == "custom":
        entry = {"resource": resource, "code": code, "message": message}
    return Reply(error(422, "Validation Failed", errors=[entry]))


def _int(request: web.Request, name: str, default: int) -> int:
    try:
        value = int(request.query.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def paginate(request: web.Request, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` and GitHub's ``Link`` header (next/last, then prev/first)."""
    page = _int(request, "page", 1)
    per_page = min(_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    pages = max(1, math.ceil(len(items) / per_page))
    start = (page - 1) * per_page
    links = []
    url = request.url
    if page < pages:
        links.append(f'<{url.update_query(page=page + 1)}>; rel="next"')
        links.append(f'<{url.update_query(page=pages)}>; rel="last"')
    if page > 1:
        links.append(f'<{url.update_query(page=min(page - 1, pages))}>; rel="prev"')
        links.append(f'<{url.update_query(page=1)}>; rel="first"')
    headers = {"Link": ", ".join(links)} if links else {}
    return list(items[start : start + per_page]), headers


def page_response(
    request: web.Request, items: Sequence[T], shape: Callable[[T], Any] | None = None
) -> web.Response:
    """Render only the requested page of ``items``."""
    sliced, headers = paginate(request, items)
    body = [shape(item) for item in sliced] if shape else sliced
    return web.json_response(body, headers=headers)


def iso(stamp: str) -> str:
    """GitHub prints UTC seconds: 2011-01-26T19:01:12Z (forgesim keeps milliseconds)."""
    return stamp[:19] + "Z"
