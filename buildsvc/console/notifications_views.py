"""A repository's notification targets in the console: list (disabled ones say why), add
(a webhook's secret shown once), send a test, enable, disable, delete, recent deliveries.

The same service as ``/api/v1/repositories/{id}/notifications``; the answers reuse the
API's response models.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from buildsvc.console import forms
from buildsvc.console import session as sessions
from buildsvc.console.render import error_context, page
from buildsvc.errors import InvalidInput, NotFound, ServiceError
from buildsvc.notifications import jobs, targets
from buildsvc.notifications.schemas import ALL_EVENTS, NotificationCreate, NotificationPatch
from buildsvc.repositories import queries
from buildsvc.sources import AddressPolicy
from buildsvc.web.jsonio import describe_validation_error
from buildsvc.web.keys import ARQ, CIPHER, SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.notifications import NotificationDeliveryOut, NotificationOut

routes = web.RouteTableDef()

BASE = "/console/repositories/{repository_id}/notifications"
RECENT = 5
MAX_TARGETS = 100  # shown on one page


def _number(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound()
    return int(raw)


def _access(request: web.Request) -> targets.NotificationAccess:
    app = request.app
    policy = AddressPolicy.from_cidrs(app[SETTINGS].allowed_source_networks)
    return targets.NotificationAccess(app[SESSIONMAKER], app[CIPHER], policy)


async def _page(
    request: web.Request,
    session: sessions.ConsoleSession,
    repository_id: int,
    *,
    created: dict[str, Any] | None = None,
    error: ServiceError | None = None,
) -> web.Response:
    access, account_id = _access(request), session.account_id
    repo = await queries.get_repository(request.app[SESSIONMAKER], account_id, repository_id)
    found, _ = await targets.list_targets(
        access, account_id, repository_id, offset=0, limit=MAX_TARGETS
    )
    shown = []
    for target in found:
        recent, _ = await targets.deliveries(
            access, account_id, repository_id, target.id, offset=0, limit=RECENT
        )
        shown.append(
            {
                "target": NotificationOut.of(target),
                "deliveries": [NotificationDeliveryOut.of(d) for d in recent],
            }
        )
    context = {
        "repo": repo,
        "targets": shown,
        "events": ALL_EVENTS,
        "created": created,
        "error": error_context(error) if error is not None else None,
    }
    status = error.status if error is not None else 200
    return await page(request, "notifications.html", session, context, status=status)


@routes.get(BASE)
@hidden
async def notifications_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _page(request, session, _number(request, "repository_id"))


@routes.post(BASE)
@hidden
async def add(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _number(request, "repository_id")
    form = await request.post()
    try:
        try:
            spec = NotificationCreate(
                kind=forms.text(form, "kind", 16),
                url=forms.text(form, "url", 2048),
                description=forms.text(form, "description", 255),
                events=[str(e) for e in form.getall("events", [])] or list(ALL_EVENTS),
            )
        except ValidationError as exc:
            raise InvalidInput(detail=describe_validation_error(exc)) from exc
        made = await targets.create(_access(request), session.account_id, repository_id, spec)
    except ServiceError as exc:
        return await _page(request, session, repository_id, error=exc)
    created = {"id": made.target.id, "secret": made.secret}
    return await _page(request, session, repository_id, created=created)


@routes.post(BASE + "/{notification_id}/{action:test|enable|disable|delete}")
@hidden
async def act(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    repository_id = _number(request, "repository_id")
    ids = (session.account_id, repository_id, _number(request, "notification_id"))
    access, action = _access(request), request.match_info["action"]
    if action == "test":
        await targets.send_test(access, *ids)
        await jobs.enqueue_soon(await request.app[ARQ].get(), ids[2])
    elif action == "delete":
        await targets.delete(access, *ids)
    else:
        await targets.update_target(access, *ids, NotificationPatch(enabled=action == "enable"))
    raise web.HTTPSeeOther(location=f"/console/repositories/{repository_id}/notifications")
