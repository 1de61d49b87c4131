"""The caller, workspaces and repository listings of Bitbucket Cloud's API 2.0."""

from __future__ import annotations

from aiohttp import web

from forgesim import access
from forgesim.models import DEVELOPER, GUEST, MAINTAINER, OWNER, Namespace, Repository
from forgesim.providers.bitbucket import auth, lookup
from forgesim.providers.bitbucket.replies import bad_request, not_found, page_response
from forgesim.providers.bitbucket.shapes import Json, braced, href

ROLES = {"member": GUEST, "contributor": DEVELOPER, "collaborator": DEVELOPER, "admin": MAINTAINER}
NO_API = (
    "There is no API hosted at this URL.\n\nFor information about our API's, please refer "
    "to the documentation at: https://developer.atlassian.com/bitbucket/api/2/reference/"
)


async def unknown_route(request: web.Request) -> web.Response:
    from forgesim.providers.bitbucket.replies import error

    return error(404, "Resource not found", NO_API)


async def get_user(request: web.Request) -> web.Response:
    auth.require_scope(request, "account")
    return web.json_response(lookup.shapes(request).me(lookup.login(request)))


async def get_user_by_id(request: web.Request) -> web.Response:
    ident = request.match_info["user"]
    state = lookup.core_of(request).state
    found = state.user_by_name(ident) or next(
        (u for u in state.users.values() if braced("user", u.id) == ident), None
    )
    if found is None:
        raise not_found(f"{ident} not found")
    return web.json_response(lookup.shapes(request).account(found))


def _workspaces(request: web.Request) -> list[Namespace]:
    """Workspaces the caller belongs to, or holds a repository permission in."""
    user = lookup.login(request)
    state = lookup.core_of(request).state
    found = [
        ns
        for ns in state.namespaces.values()
        if "/" not in ns.path
        and access.can_see_namespace(state, user, ns)
        and (ns.visibility != "public" or access.namespace_level(state, user, ns) >= GUEST)
    ]
    return sorted(found, key=lambda ns: ns.path.lower())


def _permission(request: web.Request, ns: Namespace) -> str:
    user = lookup.login(request)
    level = access.namespace_level(lookup.core_of(request).state, user, ns)
    return "owner" if level >= OWNER else "member" if level >= GUEST else "collaborator"


async def get_user_workspaces(request: web.Request) -> web.Response:
    """``GET /2.0/user/workspaces``: what atlassian's ``Cloud.workspaces.each()`` reads."""
    auth.require_scope(request, "account")
    shapes = lookup.shapes(request)

    def access_entry(ns: Namespace) -> Json:
        return {
            "type": "workspace_access",
            "administrator": _permission(request, ns) == "owner",
            "workspace": shapes.workspace_ref(ns),
            "links": {"self": href(shapes.api(f"/user/workspaces/{ns.path}"))},
        }

    return page_response(request, _workspaces(request), access_entry)


async def get_workspaces(request: web.Request) -> web.Response:
    auth.require_scope(request, "account")
    found = _workspaces(request)
    role = request.query.get("role")
    if role == "owner":
        found = [ns for ns in found if _permission(request, ns) == "owner"]
    elif role == "member":
        found = [ns for ns in found if lookup.is_member(request, ns)]
    return page_response(request, found, lookup.shapes(request).workspace)


async def get_workspace_permissions(request: web.Request) -> web.Response:
    """``GET /2.0/user/permissions/workspaces``: one membership per workspace."""
    auth.require_scope(request, "account")
    user = lookup.login(request)
    shapes = lookup.shapes(request)

    def membership(ns: Namespace) -> Json:
        return {
            "type": "workspace_membership",
            "permission": _permission(request, ns),
            "last_accessed": None,
            "added_on": ns.created_at[:23] + "000+00:00",
            "user": shapes.account(user),
            "workspace": shapes.workspace_ref(ns),
            "links": {"self": href(shapes.api(f"/workspaces/{ns.path}/members/{user.username}"))},
        }

    return page_response(request, _workspaces(request), membership)


async def get_workspace(request: web.Request) -> web.Response:
    auth.require_scope(request, "account")
    return web.json_response(lookup.shapes(request).workspace(lookup.workspace(request)))


async def get_workspace_projects(request: web.Request) -> web.Response:
    auth.require_scope(request, "project")
    ns = lookup.workspace(request)
    return page_response(request, [ns], lookup.shapes(request).project)


def _listable(request: web.Request, repos: list[Repository]) -> list[Repository]:
    """Readable repositories, narrowed by ``role`` and ordered by ``sort``."""
    role = request.query.get("role")
    if role is not None and role not in (*ROLES, "owner"):
        raise bad_request(f"Invalid role: {role}")
    wanted = ROLES.get(role or "", OWNER if role == "owner" else 0)
    out = []
    for repo in repos:
        level = lookup.level(request, repo)
        if (repo.private and level < GUEST) or (role and level < wanted):
            continue
        out.append(repo)
    key = request.query.get("sort", "created_on")
    field = key.lstrip("-")
    orders = {"full_name": lambda r: r.full_path.lower(), "name": lambda r: r.name.lower()}
    ordered = sorted(out, key=orders.get(field, lambda r: f"{r.created_at}{r.id:012d}"))
    return ordered[::-1] if key.startswith("-") else ordered


async def get_repositories(request: web.Request) -> web.Response:
    auth.require_scope(request, "repository")
    state = lookup.core_of(request).state
    repos = [r for r in state.repos.values() if "/" not in r.namespace_path]
    if "role" not in request.query:
        repos = [r for r in repos if not r.private]  # all public repositories
    shapes, user = lookup.shapes(request), auth.caller(request).user
    return page_response(request, _listable(request, repos), lambda r: shapes.repository(r, user))


async def get_workspace_repositories(request: web.Request) -> web.Response:
    auth.require_scope(request, "repository")
    ns = lookup.workspace(request)
    state = lookup.core_of(request).state
    repos = [r for r in state.repos.values() if r.namespace_id == ns.id]
    shapes, user = lookup.shapes(request), auth.caller(request).user
    return page_response(request, _listable(request, repos), lambda r: shapes.repository(r, user))


async def get_repository(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    user = auth.caller(request).user
    return web.json_response(lookup.shapes(request).repository(repo, user))
