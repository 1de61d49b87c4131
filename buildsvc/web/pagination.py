"""``?page=&per_page=`` for list endpoints, answered as ``{"items", "total"}`` + ``Link``.

A handler does::

    page = page_request(request)              # 400 on a bad page/per_page
    items, total = await queries.list_x(..., offset=page.offset, limit=page.limit)
    return paginated_response(request, [XOut.from_row(i) for i in items], total, page)

``Link`` carries first, prev, next and last (RFC 8288), each the request URL with only
``page`` changed, so filters and ``per_page`` carry over. ``Page[XOut]`` is the response
model for the API description.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web
from multidict import MultiDict
from pydantic import BaseModel

from buildsvc.errors import InvalidInput
from buildsvc.web.jsonio import json_response

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # far past any list; keeps OFFSET inside a 64-bit integer

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        return self.per_page


def _positive_int(request: web.Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(detail=f"{name} must be a positive integer, got {raw[:20]!r}")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise InvalidInput(detail=f"{name} must be at most {maximum}")
    return value


def page_request(request: web.Request) -> PageRequest:
    return PageRequest(
        page=_positive_int(request, "page", 1, MAX_PAGE),
        per_page=_positive_int(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    )


def link_header(request: web.Request, page: PageRequest, total: int) -> str:
    last = max(1, math.ceil(total / page.per_page))
    targets = [("first", 1)]
    if page.page > 1:
        targets.append(("prev", min(page.page - 1, last)))
    if page.page < last:
        targets.append(("next", page.page + 1))
    targets.append(("last", last))
    links = []
    for rel, number in targets:
        query: MultiDict[str] = MultiDict(request.rel_url.query)
        query["page"] = str(number)
        query["per_page"] = str(page.per_page)
        links.append(f'<{request.url.with_query(query)}>; rel="{rel}"')
    return ", ".join(links)


def paginated_response(
    request: web.Request, items: Sequence[Any], total: int, page: PageRequest
) -> web.Response:
    return json_response(
        {"items": list(items), "total": total},
        headers={"Link": link_header(request, page, total)},
    )
