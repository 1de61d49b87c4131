"""``GET /healthz``: liveness plus a database round trip, for load balancers and probes.

Redis being down does not make the API unhealthy (webhook intake keeps builds in the
outbox), so it is reported but does not change the status.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from pydantic import BaseModel

from buildsvc.store.engine import ping
from buildsvc.web.jsonio import json_response
from buildsvc.web.keys import ARQ, ENGINE
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


class HealthOut(BaseModel):
    """What ``/healthz`` answers (for the API description)."""

    status: str
    database: str
    queue: str | None = None


CHECK_TIMEOUT_SECONDS = 3.0


@routes.get("/healthz")
@describe(
    "Liveness and a database round trip",
    response=HealthOut,
    public=True,
    other_responses={503: ("The database does not answer", HealthOut)},
)
async def healthz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await ping(request.app[ENGINE])
    except Exception as exc:  # any failure means "not healthy"; the cause goes to the log
        log.warning("health check: database unreachable: %r", exc)
        return json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    queue = "ok" if await request.app[ARQ].get() is not None else "unreachable"
    return json_response({"status": "ok", "database": "ok", "queue": queue})
