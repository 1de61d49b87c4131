"""``GET /badges/{repository_id}/{rule_id}.svg?key=``: a build status badge, no token.

Every answer, a real status or ``unknown``, has the same status code and headers, so
neither reveals whether a repository exists (``repositories.badges``).
"""

from __future__ import annotations

from aiohttp import web

from buildsvc.api.badge_svg import render_badge
from buildsvc.repositories.badges import UNKNOWN, read_badge
from buildsvc.web.keys import CIPHER, SESSIONMAKER
from buildsvc.web.openapi import describe

routes = web.RouteTableDef()

HEADERS = {
    # README pages cache images: a minute keeps a badge near the truth without a flood.
    "Cache-Control": "max-age=60, must-revalidate",
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _number(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@routes.get("/badges/{repository_id}/{rule_id}.svg")
@describe(
    "A build status badge (SVG) of a repository's rule",
    public=True,
    alternatives={"image/svg+xml": {"schema": {"type": "string"}}},
    description="No token: the key in the URL (the repository page shows the whole URL) is "
    "what lets it show the newest build's status. Without it, with a wrong one, or for a "
    "repository or rule that does not exist, the badge says unknown, with the same status "
    "and headers.",
)
async def badge(request: web.Request) -> web.Response:
    repository_id = _number(request.match_info["repository_id"])
    rule_id = _number(request.match_info["rule_id"])
    key = request.query.get("key", "")
    found = UNKNOWN
    if repository_id is not None and rule_id is not None and key:
        found = await read_badge(
            request.app[SESSIONMAKER], request.app[CIPHER], repository_id, rule_id, key
        )
    return web.Response(
        text=render_badge(found.status), content_type="image/svg+xml", headers=HEADERS
    )
