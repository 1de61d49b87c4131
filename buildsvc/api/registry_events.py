"""``POST /registry/events``: where the registry delivers its notifications.

Authenticated by the secret in the Authorization header the registry's config carries
(``buildsvc admin registry-config`` writes it), not by an API token.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.registry import events
from buildsvc.registry.config import events_secret
from buildsvc.web.jsonio import json_response
from buildsvc.web.keys import SESSIONMAKER, SETTINGS
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()


class EventsOut(BaseModel):
    received: int
    recorded: int


@routes.post("/registry/events")
@describe(
    "Registry notifications (Distribution's events envelope)",
    response=EventsOut,
    public=True,
    errors=(400, 401),
)
async def receive(request: web.Request) -> web.Response:
    events.check_secret(request.headers.get("Authorization"), events_secret(request.app[SETTINGS]))
    parsed = events.parse(await request.read())
    done = await events.record(request.app[SESSIONMAKER], parsed)
    return json_response(EventsOut(received=done.received, recorded=done.recorded))
