"""``POST /webhooks/{provider}/{hook_key}``: where forges deliver push events.

Public (no bearer token): the repository's hook secret authenticates the delivery.
Answers 202 ``{"delivery", "outcome", "build_ids"}`` once the delivery is recorded and
its builds are queued; 404 for an unknown hook, 401 for a missing or wrong secret, 413
for a body over ``settings.webhook_max_body_bytes``, 400 for a malformed payload.
"""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import BaseModel

from buildsvc.errors import PayloadTooLarge
from buildsvc.intake import service as intake
from buildsvc.web.keys import (
    COMMIT_STATUS,
    INTAKE,
    WEBHOOK_OUTCOME,
)
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()

CHUNK_BYTES = 64 * 1024
# What jsonio.dumps writes for these plain values, without building an encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Accepted(BaseModel):
    delivery: str
    outcome: str
    build_ids: list[int]


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing (without reading on) once it is known to exceed ``limit``."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        return await request.read()  # within the limit, and aiohttp stops at its length
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(detail=f"webhook bodies are limited to {limit} bytes")


@routes.post("/webhooks/{provider}/{hook_key}")
@describe(
    "Receive a forge push event",
    response=Accepted,
    status=202,
    public=True,
    errors=(400,),
    body_schema={"type": "object", "description": "the forge's event payload"},
)
async def receive(request: web.Request) -> web.Response:
    app = request.app
    deps = app[INTAKE]
    settings = deps.settings
    result = await intake.receive(
        deps,
        request.match_info["provider"],
        request.match_info["hook_key"],
        request.headers,
        lambda: read_limited(request, settings.webhook_max_body_bytes),
    )
    app[COMMIT_STATUS].report(result.build_ids)  # "pending" on the forge, in the background
    app[COMMIT_STATUS].report(result.superseded, "superseded")  # their commits' final status
    request[WEBHOOK_OUTCOME] = result.outcome  # counted by buildsvc.metrics
    # Rendered as a dict of the Accepted fields, by one encoder: this answer is on the hot path.
    body = {"delivery": result.delivery, "outcome": result.outcome, "build_ids": result.build_ids}
    return web.Response(text=_ENCODER.encode(body), status=202, content_type="application/json")
