"""The console's own JSON and event-stream endpoints (cookie session, CSRF on POST).

The browser cannot send the API's bearer token (the console never shows it to
JavaScript), so the pickers, the rule preview, build status and the live log have
console twins here. They call the same services and answer the same models.
"""

from __future__ import annotations

from aiohttp import web

from buildsvc.bindings import service as bindings
from buildsvc.builds import logs, queries
from buildsvc.console import session as sessions
from buildsvc.console.builds_views import build_id_of
from buildsvc.console.preview import PreviewIn, preview
from buildsvc.errors import InvalidInput
from buildsvc.web import log_stream
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_body, json_response
from buildsvc.web.keys import SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.builds import BuildOut
from buildsvc.web.responses.sources import NamespaceOut, SourceRepositoryOut

routes = web.RouteTableDef()


@routes.get("/console/api/sources/{provider}/namespaces")
@hidden
async def namespaces(request: web.Request) -> web.Response:
    session = await sessions.require_api(request)
    found = await bindings.list_namespaces(
        source_access(request), session.account_id, request.match_info["provider"]
    )
    return json_response({"items": [NamespaceOut.from_namespace(n) for n in found]})


@routes.get("/console/api/sources/{provider}/repositories")
@hidden
async def repositories(request: web.Request) -> web.Response:
    session = await sessions.require_api(request)
    namespace = request.query.get("namespace", "").strip()
    if not namespace:
        raise InvalidInput(detail="namespace: required")
    found = await bindings.list_source_repositories(
        source_access(request), session.account_id, request.match_info["provider"], namespace
    )
    return json_response({"items": [SourceRepositoryOut.from_repository(r) for r in found]})


@routes.post("/console/api/rules/preview")
@hidden
async def rules_preview(request: web.Request) -> web.Response:
    session = await sessions.require_api(request)
    await sessions.check_csrf(request, session)
    spec = await json_body(request, PreviewIn)
    if spec.image:  # tags as they would be pushed: registry/namespace/name:tag
        spec = spec.model_copy(update={"image": f"{request.app[SETTINGS].registry}/{spec.image}"})
    return json_response(preview(spec))


@routes.get("/console/api/builds/{build_id}")
@hidden
async def build_status(request: web.Request) -> web.Response:
    session = await sessions.require_api(request)
    build = await queries.get_build(
        request.app[SESSIONMAKER], session.account_id, build_id_of(request)
    )
    return json_response(BuildOut.from_build(build))


def _after(request: web.Request) -> int:
    for raw in (request.headers.get("Last-Event-ID", ""), request.query.get("after", "")):
        if raw.strip().isdigit():
            return int(raw.strip())
    return 0


@routes.get("/console/api/builds/{build_id}/log")
@hidden
async def build_log(request: web.Request) -> web.StreamResponse:
    """The log after ``?after=`` (or ``Last-Event-ID``) as server-sent events until the end."""
    session = await sessions.require_api(request)
    build_id = build_id_of(request)
    await queries.get_build(request.app[SESSIONMAKER], session.account_id, build_id)

    async def end(item: logs.LogEnd) -> dict[str, object]:
        return {"status": item.status}

    return await log_stream.stream(request, build_id, _after(request), end)
