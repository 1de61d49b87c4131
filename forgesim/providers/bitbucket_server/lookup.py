"""Per-request helpers for the Bitbucket Server views: the project, the repository, and
whether the caller's permission (person and token) reaches a level."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forgesim import access
from forgesim.core import CORE, Core
from forgesim.models import REPORTER, Namespace, Repository, User
from forgesim.providers.bitbucket_server import auth
from forgesim.providers.bitbucket_server.replies import (
    AUTHORISATION,
    Reply,
    bad_request,
    error,
    not_found,
    not_permitted,
)
from forgesim.providers.bitbucket_server.shapes import Shapes

ANONYMOUS = "Authentication required. Please log in and try again."


def core_of(request: web.Request) -> Core:
    return request.app[CORE]


def shapes(request: web.Request) -> Shapes:
    return Shapes(core_of(request))


def login(request: web.Request) -> User:
    user = auth.caller(request).user
    if user is None:
        raise Reply(
            error(401, ANONYMOUS, "com.atlassian.bitbucket.AuthenticationRequiredException")
        )
    return user


def project(request: web.Request) -> Namespace:
    key = request.match_info["project"]
    state = core_of(request).state
    ns = state.namespace_by_path(key)
    if ns is None or ns.kind != "group" or "/" in ns.path:
        raise not_found(f"Project {key} does not exist.", "project.NoSuchProjectException")
    who = auth.caller(request)
    if not visible(request, ns) or who.ceiling() < REPORTER:
        raise not_permitted()
    return ns


def visible(request: web.Request, ns: Namespace) -> bool:
    """A project shows to its members and to anyone it holds a public repository for."""
    state = core_of(request).state
    if access.can_see_namespace(state, auth.caller(request).user, ns):
        return True
    return any(r.namespace_id == ns.id and not r.private for r in state.repos.values())


def repository(request: web.Request, needed: int = REPORTER) -> Repository:
    """The repository if the caller holds ``needed`` on it (401 otherwise, 404 if none)."""
    ns = project(request)
    slug = request.match_info["slug"]
    repo = core_of(request).state.repo_by_path(f"{ns.path}/{slug}")
    if repo is None:
        message = f"Repository {ns.path.upper()}/{slug} does not exist."
        raise not_found(message, "repository.NoSuchRepositoryException")
    if auth.level(request, repo) < needed:
        if auth.caller(request).user is None:
            raise Reply(error(401, ANONYMOUS, AUTHORISATION))
        raise not_permitted()
    return repo


async def body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        raw = await request.json()
    except ValueError:
        raise bad_request("The request body could not be parsed as JSON") from None
    if not isinstance(raw, dict):
        raise bad_request("The request body must be a JSON object")
    return raw
