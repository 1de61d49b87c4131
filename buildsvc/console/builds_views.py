"""Builds: the history, one build's page (status, phases, tags, digest, log), Cancel and
Rebuild. The live log itself streams from ``api_views``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from buildsvc.accounts.tokens import token_owner
from buildsvc.builds import cancel, logs, manual, queries
from buildsvc.builds.states import FINISHED, BuildStatus
from buildsvc.console import session as sessions
from buildsvc.console.render import error_context, page
from buildsvc.errors import NotFound, ServiceError
from buildsvc.replication import service as replication
from buildsvc.repositories import queries as repositories
from buildsvc.web.forge_access import source_access
from buildsvc.web.keys import ARQ, COMMIT_STATUS, OUTBOX, SESSIONMAKER
from buildsvc.web.openapi import hidden
from buildsvc.web.responses.builds import BuildOut

routes = web.RouteTableDef()

PER_PAGE = 25
INITIAL_LOG_LINES = 5000
PHASES = (
    ("queued", "queued_at"),
    ("fetching", "fetching_at"),
    ("building", "building_at"),
    ("pushing", "pushing_at"),
)


def build_id_of(request: web.Request) -> int:
    raw = request.match_info["build_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("Build not found.")
    return int(raw)


@dataclass(frozen=True, slots=True)
class BuildFilters:
    """The Builds page's filters, as its URL carries them (so a filtered view is a link)."""

    repository_id: int | None = None
    status: BuildStatus | None = None
    branch: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> BuildFilters:
        repository = query.get("repository", "")
        status = query.get("status", "")
        branch = query.get("branch", "").strip()[:255]
        return cls(
            int(repository) if repository.isdigit() and len(repository) <= 18 else None,
            BuildStatus(status) if status in set(BuildStatus) else None,
            branch or None,
        )

    def query(self) -> str:
        """The filters as a query string (the pager's links keep them)."""
        pairs = {
            "repository": str(self.repository_id or ""),
            "status": self.status.value if self.status else "",
            "branch": self.branch or "",
        }
        return urlencode({name: value for name, value in pairs.items() if value})


@routes.get("/console/builds")
@hidden
async def builds_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    number = max(1, int(request.query["page"])) if request.query.get("page", "").isdigit() else 1
    filters = BuildFilters.from_query(request.query)
    sessionmaker = request.app[SESSIONMAKER]
    builds, total = await queries.list_builds(
        sessionmaker,
        session.account_id,
        repository_id=filters.repository_id,
        status=filters.status,
        branch=filters.branch,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    query = filters.query()
    return await page(
        request,
        "builds.html",
        session,
        {
            "builds": [BuildOut.from_build(b) for b in builds],
            "repo_names": await repositories.repository_names(sessionmaker, session.account_id),
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PER_PAGE)),
            "filters": filters,
            "pager_base": f"/console/builds?{query}&" if query else "/console/builds?",
            "statuses": [s.value for s in BuildStatus],
        },
    )


async def _build_page(
    request: web.Request,
    session: sessions.ConsoleSession,
    build_id: int,
    *,
    error: dict[str, str | None] | None = None,
    status: int = 200,
    confirm_cancel: bool = False,
) -> web.Response:
    sessionmaker = request.app[SESSIONMAKER]
    build = await queries.get_build(sessionmaker, session.account_id, build_id)
    repo = await repositories.get_repository(sessionmaker, session.account_id, build.repository_id)
    lines = await logs.read(sessionmaker, build_id, limit=INITIAL_LOG_LINES)
    out = BuildOut.from_build(build)
    copies = await replication.replications_of_build(sessionmaker, build)
    phases = [(name, getattr(out, column), getattr(out.durations, name)) for name, column in PHASES]
    return await page(
        request,
        "build.html",
        session,
        {
            "build": out,
            "repo_name": f"{repo.namespace}/{repo.name}",
            "phases": phases,
            "lines": lines,
            "replications": copies,
            "last_seq": lines[-1].seq if lines else 0,
            "finished": build.status in FINISHED,
            "error": error,
            "confirm_cancel": confirm_cancel,
        },
        status=status,
    )


@routes.get("/console/builds/{build_id}")
@hidden
async def build_page(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    return await _build_page(request, session, build_id_of(request))


@routes.post("/console/builds/{build_id}/cancel")
@hidden
async def cancel_build(request: web.Request) -> web.Response:
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    build_id = build_id_of(request)
    if (await request.post()).get("confirmed") != "yes":  # without JavaScript: ask on a page
        return await _build_page(request, session, build_id, confirm_cancel=True)
    try:
        by = await token_owner(request.app[SESSIONMAKER], session.token)
        await cancel.cancel_build(
            request.app[SESSIONMAKER],
            request.app[ARQ],
            session.account_id,
            build_id,
            by=f"{by} in the console",
        )
    except ServiceError as exc:
        return await _build_page(
            request, session, build_id, error=error_context(exc), status=exc.status
        )
    request.app[COMMIT_STATUS].report([build_id], "canceled")  # if no worker had it yet
    raise web.HTTPSeeOther(location=f"/console/builds/{build_id}")


@routes.post("/console/builds/{build_id}/rebuild")
@hidden
async def rebuild(request: web.Request) -> web.Response:
    """Build the same ref (and rule, if it still exists) again, at its current commit."""
    session = await sessions.require(request)
    await sessions.check_csrf(request, session)
    build_id = build_id_of(request)
    build = await queries.get_build(request.app[SESSIONMAKER], session.account_id, build_id)
    try:
        started = await manual.start_build(
            source_access(request),
            request.app[OUTBOX],
            session.account_id,
            build.repository_id,
            manual.ManualBuild(rule_id=build.rule_id, ref=build.ref, trigger="console"),
            request.app[COMMIT_STATUS],  # "pending" on the forge
        )
    except ServiceError as exc:
        status = exc.status if 400 <= exc.status < 500 else 422
        return await _build_page(
            request, session, build_id, error=error_context(exc), status=status
        )
    raise web.HTTPSeeOther(location=f"/console/builds/{started[0].id}")
