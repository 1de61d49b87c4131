"""Robot accounts: ``/api/v1/robots``. The secret is in the answer to create and rotate
only; it is stored as a hash."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.registry import robots
from buildsvc.registry.permissions import Permission
from buildsvc.web.jsonio import UtcDatetime, json_body, json_response
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe
from buildsvc.web.responses.robots import RobotOut

routes = web.RouteTableDef()


class RobotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    permissions: list[Permission] = Field(default_factory=list)
    expires_at: UtcDatetime | None = None


class RobotPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permissions: list[Permission] | None = Field(default=None, description="replaces them all")
    disabled: bool | None = None
    expires_at: UtcDatetime | None = Field(default=None, description="null: never expires")


class RobotSecretOut(BaseModel):
    username: str
    secret: str = Field(description="shown this once")


class RobotList(BaseModel):
    items: list[RobotOut]
    total: int


def _name(request: web.Request) -> str:
    return request.match_info["name"]


@routes.post("/api/v1/robots")
@describe(
    "Create a robot account", body=RobotIn, response=RobotSecretOut, status=201, errors=(409,)
)
async def create(request: web.Request) -> web.Response:
    spec = await json_body(request, RobotIn)
    created = await robots.create(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], spec.name, spec.permissions, spec.expires_at
    )
    return json_response(
        RobotSecretOut(username=created.username, secret=created.secret), status=201
    )


@routes.get("/api/v1/robots")
@describe("The account's robot accounts (never their secrets)", response=RobotList)
async def list_robots(request: web.Request) -> web.Response:
    account, rows = await robots.list_robots(request.app[SESSIONMAKER], request[ACCOUNT_ID])
    items = [RobotOut.of(account, robot) for robot in rows]
    return json_response(RobotList(items=items, total=len(items)))


@routes.patch("/api/v1/robots/{name}")
@describe("Change a robot's permissions, expiry, or disable it", body=RobotPatch, response=RobotOut)
async def update(request: web.Request) -> web.Response:
    patch = await json_body(request, RobotPatch)
    change = robots.Change(
        permissions=patch.permissions,
        disabled=patch.disabled,
        expires_at=patch.expires_at,
        clear_expiry="expires_at" in patch.model_fields_set and patch.expires_at is None,
    )
    account, robot = await robots.change(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], _name(request), change
    )
    return json_response(RobotOut.of(account, robot))


@routes.post("/api/v1/robots/{name}/secret")
@describe("Rotate a robot's secret (the old one stops working)", response=RobotSecretOut)
async def rotate(request: web.Request) -> web.Response:
    created = await robots.rotate(request.app[SESSIONMAKER], request[ACCOUNT_ID], _name(request))
    return json_response(RobotSecretOut(username=created.username, secret=created.secret))


@routes.delete("/api/v1/robots/{name}")
@describe("Delete a robot account", status=204)
async def delete(request: web.Request) -> web.Response:
    await robots.delete(request.app[SESSIONMAKER], request[ACCOUNT_ID], _name(request))
    return web.Response(status=204)
