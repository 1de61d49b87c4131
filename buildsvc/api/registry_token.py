"""``GET /v2/token``: the registry's token endpoint (Distribution token auth spec).

Not under ``/api/v1``: docker sends Basic credentials (an account and its registry
password, a robot and its secret) or none, never an API token. Wrong credentials get a
401 with an empty body, which docker prints as ``unauthorized: authentication required``.
The client address the grant checks against ``allowed_networks`` is the connection's
peer: for ``docker pull`` that is the Docker daemon, not the CLI.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from buildsvc.registry.principals import BadCredentials
from buildsvc.registry.server import TokenRequest
from buildsvc.web.jsonio import json_response
from buildsvc.web.keys import TOKEN_SERVER
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()


class TokenOut(BaseModel):
    token: str
    access_token: str = Field(description="the same token (OAuth2 clients read this one)")
    expires_in: int
    issued_at: str


@routes.get("/v2/token")
@describe(
    "Registry token (Basic credentials or anonymous; scope may repeat)",
    response=TokenOut,
    public=True,
    bare_responses={
        401: "Wrong credentials, or anonymous with no scope (how docker login checks a "
        "password): an empty body, which docker prints as 'unauthorized: authentication "
        "required'"
    },
)
async def token(request: web.Request) -> web.Response:
    asked = TokenRequest(
        authorization=request.headers.get("Authorization"),
        scopes=request.query.getall("scope", []),
        client_address=request.remote,
    )
    try:
        issued = await request.app[TOKEN_SERVER].issue(asked)
    except BadCredentials:
        return web.Response(status=401, headers={"Cache-Control": "no-store"})
    issued_at = issued.issued_at.isoformat().replace("+00:00", "Z")
    body = TokenOut(
        token=issued.token,
        access_token=issued.token,
        expires_in=issued.expires_in,
        issued_at=issued_at,
    )
    return json_response(body, headers={"Cache-Control": "no-store"})
