"""Per-request helpers for the Bitbucket Cloud views: the caller, workspaces, repositories.

Bitbucket Cloud does not hide private repositories: a caller without access gets 403
"Access denied. You must have write or admin access."; only a missing repository is
404. Hooks need repository admin rights and the ``webhook`` scope.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim import access
from forgesim.core import CORE, Core
from forgesim.models import GUEST, MAINTAINER, REPORTER, Namespace, Repository, User
from forgesim.providers.bitbucket import auth
from forgesim.providers.bitbucket.replies import Reply, bad_request, denied, error, not_found
from forgesim.providers.bitbucket.shapes import braced
from forgesim.providers.bitbucket.shapes_git import GitShapes

ANONYMOUS = (
    "This API is only accessible with the following authentication types: session, "
    "password, apppassword, api_token, repository_access_token, workspace_access_token"
)


def core_of(request: web.Request) -> Core:
    return request.app[CORE]


def shapes(request: web.Request) -> GitShapes:
    return GitShapes(core_of(request))


def login(request: web.Request) -> User:
    user = auth.caller(request).user
    if user is None:
        raise Reply(error(401, ANONYMOUS))
    return user


def level(request: web.Request, repo: Repository) -> int:
    user = auth.caller(request).user
    if user is not None and user.admin:
        return MAINTAINER
    return access.repo_level(core_of(request).state, user, repo)


def workspace(request: web.Request, key: str = "workspace") -> Namespace:
    """By slug or ``{uuid}``; 404 when unknown or invisible to the caller (a workspace
    with public repositories shows to everyone)."""
    state = core_of(request).state
    ident = request.match_info[key]
    ns = state.namespace_by_path(ident)
    if ns is None and ident.startswith("{"):
        ns = next(
            (n for n in state.namespaces.values() if braced("workspace", n.id) == ident), None
        )
    user = auth.caller(request).user
    if (
        ns is None
        or "/" in ns.path
        or not (
            access.can_see_namespace(state, user, ns)
            or any(r.namespace_id == ns.id and not r.private for r in state.repos.values())
        )
    ):
        raise not_found(f"No workspace with identifier '{ident}'.")
    return ns


def repository(request: web.Request, scope: str = "repository") -> Repository:
    """``/repositories/{workspace}/{repo_slug}``: 404 if missing, 403 if not readable."""
    auth.require_scope(request, scope)
    ws, slug = request.match_info["workspace"], request.match_info["repo_slug"]
    repo = core_of(request).state.repo_by_path(f"{ws}/{slug}")
    if repo is None or "/" in repo.namespace_path:
        raise not_found(f"Repository {ws}/{slug} not found")
    if repo.private and level(request, repo) < REPORTER:
        raise denied()
    return repo


def require_admin(request: web.Request, repo: Repository) -> User:
    user = login(request)
    if level(request, repo) < MAINTAINER:
        raise denied()
    return user


def is_member(request: web.Request, ns: Namespace) -> bool:
    user = auth.caller(request).user
    return user is not None and access.namespace_level(core_of(request).state, user, ns) >= GUEST


async def body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        raw = await request.json()
    except ValueError:
        raise bad_request("Invalid JSON in request body") from None
    if not isinstance(raw, dict):
        raise bad_request("Invalid JSON in request body")
    return raw
