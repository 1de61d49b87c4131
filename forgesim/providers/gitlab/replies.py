"""GitLab's error bodies and its offset pagination headers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
DEFAULT_PER_PAGE, MAX_PER_PAGE = 20, 100


def message(status: int, text: str) -> web.Response:
    """``{"message": "404 Project Not Found"}``-style answers."""
    return web.json_response({"message": f"{status} {text}"}, status=status)


def error(status: int, text: str) -> web.Response:
    """``{"error": "404 Not Found"}``-style answers (unknown routes, bad params)."""
    return web.json_response({"error": text}, status=status)


class Reply(Exception):
    """Raised by helpers to answer right away with a ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def not_found(what: str = "Not Found") -> Reply:
    return Reply(message(404, what))


def forbidden() -> Reply:
    return Reply(message(403, "Forbidden"))


def unauthorized() -> Reply:
    return Reply(message(401, "Unauthorized"))


def bad_request(text: str) -> Reply:
    return Reply(web.json_response({"error": text}, status=400))


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def paginate(request: web.Request, items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """Slice ``items`` for ``page``/``per_page`` and build GitLab's headers."""
    page = _int(request, "page", 1)
    per_page = min(_int(request, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if 1 < page <= pages + 1 else "",
    }
    links = []
    url = request.url
    if page < pages:
        links.append(f'<{url.update_query(page=page + 1, per_page=per_page)}>; rel="next"')
    if 1 < page <= pages + 1:
        links.append(f'<{url.update_query(page=page - 1, per_page=per_page)}>; rel="prev"')
    links.append(f'<{url.update_query(page=1, per_page=per_page)}>; rel="first"')
    links.append(f'<{url.update_query(page=pages, per_page=per_page)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return list(items[start : start + per_page]), headers


def page_response(
    request: web.Request, items: Sequence[T], shape: Callable[[T], Any] | None = None
) -> web.Response:
    """One page of ``items``, each rendered by ``shape`` (only the page is rendered)."""
    sliced, headers = paginate(request, items)
    body = [shape(item) for item in sliced] if shape else sliced
    return web.json_response(body, headers=headers)


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes")
