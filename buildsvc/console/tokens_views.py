"""The API Tokens page: list, create (the token shown once, on the answer page) and revoke.

A created token is rendered into the POST's own answer, never put in a redirect URL or
the session, so it exists only on that page (console pages are ``no-store``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from buildsvc.accounts import tokens
from buildsvc.accounts.services import hash_token
from buildsvc.console import session as sessions
from buildsvc.console.render import error_context, page
from buildsvc.errors import ServiceError
from buildsvc.store.models import utcnow
from buildsvc.web.jsonio import path_id
from buildsvc.web.keys import SESSIONMAKER
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.tokens import TokenOut

routes = web.RouteTableDef()

EXPIRY_CHOICES = (("", "never"), ("7", "in 7 days"), ("30", "in 30 days"), ("90", "in 90 days"))
MAX_SHOWN = 200  # an account with more tokens than this has a bigger problem than paging


async def _render(
    request: web.Request, session: sessions.ConsoleSession, *, status: int = 200, **context: Any
) -> web.Response:
    rows, _ = await tokens.list_tokens(
        request.app[SESSIONMAKER], session.account_id, offset=0, limit=MAX_SHOWN
    )
    signed_in_with = hash_token(session.token)
    current = next((row.id for row in rows if row.token_hash == signed_in_with), None)
    return await page(
        request,
        "tokens.html",
        session,
        {
            "tokens": [TokenOut.from_row(row) for row in rows],
            "current_id": current,
            "expiry_choices": EXPIRY_CHOICES,
            "created": None,
            "notice": "Token revoked." if request.query.get("revoked") else None,
            "error": None,
            "values": {},
            **context,
        },
        status=status,
    )


@routes.get("/console/tokens")
@hidden
async def tokens_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _render(request, session)


@routes.post("/console/tokens")
@hidden
async def create(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    form = await request.post()
    values = {
        "name": str(form.get("name", ""))[:200],
        "expires_in_days": str(form.get("expires_in_days", "")),
    }
    days = values["expires_in_days"] if values["expires_in_days"] in dict(EXPIRY_CHOICES) else ""
    expires_at = utcnow() + dt.timedelta(days=int(days)) if days else None
    try:
        row, token = await tokens.create_token(
            request.app[SESSIONMAKER], session.account_id, values["name"], expires_at
        )
    except ServiceError as exc:
        return await _render(
            request, session, status=exc.status, error=error_context(exc), values=values
        )
    return await _render(request, session, created={"name": row.name, "token": token})


@routes.post("/console/tokens/{token_id}/revoke")
@hidden
async def revoke(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    token_id = path_id(request, "token_id", "API token")
    await tokens.revoke_token(request.app[SESSIONMAKER], session.account_id, token_id)
    raise web.HTTPSeeOther(location="/console/tokens?revoked=1")
