"""Server version, users, projects and repositories of Bitbucket Server's REST API 1.0."""

from __future__ import annotations

from aiohttp import web

from forgesim.models import REPORTER, Namespace, Repository
from forgesim.providers.bitbucket_server import auth, lookup
from forgesim.providers.bitbucket_server.replies import error, json_response, not_found, page
from forgesim.providers.bitbucket_server.shapes import BUILD_NUMBER, VERSION

BUILD_DATE = "1714392300000"


async def unknown_route(request: web.Request) -> web.Response:
    return error(404, f"No resource at {request.path}", None)


async def application_properties(request: web.Request) -> web.Response:
    body = {
        "version": VERSION,
        "buildNumber": BUILD_NUMBER,
        "buildDate": BUILD_DATE,
        "displayName": "Bitbucket",
    }
    return json_response(body)


async def get_user(request: web.Request) -> web.Response:
    lookup.login(request)
    slug = request.match_info["slug"]
    user = next(
        (u for u in lookup.core_of(request).state.users.values() if u.username.lower() == slug),
        None,
    )
    if user is None:
        raise not_found(f"User {slug} does not exist.", "user.NoSuchUserException")
    return json_response(lookup.shapes(request).user(user))


async def get_users(request: web.Request) -> web.Response:
    lookup.login(request)
    needle = request.query.get("filter", "").lower()
    state = lookup.core_of(request).state
    found = [
        u
        for u in sorted(state.users.values(), key=lambda u: u.username.lower())
        if needle in u.username.lower() or needle in u.name.lower() or needle in u.email.lower()
    ]
    return page(request, found, lookup.shapes(request).user)


def _projects(request: web.Request) -> list[Namespace]:
    who = auth.caller(request)
    if who.ceiling() < REPORTER:
        return []
    state = lookup.core_of(request).state
    name = request.query.get("name", "").lower()
    found = [
        ns
        for ns in state.namespaces.values()
        if ns.kind == "group"
        and "/" not in ns.path
        and lookup.visible(request, ns)
        and name in ns.name.lower()
    ]
    return sorted(found, key=lambda ns: ns.path.upper())


async def get_projects(request: web.Request) -> web.Response:
    return page(request, _projects(request), lookup.shapes(request).project)


async def get_project(request: web.Request) -> web.Response:
    return json_response(lookup.shapes(request).project(lookup.project(request)))


def _visible(request: web.Request, repos: list[Repository]) -> list[Repository]:
    return sorted(
        (r for r in repos if auth.level(request, r) >= REPORTER), key=lambda r: r.name.lower()
    )


async def get_repos(request: web.Request) -> web.Response:
    ns = lookup.project(request)
    state = lookup.core_of(request).state
    repos = _visible(request, [r for r in state.repos.values() if r.namespace_id == ns.id])
    shapes, user = lookup.shapes(request), auth.caller(request).user
    return page(request, repos, lambda r: shapes.repository(r, user))


async def get_all_repos(request: web.Request) -> web.Response:
    """``GET /rest/api/1.0/repos``: every repository the caller can read."""
    state = lookup.core_of(request).state
    needle = request.query.get("name", "").lower()
    candidates = [
        r
        for r in state.repos.values()
        if "/" not in r.namespace_path
        and state.namespaces[r.namespace_id].kind == "group"
        and needle in r.name.lower()
    ]
    shapes, user = lookup.shapes(request), auth.caller(request).user
    return page(request, _visible(request, candidates), lambda r: shapes.repository(r, user))


async def get_repo(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    return json_response(lookup.shapes(request).repository(repo, auth.caller(request).user))
