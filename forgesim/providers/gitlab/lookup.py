"""Per-request helpers shared by the GitLab views: who asks, which shapes, which project."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim import access
from forgesim.core import CORE, Core
from forgesim.models import Namespace, Repository, User
from forgesim.providers.gitlab import auth
from forgesim.providers.gitlab.replies import Reply, bad_request, message, not_found
from forgesim.providers.gitlab.shapes import Shapes
from forgesim.providers.gitlab.shapes_v3 import ShapesV3


def core_of(request: web.Request) -> Core:
    return request.app[CORE]


def shapes(request: web.Request) -> Shapes:
    core = core_of(request)
    return ShapesV3(core) if auth.api_version(request) == "v3" else Shapes(core)


def login(request: web.Request) -> User:
    user = auth.current_user(request)
    if user is None:
        raise Reply(message(401, "Unauthorized"))
    return user


def project(request: web.Request, key: str = "id") -> Repository:
    """The project named by an id or URL-encoded path, if the caller may see it."""
    state = core_of(request).state
    ident = request.match_info[key]
    repo = state.repos.get(int(ident)) if ident.isdigit() else state.repo_by_path(ident)
    if repo is None or not access.can_see_repo(state, auth.current_user(request), repo):
        raise not_found("Project Not Found")
    return repo


def group(request: web.Request, key: str = "id") -> Namespace:
    state = core_of(request).state
    ident = request.match_info[key]
    ns = state.namespaces.get(int(ident)) if ident.isdigit() else state.namespace_by_path(ident)
    user = auth.current_user(request)
    if ns is None or ns.kind != "group" or not access.can_see_namespace(state, user, ns):
        raise not_found("Group Not Found")
    return ns


def require_level(request: web.Request, repo: Repository, level: int) -> User:
    """The caller, if their access level on ``repo`` is at least ``level`` (else 403)."""
    user = login(request)
    if not user.admin and access.repo_level(core_of(request).state, user, repo) < level:
        raise Reply(message(403, "Forbidden"))
    return user


def require_code(request: web.Request, repo: Repository) -> None:
    """Repository contents need reporter on private projects (guests get 403)."""
    if not access.can_read_code(core_of(request).state, auth.current_user(request), repo):
        raise Reply(message(403, "Forbidden"))


async def params(request: web.Request) -> dict[str, Any]:
    """Query string merged with a JSON or form body, as Grape merges them."""
    merged: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise bad_request("body must be a JSON object")
            merged.update(body)
        else:
            merged.update(dict(await request.post()))
    return merged


def boolean(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


def min_level(request: web.Request) -> int:
    raw = request.query.get("min_access_level", "")
    return int(raw) if raw.isdigit() else 0
