"""The account's registry password: ``PUT /api/v1/registry/password``."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.registry import password
from buildsvc.web.jsonio import json_body
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(description="what docker login -u <account name> takes")


@routes.put("/api/v1/registry/password")
@describe("Set the account's registry logon password", body=PasswordIn, status=204)
async def set_password(request: web.Request) -> web.Response:
    spec = await json_body(request, PasswordIn)
    await password.set_password(request.app[SESSIONMAKER], request[ACCOUNT_ID], spec.password)
    return web.Response(status=204)
