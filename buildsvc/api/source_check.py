"""``POST /api/v1/sources/{provider}/check``: re-validate a bound token with the forge.

Answers the binding as ``GET /api/v1/sources`` lists it: ``ok`` again when the binding
checks pass, ``broken`` with the forge's reason when they fail; 502 when the forge cannot
be reached (the binding is left as it was). See ``buildsvc.bindings.health``.
"""

from __future__ import annotations

from aiohttp import web

from buildsvc.bindings import health
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_response
from buildsvc.web.keys import ACCOUNT_ID
from buildsvc.web.openapi import describe
from buildsvc.web.responses.sources import BindingOut

routes = web.RouteTableDef()


@routes.post("/api/v1/sources/{provider}/check")
@describe("Check the bound token with the forge again", response=BindingOut, errors=(400, 502))
async def check(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    view = await health.check_binding(source_access(request), request[ACCOUNT_ID], provider)
    return json_response(BindingOut.from_view(view))
