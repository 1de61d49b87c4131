"""``POST /webhooks/{provider}/{hook_key}``: where forges deliver push events.

Public (no bearer token): the repository's hook secret authenticates the delivery.
Answers 202 ``{"delivery", "outcome", "build_ids"}`` once the delivery is recorded and
its builds are queued; 404 for an unknown hook, 401 for a missing or wrong secret, 413
for a body over ``settings.webhook_max_body_bytes``, 400 for a malformed payload.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from buildsvc.api.jsonio import json_response
from buildsvc.api.keys import ARQ, CIPHER, COMMIT_STATUS, SESSIONMAKER, SETTINGS
from buildsvc.api.openapi import describe
from buildsvc.builds import intake
from buildsvc.errors import PayloadTooLarge

routes = web.RouteTableDef()

CHUNK_BYTES = 64 * 1024


class Accepted(BaseModel):
    delivery: str
    outcome: str
    build_ids: list[int]


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing (without reading on) once it is known to exceed ``limit``."""
    too_large = PayloadTooLarge(detail=f"webhook bodies are limited to {limit} bytes")
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large
        return await request.read()  # within the limit, and aiohttp stops at its length
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


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
    settings = app[SETTINGS]
    deps = intake.IntakeDeps(app[SESSIONMAKER], app[CIPHER], app[ARQ], settings)
    result = await intake.receive(
        deps,
        request.match_info["provider"],
        request.match_info["hook_key"],
        request.headers,
        lambda: read_limited(request, settings.webhook_max_body_bytes),
    )
    app[COMMIT_STATUS].report(result.build_ids)  # "pending" on the forge, in the background
    # Rendered as a dict of the Accepted fields: this answer is on the hot path.
    body = {"delivery": result.delivery, "outcome": result.outcome, "build_ids": result.build_ids}
    return json_response(body, status=202)
