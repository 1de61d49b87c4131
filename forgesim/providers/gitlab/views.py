"""Users, tokens, version, namespaces, groups and projects (v4 and v3 share handlers)."""

from __future__ import annotations

from aiohttp import web

from forgesim import access
from forgesim.models import GUEST, Namespace, Repository, User
from forgesim.providers.gitlab import auth, lookup, modes
from forgesim.providers.gitlab.replies import Reply, flag, message, not_found, page_response


async def get_user(request: web.Request) -> web.Response:
    return web.json_response(lookup.shapes(request).user(lookup.login(request)))


async def get_users(request: web.Request) -> web.Response:
    state = lookup.core_of(request).state
    wanted = request.query.get("username")
    users = [u for u in state.users.values() if wanted is None or u.username == wanted]
    return page_response(request, users, lookup.shapes(request).user_public)


async def get_user_by_id(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    user = lookup.core_of(request).state.users.get(int(ident)) if ident.isdigit() else None
    if user is None:
        raise not_found("User Not Found")
    return web.json_response(lookup.shapes(request).user_public(user))


async def get_version(request: web.Request) -> web.Response:
    lookup.login(request)
    mode = modes.mode(lookup.core_of(request))
    return web.json_response({"version": mode.version, "revision": mode.revision})


async def get_token_self(request: web.Request) -> web.Response:
    token = auth.current_token(request)
    if token is None:
        raise Reply(message(401, "Unauthorized"))
    return web.json_response(lookup.shapes(request).token(token))


def _search(request: web.Request, *texts: str) -> bool:
    needle = request.query.get("search", "").lower()
    return not needle or any(needle in t.lower() for t in texts)


async def get_namespaces(request: web.Request) -> web.Response:
    user = lookup.login(request)
    state = lookup.core_of(request).state
    found = [
        ns
        for ns in state.namespaces.values()
        if (ns.kind == "user" and ns.owner_id == user.id)
        or (ns.kind == "group" and access.namespace_level(state, user, ns) >= GUEST)
    ]
    found = [ns for ns in found if _search(request, ns.path, ns.name)]
    shapes = lookup.shapes(request)
    return page_response(request, sorted(found, key=_by_id), shapes.namespace)


def _by_id(ns: Namespace) -> int:
    return ns.id


def _visible_groups(request: web.Request, user: User | None) -> list[Namespace]:
    state = lookup.core_of(request).state
    all_available = flag(request, "all_available") or user is None or (user and user.admin)
    wanted = lookup.min_level(request)
    out = []
    for ns in state.namespaces.values():
        if ns.kind != "group" or not _search(request, ns.path, ns.name):
            continue
        level = access.namespace_level(state, user, ns)
        if wanted and level < wanted:
            continue
        if flag(request, "owned") and level < 50:
            continue
        if flag(request, "top_level_only") and ns.parent_id is not None:
            continue
        member = level >= GUEST
        if member or (all_available and access.can_see_namespace(state, user, ns)):
            out.append(ns)
    return sorted(out, key=lambda n: (n.path.lower(), n.id))


async def get_groups(request: web.Request) -> web.Response:
    groups = _visible_groups(request, auth.current_user(request))
    shapes = lookup.shapes(request)
    return page_response(request, groups, shapes.group)


async def get_group(request: web.Request) -> web.Response:
    ns = lookup.group(request)
    shapes = lookup.shapes(request)
    out = shapes.group(ns)
    if lookup.boolean(request.query.get("with_projects"), True) and shapes.version == "v4":
        repos = _projects_of(request, ns, with_subgroups=False)[:100]
        out["projects"] = [shapes.project(r, auth.current_user(request)) for r in repos]
        out["shared_projects"] = []
    return web.json_response(out)


async def get_subgroups(request: web.Request) -> web.Response:
    ns = lookup.group(request)
    state = lookup.core_of(request).state
    user = auth.current_user(request)
    subs = [n for n in state.namespaces.values() if n.parent_id == ns.id]
    subs = [n for n in subs if access.can_see_namespace(state, user, n)]
    shapes = lookup.shapes(request)
    return page_response(request, sorted(subs, key=_by_id), shapes.group)


def _filter_projects(request: web.Request, repos: list[Repository]) -> list[Repository]:
    state = lookup.core_of(request).state
    user = auth.current_user(request)
    wanted = lookup.min_level(request)
    owned, membership = flag(request, "owned"), flag(request, "membership")
    visibility = request.query.get("visibility")
    needle = request.query.get("search", "").lower()
    inherited: dict[int, int] = {}  # namespace id -> level, computed once per request
    out = []
    for repo in repos:
        ns = state.namespaces[repo.namespace_id]
        if ns.id not in inherited:
            inherited[ns.id] = access.namespace_level(state, user, ns)
        member = repo.members.get(user.username, 0) if user else 0
        level = max(member, inherited[ns.id])
        if repo.private and level < GUEST and not (user and user.admin):
            continue
        if owned and not (user and ns.kind == "user" and ns.owner_id == user.id):
            continue
        if (membership and level < GUEST) or (wanted and level < wanted):
            continue
        if visibility and repo.visibility != visibility:
            continue
        if not needle or needle in repo.full_path.lower() or needle in repo.name.lower():
            out.append(repo)
    return _order(request, out)


def _order(request: web.Request, repos: list[Repository]) -> list[Repository]:
    """GitLab's default order is created_at descending; ids break ties."""
    key = request.query.get("order_by", "created_at")
    ascending = request.query.get("sort", "asc" if key in ("name", "path") else "desc") == "asc"
    fields = {"name": lambda r: (r.name.lower(), r.id), "path": lambda r: (r.path, r.id)}
    ordered = sorted(repos, key=fields.get(key, lambda r: (r.created_at, r.id)))
    return ordered if ascending else ordered[::-1]


def _projects_of(request: web.Request, ns: Namespace, with_subgroups: bool) -> list[Repository]:
    state = lookup.core_of(request).state
    inside = [r for r in state.repos.values() if access.in_namespace(state, r, ns, with_subgroups)]
    return _filter_projects(request, inside)


async def get_group_projects(request: web.Request) -> web.Response:
    ns = lookup.group(request)
    user = auth.current_user(request)
    repos = _projects_of(request, ns, flag(request, "include_subgroups"))
    shapes = lookup.shapes(request)
    return page_response(request, repos, lambda r: shapes.project(r, user))


async def get_projects(request: web.Request) -> web.Response:
    state = lookup.core_of(request).state
    user = auth.current_user(request)
    repos = _filter_projects(request, list(state.repos.values()))
    if auth.api_version(request) == "v3" and user is not None and not flag(request, "visible"):
        # v3's GET /projects listed the projects you are a member of.
        repos = [r for r in repos if access.repo_level(state, user, r) >= GUEST]
    shapes = lookup.shapes(request)
    return page_response(request, repos, lambda r: shapes.project(r, user))


async def get_projects_v3_owned(request: web.Request) -> web.Response:
    user = lookup.login(request)
    state = lookup.core_of(request).state
    repos = [
        r for r in state.repos.values() if state.namespaces[r.namespace_id].owner_id == user.id
    ]
    repos = _filter_projects(request, repos)
    shapes = lookup.shapes(request)
    return page_response(request, repos, lambda r: shapes.project(r, user))


async def get_project(request: web.Request) -> web.Response:
    repo = lookup.project(request)
    user = auth.current_user(request)
    return web.json_response(lookup.shapes(request).project(repo, user, single=True))
