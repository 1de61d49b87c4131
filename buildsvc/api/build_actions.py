"""Acting on builds: start one by hand, cancel one, read or follow its log.

- ``POST /api/v1/repositories/{id}/builds {"rule_id"?, "ref"?}`` → 201
  ``{"builds": [build, ...]}`` (see ``buildsvc.builds.manual`` for what is built);
- ``POST /api/v1/builds/{id}/rerun`` → 201 ``{"builds": [...]}``: the same commit again;
- ``POST /api/v1/builds/{id}/cancel`` → 200 the cancelled build (409 ``BUILD_FINISHED``
  once it ended otherwise);
- ``GET /api/v1/builds/{id}/logs?after=&limit=`` → ``{"items": [{"seq", "ts", "line"}],
  "total", "status", "next_after"}``;
- ``GET /api/v1/builds/{id}/logs?follow=true`` → server-sent events: one event per line
  (``id`` = its seq, data = the line object), then ``event: end`` with
  ``{"status", "error"}`` when the build ends. A reconnecting client sends
  ``Last-Event-ID`` (or ``?after=``) and gets the lines after it, none twice. A process
  that stops ends its streams with ``event: reconnect`` (``buildsvc.web.log_stream``).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from buildsvc.accounts.middleware import bearer_token
from buildsvc.accounts.tokens import token_owner
from buildsvc.builds import cancel, logs, manual, queries
from buildsvc.builds.states import BuildStatus
from buildsvc.errors import InvalidInput, NotFound
from buildsvc.web import log_stream
from buildsvc.web.forge_access import source_access
from buildsvc.web.jsonio import json_body, json_response, path_id, query_params
from buildsvc.web.keys import ACCOUNT_ID, ARQ, COMMIT_STATUS, OUTBOX, SESSIONMAKER
from buildsvc.web.openapi import SSE_EVENT, describe
from buildsvc.web.responses.builds import BuildOut

routes = web.RouteTableDef()

MAX_SEQ = 2**31 - 1  # build_log_lines.seq is a 32-bit integer


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: int | None = Field(default=None, ge=1)
    ref: str | None = Field(default=None, min_length=1, max_length=1024)


class StartedOut(BaseModel):
    builds: list[BuildOut]


class LogQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    after: int = Field(default=0, ge=0, le=MAX_SEQ)
    limit: int = Field(default=1000, ge=1, le=10000)
    follow: bool = False


class LogLineOut(BaseModel):
    seq: int
    ts: str
    line: str


class LogPageOut(BaseModel):
    items: list[LogLineOut]
    total: int
    status: str
    next_after: int


@routes.post("/api/v1/repositories/{repository_id}/builds")
@describe(
    "Start a build by rule or ref",
    body=StartIn,
    response=StartedOut,
    status=201,
    errors=(409, 422, 502, 503),
)
async def start(request: web.Request) -> web.Response:
    repository_id = path_id(request, "repository_id", "Image repository")
    body = await json_body(request, StartIn)
    builds = await manual.start_build(
        source_access(request),
        request.app[OUTBOX],
        request[ACCOUNT_ID],
        repository_id,
        manual.ManualBuild(rule_id=body.rule_id, ref=body.ref),
        request.app[COMMIT_STATUS],  # "pending" (and "superseded"), in the background
    )
    return json_response(StartedOut(builds=[BuildOut.from_build(b) for b in builds]), status=201)


@routes.post("/api/v1/builds/{build_id}/rerun")
@describe(
    "Build the same commit of the same ref again", response=StartedOut, status=201, errors=(400,)
)
async def rerun(request: web.Request) -> web.Response:
    build_id = path_id(request, "build_id", "Build")
    builds = await manual.rerun_build(
        source_access(request),
        request.app[OUTBOX],
        request[ACCOUNT_ID],
        build_id,
        request.app[COMMIT_STATUS],
    )
    return json_response(StartedOut(builds=[BuildOut.from_build(b) for b in builds]), status=201)


@routes.post("/api/v1/builds/{build_id}/cancel")
@describe("Cancel a queued or running build", response=BuildOut, errors=(409,))
async def cancel_build(request: web.Request) -> web.Response:
    build_id = path_id(request, "build_id", "Build")
    by = await token_owner(request.app[SESSIONMAKER], bearer_token(request))
    build = await cancel.cancel_build(
        request.app[SESSIONMAKER], request.app[ARQ], request[ACCOUNT_ID], build_id, by=by
    )
    request.app[COMMIT_STATUS].report([build.id], "canceled")  # if no worker had it yet
    return json_response(BuildOut.from_build(build))


def _after(request: web.Request, query: LogQuery) -> int:
    last_event = request.headers.get("Last-Event-ID", "").strip()
    if not last_event:
        return query.after
    # ASCII digits of at most 10 characters first: int() refuses "²" and very long strings
    # with a ValueError, which would otherwise surface as a 500.
    digits = last_event.isascii() and last_event.isdigit() and len(last_event) <= 10
    if not digits or int(last_event) > MAX_SEQ:
        raise InvalidInput(detail="Last-Event-ID: the seq of the last line received")
    return int(last_event)


@routes.get("/api/v1/builds/{build_id}/logs")
@describe(
    "The build log; with follow=true a server-sent event stream until the build ends",
    query=LogQuery,
    response=LogPageOut,
    alternatives={"text/event-stream": {"schema": SSE_EVENT}},
)
async def build_log(request: web.Request) -> web.StreamResponse:
    build_id = path_id(request, "build_id", "Build")
    query = query_params(request, LogQuery)
    sessionmaker = request.app[SESSIONMAKER]
    build = await queries.get_build(sessionmaker, request[ACCOUNT_ID], build_id)
    after = _after(request, query)
    if query.follow:
        return await _stream(request, build_id, after)
    lines = await logs.read(sessionmaker, build_id, after=after, limit=query.limit)
    page = LogPageOut(
        items=[LogLineOut(**line.to_json()) for line in lines],
        total=await logs.count(sessionmaker, build_id),
        status=build.status,
        next_after=lines[-1].seq if lines else after,
    )
    return json_response(page)


async def _error(request: web.Request, build_id: int) -> dict[str, str | None] | None:
    """The ended build's error, for the ``end`` event (None if it has none or is gone)."""
    try:
        build = await queries.get_build(request.app[SESSIONMAKER], request[ACCOUNT_ID], build_id)
    except NotFound:
        return None
    out = BuildOut.from_build(build)
    return out.error.model_dump() if out.error else None


async def _stream(request: web.Request, build_id: int, after: int) -> web.StreamResponse:
    async def end(item: logs.LogEnd) -> dict[str, object]:
        # A build that succeeded has no error: the end event goes without a read.
        succeeded = item.status == BuildStatus.SUCCEEDED
        return {
            "status": item.status,
            "error": None if succeeded else await _error(request, build_id),
        }

    return await log_stream.stream(request, build_id, after, end)
