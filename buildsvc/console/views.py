"""Every console route (``routes``) and the sign-in pages.

The console is server-rendered HTML under ``/console``; its views call the same
services as the REST API and reuse the API's response models for what they show.
``routes`` gathers the route tables of the page modules so the application lists one
module.
"""

from __future__ import annotations

from aiohttp import web

from buildsvc.console import session as sessions
from buildsvc.console.api_views import routes as api_routes
from buildsvc.console.builds_views import routes as builds_routes
from buildsvc.console.notifications_views import routes as notifications_routes
from buildsvc.console.registry_views import routes as registry_routes
from buildsvc.console.render import error_context, page
from buildsvc.console.replication_views import routes as replication_routes
from buildsvc.console.repositories_views import routes as repositories_routes
from buildsvc.console.sources_views import routes as sources_routes
from buildsvc.console.tokens_views import routes as tokens_routes
from buildsvc.errors import Unauthenticated
from buildsvc.web.openapi import hidden

auth_routes = web.RouteTableDef()


@auth_routes.get("/console")
@hidden
async def index(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    del session
    raise web.HTTPSeeOther(location="/console/repositories")


@auth_routes.get("/console/login")
@hidden
async def login_page(request: web.Request) -> web.Response:
    if await sessions.current(request) is not None:
        raise web.HTTPSeeOther(location=sessions.safe_next(request.query.get("next")))
    return await _login_form(request, next_path=request.query.get("next"))


async def _login_form(
    request: web.Request,
    *,
    next_path: str | None,
    error: dict[str, str | None] | None = None,
    status: int = 200,
) -> web.Response:
    csrf, new = sessions.login_csrf_value(request)
    response = await page(
        request,
        "login.html",
        None,
        {"login_csrf": csrf, "next": sessions.safe_next(next_path), "error": error},
        status=status,
    )
    if new:
        sessions.set_login_csrf(request, response, csrf)
    return response


@auth_routes.post("/console/login")
@hidden
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    sessions.check_login_csrf(request, str(form.get(sessions.CSRF_FIELD, "")))
    token = str(form.get("token", "")).strip()[:512]
    next_path = sessions.safe_next(str(form.get("next", "")))
    response = web.HTTPSeeOther(location=next_path)
    try:
        await sessions.sign_in(request, response, token)
    except Unauthenticated as exc:
        return await _login_form(request, next_path=next_path, error=error_context(exc), status=401)
    raise response


@auth_routes.post("/console/logout")
@hidden
async def logout(request: web.Request) -> web.Response:
    session = await sessions.current(request)
    if session is not None:
        await sessions.check_csrf(request, session)
    response = web.HTTPSeeOther(location="/console/login")
    sessions.sign_out(response)
    raise response


routes: list[web.AbstractRouteDef] = [
    *auth_routes,
    *sources_routes,
    *repositories_routes,
    *builds_routes,
    *registry_routes,
    *tokens_routes,
    *notifications_routes,
    *replication_routes,
    *api_routes,
]
