"""``POST /api/v1/repositories/{id}/hook``: re-create the repository's push hook on the forge.

Deletes the hook stored for the repository (one already gone is fine), creates a new one
delivering to the repository's webhook URL with its secret, stores the new hook id and
answers the repository as ``GET`` does (see ``buildsvc.repositories.hook_health``).
"""

from __future__ import annotations

from aiohttp import web

from buildsvc.repositories import hook_health
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_response, path_id
from buildsvc.web.keys import ACCOUNT_ID
from buildsvc.web.openapi import describe
from buildsvc.web.responses.repositories import RepositoryOut

routes = web.RouteTableDef()


@routes.post("/api/v1/repositories/{repository_id}/hook")
@describe(
    "Re-create the push hook on the forge (a stale one is deleted first)",
    response=RepositoryOut,
    errors=(409, 422),
)
async def recreate_hook(request: web.Request) -> web.Response:
    repository_id = path_id(request, "repository_id", "Image repository")
    seen = await hook_health.recreate(source_access(request), request[ACCOUNT_ID], repository_id)
    return json_response(RepositoryOut.build(request, seen.repository).with_health(seen))
