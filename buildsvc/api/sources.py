"""Code-source bindings and the pickers: ``/api/v1/sources``.

POST binds (checks with the forge; a refusal is 422 with one of the two documented
codes and a detail naming the cause), GET lists (the token only as its last 4
characters), DELETE unbinds. The pickers list what the bound token sees, following the
forge's pagination to the end, then paginate that list with ``?page=&per_page=``.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from buildsvc.bindings import service
from buildsvc.bindings.service import UnbindResult
from buildsvc.sources import Credentials
from buildsvc.web.forge_access import DEFAULT_URLS, source_access
from buildsvc.web.jsonio import json_body, json_response, query_params
from buildsvc.web.keys import ACCOUNT_ID
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.sources import BindingOut, NamespaceOut, SourceRepositoryOut

routes = web.RouteTableDef()


class BindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["gitlab", "github", "bitbucket", "bitbucket-server"]
    url: str | None = Field(default=None, max_length=2048, description="instance root URL")
    username: str = Field(min_length=1, max_length=255)
    token: SecretStr = Field(min_length=1, max_length=4096)
    ca_cert: str | None = Field(default=None, max_length=65536, description="PEM")


class HookLeftOut(BaseModel):
    repository: str
    source_repository: str
    hook_id: str
    detail: str


class UnbindOut(BaseModel):
    provider: str
    hooks_removed: int
    hooks_not_removed: list[HookLeftOut]

    @classmethod
    def from_result(cls, result: UnbindResult) -> UnbindOut:
        left = [
            HookLeftOut(
                repository=h.repository,
                source_repository=h.source_repository,
                hook_id=h.hook_id,
                detail=h.detail,
            )
            for h in result.hooks_not_removed
        ]
        return cls(
            provider=result.provider, hooks_removed=result.hooks_removed, hooks_not_removed=left
        )


class RepositoriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    namespace: str = Field(min_length=1, max_length=1024)


@routes.post("/api/v1/sources")
@describe(
    "Bind a code source", body=BindIn, response=BindingOut, status=201, errors=(404, 409, 422)
)
async def bind(request: web.Request) -> web.Response:
    body = await json_body(request, BindIn)
    credentials = Credentials(
        provider=body.provider,
        url=body.url or DEFAULT_URLS.get(body.provider, ""),
        username=body.username,
        token=body.token.get_secret_value(),
        ca_cert=body.ca_cert,
    )
    view = await service.bind(source_access(request), request[ACCOUNT_ID], credentials)
    return json_response(BindingOut.from_view(view), status=201)


@routes.get("/api/v1/sources")
@describe("List the bound code sources", response=Page[BindingOut])
async def list_bindings(request: web.Request) -> web.Response:
    views = await service.list_bindings(source_access(request), request[ACCOUNT_ID])
    items = [BindingOut.from_view(view) for view in views]
    return json_response({"items": items, "total": len(items)})


@routes.delete("/api/v1/sources/{provider}")
@describe("Unbind a code source", response=UnbindOut, errors=(409,))
async def unbind(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    result = await service.unbind(source_access(request), request[ACCOUNT_ID], provider)
    return json_response(UnbindOut.from_result(result))


@routes.get("/api/v1/sources/{provider}/namespaces")
@describe(
    "Namespaces the bound token sees",
    response=Page[NamespaceOut],
    paginated=True,
    errors=(409, 422, 502),
)
async def namespaces(request: web.Request) -> web.Response:
    page = page_request(request)
    provider = request.match_info["provider"]
    found = await service.list_namespaces(source_access(request), request[ACCOUNT_ID], provider)
    items = [NamespaceOut.from_namespace(n) for n in found[page.offset : page.offset + page.limit]]
    return paginated_response(request, items, len(found), page)


@routes.get("/api/v1/sources/{provider}/repositories")
@describe(
    "Repositories of one namespace",
    query=RepositoriesQuery,
    response=Page[SourceRepositoryOut],
    paginated=True,
    errors=(409, 422, 502),
)
async def repositories(request: web.Request) -> web.Response:
    page = page_request(request)
    query = query_params(request, RepositoriesQuery)
    provider = request.match_info["provider"]
    found = await service.list_source_repositories(
        source_access(request), request[ACCOUNT_ID], provider, query.namespace
    )
    window = found[page.offset : page.offset + page.limit]
    items = [SourceRepositoryOut.from_repository(r) for r in window]
    return paginated_response(request, items, len(found), page)
