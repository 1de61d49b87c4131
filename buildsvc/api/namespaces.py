"""Owned namespaces: ``/api/v1/namespaces``."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.registry import namespaces
from buildsvc.store.models import Namespace
from buildsvc.web.jsonio import UtcDatetime, json_body, json_response
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()


class NamespaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs the token server accepts clients from (as the registry sees "
        "them: the Docker daemon's address); empty: anywhere",
    )


class NamespacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_networks: list[str]


class NamespaceOut(BaseModel):
    name: str
    allowed_networks: list[str]
    repositories: int
    created_at: UtcDatetime

    @classmethod
    def of(cls, namespace: Namespace, repositories: int = 0) -> NamespaceOut:
        return cls(
            name=namespace.name,
            allowed_networks=[str(n) for n in namespace.allowed_networks],
            repositories=repositories,
            created_at=namespace.created_at,
        )


class NamespaceList(BaseModel):
    items: list[NamespaceOut]
    total: int


@routes.post("/api/v1/namespaces")
@describe("Claim a namespace", body=NamespaceIn, response=NamespaceOut, status=201, errors=(409,))
async def create(request: web.Request) -> web.Response:
    spec = await json_body(request, NamespaceIn)
    namespace = await namespaces.create(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], spec.name, spec.allowed_networks
    )
    return json_response(NamespaceOut.of(namespace), status=201)


@routes.get("/api/v1/namespaces")
@describe("The namespaces this account holds", response=NamespaceList)
async def list_namespaces(request: web.Request) -> web.Response:
    rows = await namespaces.list_owned(request.app[SESSIONMAKER], request[ACCOUNT_ID])
    items = [NamespaceOut.of(namespace, count) for namespace, count in rows]
    return json_response(NamespaceList(items=items, total=len(items)))


@routes.patch("/api/v1/namespaces/{name}")
@describe("Change a namespace's allowed networks", body=NamespacePatch, response=NamespaceOut)
async def update(request: web.Request) -> web.Response:
    patch = await json_body(request, NamespacePatch)
    namespace = await namespaces.update_networks(
        request.app[SESSIONMAKER],
        request[ACCOUNT_ID],
        request.match_info["name"],
        patch.allowed_networks,
    )
    return json_response(NamespaceOut.of(namespace))


@routes.delete("/api/v1/namespaces/{name}")
@describe("Give a namespace up (only when it holds no image repository)", status=204)
async def delete(request: web.Request) -> web.Response:
    await namespaces.delete(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], request.match_info["name"]
    )
    return web.Response(status=204)
