"""The Code Source page: one card per provider, Bind (dialog) and Unbind."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from buildsvc.bindings import service
from buildsvc.console import session as sessions
from buildsvc.console.bind_focus import wrong_field
from buildsvc.console.render import (
    CARDS_BY_NAME,
    PROVIDER_CARDS,
    available_providers,
    error_context,
    page,
)
from buildsvc.errors import ServiceError
from buildsvc.sources import Credentials, ProviderName
from buildsvc.web.forge_access import DEFAULT_URLS, source_access
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.sources import BindingOut

routes = web.RouteTableDef()

MAX_FIELD = 65536


async def _render(
    request: web.Request,
    session: sessions.ConsoleSession,
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    views = await service.list_bindings(source_access(request), session.account_id)
    bindings = {view.row.provider: BindingOut.from_view(view) for view in views}
    return await page(
        request,
        "sources.html",
        session,
        {
            "cards": PROVIDER_CARDS,
            "bindings": bindings,
            "available": available_providers(request),
            "open_dialog": request.query.get("bind"),
            "notice": _notice(request),
            "page_error": None,
            "bind_error": None,
            "wrong_field": None,
            "form_values": {},
            "hooks_left": [],
            **context,
        },
        status=status,
    )


def _notice(request: web.Request) -> str | None:
    bound = request.query.get("bound")
    if bound in CARDS_BY_NAME:
        return f"{CARDS_BY_NAME[bound].title} account bound."
    return None


@routes.get("/console/sources")
@hidden
async def sources_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _render(request, session)


def _field(form: Any, name: str) -> str:
    return str(form.get(name, ""))[:MAX_FIELD].strip()


@routes.post("/console/sources/{provider}/bind")
@hidden
async def bind(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    provider = request.match_info["provider"]
    card = CARDS_BY_NAME.get(provider)
    if card is None:
        raise web.HTTPNotFound()
    form = await request.post()
    values = {
        "url": _field(form, "url"),
        "username": _field(form, "username"),
        "ca_cert": _field(form, "ca_cert"),
    }
    credentials = Credentials(
        provider=cast(ProviderName, provider),
        url=values["url"] or DEFAULT_URLS.get(provider, ""),
        username=values["username"],
        token=_field(form, "token"),
        ca_cert=values["ca_cert"] or None,
    )
    try:
        await service.bind(source_access(request), session.account_id, credentials)
    except ServiceError as exc:
        return await _render(
            request,
            session,
            status=exc.status if 400 <= exc.status < 500 else 422,
            open_dialog=provider,
            bind_error=error_context(exc),
            wrong_field=wrong_field(exc.code, exc.detail, has_url=card.url_mode != "none"),
            form_values=values,
        )
    raise web.HTTPSeeOther(location=f"/console/sources?bound={provider}")


@routes.post("/console/sources/{provider}/unbind")
@hidden
async def unbind(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    provider = request.match_info["provider"]
    try:
        result = await service.unbind(source_access(request), session.account_id, provider)
    except ServiceError as exc:
        return await _render(request, session, status=exc.status, page_error=error_context(exc))
    title = CARDS_BY_NAME[provider].title if provider in CARDS_BY_NAME else provider
    return await _render(
        request,
        session,
        notice=f"{title} account unbound; {result.hooks_removed} push hook(s) removed.",
        hooks_left=result.hooks_not_removed,
    )
