"""Bearer-token authentication for the REST API.

Everything under ``/api/v1/`` needs ``Authorization: Bearer <token>`` except the API
description. Webhooks (authenticated by their provider's secret), ``/healthz``,
``/metrics``, the console (its own sign-in) and ``/api/docs`` are public. The account id
is put on the request under the given ``web.RequestKey`` for handlers to scope by.

The application passes its keys in (``auth_middleware(SESSIONMAKER, ACCOUNT_ID)``), so
this package does not import the HTTP layer above it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.accounts.services import authenticate
from buildsvc.errors import Unauthenticated

PROTECTED_PREFIX = "/api/v1"
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


def requires_token(path: str) -> bool:
    if path in PUBLIC_API_PATHS:
        return False
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated(detail="the Authorization header is missing")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(detail="the Authorization header must be 'Bearer <API token>'")
    return token.strip()


def auth_middleware(
    sessionmaker_key: web.AppKey[async_sessionmaker[AsyncSession]],
    account_key: web.RequestKey[int],
) -> Middleware:
    @web.middleware
    async def authenticate_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        if requires_token(request.path):
            token = bearer_token(request)
            request[account_key] = await authenticate(request.app[sessionmaker_key], token)
        return await handler(request)

    return authenticate_request
