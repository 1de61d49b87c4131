"""Per-request decisions for the GitHub views: which repository, and may the caller act.

GitHub checks the token before the person: a classic token without the route's scope
gets 404 (the resource is hidden from it), a fine-grained token without the permission
gets 403 "Resource not accessible by personal access token"; only then does the
person's role count (hooks need admin: 403 "Must have admin rights to Repository.").
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim import access
from forgesim.core import CORE, Core
from forgesim.models import GUEST, MAINTAINER, Repository, User
from forgesim.providers.github import auth, tokens
from forgesim.providers.github.replies import Reply, error, forbidden, invalid, not_found
from forgesim.providers.github.shapes_git import GitShapes

FINE_DENIED = "Resource not accessible by personal access token"


def core_of(request: web.Request) -> Core:
    return request.app[CORE]


def shapes(request: web.Request) -> GitShapes:
    return GitShapes(core_of(request))


def login(request: web.Request) -> User:
    user = auth.caller(request).user
    if user is None:
        raise Reply(error(401, "Requires authentication"))
    return user


def level(request: web.Request, repo: Repository) -> int:
    user = auth.caller(request).user
    if user is not None and user.admin:
        return MAINTAINER
    return access.repo_level(core_of(request).state, user, repo)


def private_ok(request: web.Request, *alternatives: str) -> bool:
    """May this token reach private repositories at all (``repo`` or ``alternatives``)?"""
    who = auth.caller(request)
    if who.token is None:
        return False
    return who.fine_grained or tokens.has_scope(who.token, "repo", *alternatives)


def repository(request: web.Request, *alternatives: str) -> Repository:
    """``/repos/{owner}/{repo}``, 404 unless public or the caller's token reaches it."""
    state = core_of(request).state
    full = f"{request.match_info['owner']}/{request.match_info['repo']}"
    repo = state.repo_by_path(full)
    if repo is None or "/" in repo.namespace_path:
        raise not_found()
    if repo.private and (level(request, repo) < GUEST or not private_ok(request, *alternatives)):
        raise not_found()
    return repo


def need(request: web.Request, permission: str, access_level: str, *scopes: str) -> None:
    """The token must hold a fine-grained ``permission`` or one of the classic ``scopes``."""
    auth.accept(request, *scopes)
    who = auth.caller(request)
    if who.token is None:
        return
    if who.fine_grained:
        if not tokens.allows(who.token, permission, access_level):
            raise forbidden(
                FINE_DENIED, **{"X-Accepted-GitHub-Permissions": f"{permission}={access_level}"}
            )
    elif scopes and not tokens.has_scope(who.token, *scopes):
        raise not_found()


def require_code(request: web.Request, repo: Repository) -> None:
    """Contents (branches, tags, commits, refs): public, or readable through the token."""
    need(request, "contents", "read", *(("repo",) if repo.private else ()))


def require_admin(request: web.Request, repo: Repository) -> User:
    user = login(request)
    if level(request, repo) < MAINTAINER:
        raise forbidden("Must have admin rights to Repository.")
    return user


async def body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        raw = await request.json()
    except ValueError:
        raise Reply(error(400, "Problems parsing JSON")) from None
    if not isinstance(raw, dict):
        raise Reply(error(400, "Problems parsing JSON"))
    return raw


def require_fields(raw: dict[str, Any], resource: str, *names: str) -> None:
    for name in names:
        if raw.get(name) in (None, ""):
            raise invalid("", resource, name, code="missing_field")
