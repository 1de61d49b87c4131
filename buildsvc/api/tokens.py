"""``/api/v1/tokens``: the account's own API tokens (create, list, revoke).

The plaintext of a token is in the answer that creates it and nowhere else; lists show
its last 4 characters. See ``buildsvc.accounts.tokens``.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.accounts import tokens
from buildsvc.accounts.tokens import MAX_TOKEN_NAME
from buildsvc.web.jsonio import UtcDatetime, json_body, json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.tokens import TokenOut

routes = web.RouteTableDef()


class TokenCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_TOKEN_NAME, description="e.g. ci-deploy")
    expires_at: dt.datetime | None = Field(
        default=None, description="when the token stops working (UTC if no zone); null: never"
    )


class TokenCreatedOut(BaseModel):
    id: int
    name: str
    token: str = Field(description="the token itself, shown in this answer only")
    expires_at: UtcDatetime | None


class RevokedOut(BaseModel):
    id: int
    revoked: bool


@routes.post("/api/v1/tokens")
@describe(
    "Create an API token of this account (the token is shown once)",
    body=TokenCreateIn,
    response=TokenCreatedOut,
    status=201,
)
async def create(request: web.Request) -> web.Response:
    spec = await json_body(request, TokenCreateIn)
    row, token = await tokens.create_token(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], spec.name, spec.expires_at
    )
    created = TokenCreatedOut(id=row.id, name=row.name, token=token, expires_at=row.expires_at)
    return json_response(created, status=201)


@routes.get("/api/v1/tokens")
@describe(
    "List this account's API tokens (never their secret)", response=Page[TokenOut], paginated=True
)
async def list_tokens(request: web.Request) -> web.Response:
    page = page_request(request)
    rows, total = await tokens.list_tokens(
        request.app[SESSIONMAKER], request[ACCOUNT_ID], offset=page.offset, limit=page.limit
    )
    return paginated_response(request, [TokenOut.from_row(row) for row in rows], total, page)


@routes.delete("/api/v1/tokens/{token_id}")
@describe("Revoke an API token at once", response=RevokedOut)
async def revoke(request: web.Request) -> web.Response:
    token_id = path_id(request, "token_id", "API token")
    await tokens.revoke_token(request.app[SESSIONMAKER], request[ACCOUNT_ID], token_id)
    return json_response(RevokedOut(id=token_id, revoked=True))
