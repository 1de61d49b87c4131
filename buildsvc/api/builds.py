"""``GET /api/v1/builds`` (history) and ``GET /api/v1/builds/{id}`` (one build)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.builds import queries
from buildsvc.builds.states import BuildStatus
from buildsvc.replication import service as replication
from buildsvc.web.jsonio import json_response, path_id, query_params
from buildsvc.web.keys import ACCOUNT_ID, SESSIONMAKER
from buildsvc.web.openapi import describe
from buildsvc.web.pagination import Page, page_request, paginated_response
from buildsvc.web.responses.builds import BuildOut, BuildReplicationOut

routes = web.RouteTableDef()


class BuildListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repository_id: int | None = Field(default=None, ge=1, le=2**63 - 1)  # a 64-bit id
    status: BuildStatus | None = None


@routes.get("/api/v1/builds")
@describe(
    "Build history, newest first", query=BuildListQuery, response=Page[BuildOut], paginated=True
)
async def list_builds(request: web.Request) -> web.Response:
    page = page_request(request)
    query = query_params(request, BuildListQuery)
    builds, total = await queries.list_builds(
        request.app[SESSIONMAKER],
        request[ACCOUNT_ID],
        repository_id=query.repository_id,
        status=query.status,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated_response(request, [BuildOut.from_build(b) for b in builds], total, page)


@routes.get("/api/v1/builds/{build_id}")
@describe("One build", response=BuildOut)
async def get_build(request: web.Request) -> web.Response:
    build_id = path_id(request, "build_id", "Build")
    sessions = request.app[SESSIONMAKER]
    build = await queries.get_build(sessions, request[ACCOUNT_ID], build_id)
    copies = await replication.replications_of_build(sessions, build)
    out = BuildOut.from_build(build).model_copy(
        update={
            "replications": [
                BuildReplicationOut(
                    destination=c.destination,
                    status=c.status,
                    error_code=c.error_code,
                    updated_at=c.updated_at,
                )
                for c in copies
            ]
        }
    )
    return json_response(out)
