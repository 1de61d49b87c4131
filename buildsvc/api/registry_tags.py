"""Tags and the registry audit log of an image repository."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.registry import tags
from buildsvc.store.models import RegistryEvent, RegistryTag
from buildsvc.web.jsonio import UtcDatetime, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER, TOKEN_SERVER
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response

routes = web.RouteTableDef()


class TagOut(BaseModel):
    name: str
    digest: str
    size: int | None
    pushed_at: UtcDatetime | None
    pushed_by: str | None
    last_pulled_at: UtcDatetime | None

    @classmethod
    def of(cls, tag: RegistryTag) -> TagOut:
        return cls(
            name=tag.name,
            digest=tag.digest,
            size=tag.size,
            pushed_at=tag.pushed_at,
            pushed_by=tag.pushed_by,
            last_pulled_at=tag.last_pulled_at,
        )


class TagList(BaseModel):
    items: list[TagOut]
    total: int
    reconciled: bool  # False: the registry could not be asked; recorded tags only


class TagsDeleted(BaseModel):
    deleted: list[str]  # every tag of the deleted manifest


class EventOut(BaseModel):
    id: int
    action: str
    actor: str | None
    client_addr: str | None
    digest: str | None
    tag: str | None
    media_type: str | None
    size: int | None
    occurred_at: UtcDatetime

    @classmethod
    def of(cls, event: RegistryEvent) -> EventOut:
        return cls(
            id=event.id,
            action=event.action,
            actor=event.actor,
            client_addr=event.client_addr,
            digest=event.digest,
            tag=event.tag,
            media_type=event.media_type,
            size=event.size,
            occurred_at=event.occurred_at,
        )


def _id(request: web.Request) -> int:
    return path_id(request, "repository_id", "Image repository")


def _api(request: web.Request) -> tags.RegistryApi:
    return tags.RegistryApi(request.app[TOKEN_SERVER])


@routes.get("/api/v1/repositories/{repository_id}/tags")
@describe("Tags in the registry (reconciled with its tags API)", response=TagList)
async def list_tags(request: web.Request) -> web.Response:
    found = await tags.list_tags(
        request.app[SESSIONMAKER], _api(request), request[ACCOUNT_ID], _id(request)
    )
    items = [TagOut.of(tag) for tag in found.items]
    return json_response(TagList(items=items, total=len(items), reconciled=found.reconciled))


@routes.delete("/api/v1/repositories/{repository_id}/tags/{tag}")
@describe(
    "Delete a tag's manifest (and so every tag of that digest)",
    response=TagsDeleted,
    errors=(403, 503),
)
async def delete_tag(request: web.Request) -> web.Response:
    deleted = await tags.delete_tag(
        request.app[SESSIONMAKER],
        _api(request),
        request[ACCOUNT_ID],
        _id(request),
        request.match_info["tag"],
    )
    return json_response(TagsDeleted(deleted=deleted))


@routes.get("/api/v1/repositories/{repository_id}/events")
@describe("The registry audit log: pushes, pulls, deletes", response=Page[EventOut], paginated=True)
async def list_events(request: web.Request) -> web.Response:
    page = page_request(request)
    rows, total = await tags.list_events(
        request.app[SESSIONMAKER],
        request[ACCOUNT_ID],
        _id(request),
        offset=page.offset,
        limit=page.limit,
    )
    return paginated_response(request, [EventOut.of(e) for e in rows], total, page)
