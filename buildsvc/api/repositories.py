"""Image repositories: ``/api/v1/repositories`` and their deliveries.

Values of build args named in ``secret_build_args`` are never sent back: they read
``"****"``. ``PATCH`` replaces every rule, so send secret values again when changing
rules.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.registry import namespaces, plain
from buildsvc.repositories import hook_health, queries, service
from buildsvc.repositories.schemas import RepositoryCreate, RepositoryPatch
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_body, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.repositories import DeliveryOut, RepositoryOut

routes = web.RouteTableDef()


class DeletedOut(BaseModel):
    id: int
    deleted: bool
    hook_removed: bool
    detail: str | None


def _id(request: web.Request) -> int:
    return path_id(request, "repository_id", "Image repository")


@routes.post("/api/v1/repositories")
@describe(
    "Create an image repository: linked to a source repository, or plain (no source)",
    body=RepositoryCreate,
    response=RepositoryOut,
    status=201,
    errors=(404, 409, 422, 502),
)
async def create(request: web.Request) -> web.Response:
    spec = await json_body(request, RepositoryCreate)
    account_id = request[ACCOUNT_ID]
    if spec.source is None:
        repo = await plain.create(
            request.app[SESSIONMAKER], account_id, spec.namespace, spec.name, spec.visibility
        )
    else:
        access = source_access(request)
        repo = await service.create_repository(access, account_id, spec, namespaces.claim)
    return json_response(RepositoryOut.build(request, repo), status=201)


@routes.get("/api/v1/repositories")
@describe("List image repositories", response=Page[RepositoryOut], paginated=True)
async def list_repositories(request: web.Request) -> web.Response:
    page = page_request(request)
    repos, total = await queries.list_repositories(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], offset=page.offset, limit=page.limit
    )
    return paginated_response(
        request, [RepositoryOut.build(request, r) for r in repos], total, page
    )


@routes.get("/api/v1/repositories/{repository_id}")
@describe(
    "One image repository, with its last delivery and its hook as the forge has it",
    response=RepositoryOut,
)
async def get(request: web.Request) -> web.Response:
    seen = await hook_health.inspect(source_access(request), request[ACCOUNT_ID], _id(request))
    return json_response(RepositoryOut.build(request, seen.repository).with_health(seen))


@routes.patch("/api/v1/repositories/{repository_id}")
@describe(
    "Change rules, auto build or visibility",
    body=RepositoryPatch,
    response=RepositoryOut,
    errors=(409,),
)
async def update(request: web.Request) -> web.Response:
    repository_id = _id(request)
    patch = await json_body(request, RepositoryPatch)
    repo = await service.update_repository(
        source_access(request), request[ACCOUNT_ID], repository_id, patch
    )
    return json_response(RepositoryOut.build(request, repo))


@routes.delete("/api/v1/repositories/{repository_id}")
@describe("Delete an image repository and its hook", response=DeletedOut)
async def delete(request: web.Request) -> web.Response:
    repository_id = _id(request)
    done = await service.delete_repository(
        source_access(request), request[ACCOUNT_ID], repository_id
    )
    return json_response(
        DeletedOut(id=done.id, deleted=True, hook_removed=done.hook_removed, detail=done.detail)
    )


@routes.get("/api/v1/repositories/{repository_id}/deliveries")
@describe("Webhook deliveries, newest first", response=Page[DeliveryOut], paginated=True)
async def deliveries(request: web.Request) -> web.Response:
    repository_id = _id(request)
    page = page_request(request)
    items, total = await queries.list_deliveries(
        request.app[SESSIONMAKER],
        request[ACCOUNT_ID],
        repository_id,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated_response(request, [DeliveryOut.from_delivery(d) for d in items], total, page)
