"""Accounts and repository listings: ``/user``, ``/users``, ``/orgs``, ``/repos/:o/:r``."""

from __future__ import annotations

from aiohttp import web

from forgesim import access
from forgesim.models import GUEST, Namespace, Repository, User
from forgesim.providers.github import auth, lookup, tokens
from forgesim.providers.github.replies import Reply, error, forbidden, not_found, page_response

ORGS_SCOPE = "You need at least read:org scope or user scope to list your organizations."
EXCLUSIVE = "If you specify visibility or affiliation, you cannot specify type."
AFFILIATIONS = ("owner", "collaborator", "organization_member")


async def get_user(request: web.Request) -> web.Response:
    user = lookup.login(request)
    auth.accept(request)
    who = auth.caller(request)
    private = who.token is not None and (
        who.fine_grained or tokens.has_scope(who.token, "read:user")
    )
    return web.json_response(lookup.shapes(request).user(user, private=private))


async def get_user_by_login(request: web.Request) -> web.Response:
    user = lookup.core_of(request).state.user_by_name(request.match_info["login"])
    if user is not None:
        return web.json_response(lookup.shapes(request).user(user))
    ns = _org(request, request.match_info["login"])
    return web.json_response(lookup.shapes(request).org(ns, member=False))


def _org(request: web.Request, login: str) -> Namespace:
    ns = lookup.core_of(request).state.namespace_by_path(login)
    if ns is None or ns.kind != "group" or "/" in ns.path:
        raise not_found()
    return ns


def _member(request: web.Request, ns: Namespace) -> bool:
    user = auth.caller(request).user
    state = lookup.core_of(request).state
    return user is not None and (user.admin or access.namespace_level(state, user, ns) >= GUEST)


async def get_user_orgs(request: web.Request) -> web.Response:
    lookup.login(request)
    auth.accept(request, "read:org", "user")
    who = auth.caller(request)
    if who.classic and who.token and not tokens.has_scope(who.token, "read:org", "user", "repo"):
        raise forbidden(ORGS_SCOPE)
    state = lookup.core_of(request).state
    orgs = [
        ns
        for ns in sorted(state.namespaces.values(), key=lambda n: n.id)
        if ns.kind == "group" and "/" not in ns.path and _member(request, ns)
    ]
    return page_response(request, orgs, lookup.shapes(request).org_simple)


async def get_org(request: web.Request) -> web.Response:
    ns = _org(request, request.match_info["org"])
    member = _member(request, ns)
    return web.json_response(lookup.shapes(request).org(ns, member=member))


def _visible(request: web.Request, repo: Repository) -> bool:
    if not repo.private:
        return True
    return lookup.level(request, repo) >= GUEST and lookup.private_ok(request)


def _order(request: web.Request, repos: list[Repository], default: str) -> list[Repository]:
    """``sort`` created | updated | pushed | full_name; ``direction`` asc | desc."""
    key = request.query.get("sort", default)
    fields = {
        "full_name": lambda r: (r.full_path.lower(), r.id),
        "updated": lambda r: (r.last_activity_at or r.created_at, r.id),
        "pushed": lambda r: (r.last_activity_at or r.created_at, r.id),
    }
    ordered = sorted(repos, key=fields.get(key, lambda r: (r.created_at, r.id)))
    default_dir = "asc" if key == "full_name" else "desc"
    return ordered if request.query.get("direction", default_dir) == "asc" else ordered[::-1]


def _render(request: web.Request, repos: list[Repository], default_sort: str) -> web.Response:
    user = auth.caller(request).user
    shapes = lookup.shapes(request)
    ordered = _order(request, repos, default_sort)
    return page_response(request, ordered, lambda r: shapes.repo(r, user))


async def get_org_repos(request: web.Request) -> web.Response:
    ns = _org(request, request.match_info["org"])
    kind = request.query.get("type", "all")
    state = lookup.core_of(request).state
    repos = [r for r in state.repos.values() if r.namespace_id == ns.id and _visible(request, r)]
    if kind in ("public", "private"):
        repos = [r for r in repos if r.visibility == kind]
    elif kind == "member":
        repos = [r for r in repos if lookup.level(request, r) >= GUEST]
    elif kind == "forks":
        repos = []
    return _render(request, repos, "created")


def _affiliation(request: web.Request, user: User, repo: Repository) -> str | None:
    state = lookup.core_of(request).state
    ns = state.namespaces[repo.namespace_id]
    if ns.kind == "user":
        if ns.owner_id == user.id:
            return "owner"
        return "collaborator" if repo.members.get(user.username, 0) >= GUEST else None
    if repo.members.get(user.username, 0) >= GUEST:
        return "collaborator"
    if access.namespace_level(state, user, ns) >= GUEST:
        return "organization_member"
    return None


async def get_user_repos(request: web.Request) -> web.Response:
    user = lookup.login(request)
    auth.accept(request)
    query = request.query
    if "type" in query and ("visibility" in query or "affiliation" in query):
        raise Reply(error(422, EXCLUSIVE))
    kind = query.get("type", "all")
    wanted = set(query.get("affiliation", ",".join(AFFILIATIONS)).split(","))
    if kind == "owner":
        wanted = {"owner"}
    elif kind == "member":
        wanted = {"collaborator", "organization_member"}
    visibility = query.get("visibility", kind if kind in ("public", "private") else "all")
    state = lookup.core_of(request).state
    repos = [
        r
        for r in state.repos.values()
        if _affiliation(request, user, r) in wanted
        and _visible(request, r)
        and visibility in ("all", r.visibility)
    ]
    return _render(request, repos, "full_name")


async def get_users_repos(request: web.Request) -> web.Response:
    """``GET /users/:login/repos`` lists public repositories only (``type`` owner | member)."""
    state = lookup.core_of(request).state
    owner = state.user_by_name(request.match_info["login"])
    ns = state.namespaces.get(owner.namespace_id) if owner else None
    if owner is None or ns is None:
        ns = _org(request, request.match_info["login"])
    repos = [r for r in state.repos.values() if r.namespace_id == ns.id and not r.private]
    return _render(request, repos, "full_name")


async def get_repo(request: web.Request) -> web.Response:
    repo = lookup.repository(request)
    lookup.need(request, "metadata", "read", *(("repo",) if repo.private else ()))
    user = auth.caller(request).user
    return web.json_response(lookup.shapes(request).repo(repo, user, single=True))
