"""Who calls ``/rest/...`` on Bitbucket Server / Data Center, and with what permission.

HTTP access tokens (``BBDC-`` prefix) arrive as ``Authorization: Bearer <token>`` or as
HTTP Basic ``<username>:<token>``. Their scopes are permissions: ``REPO_READ``,
``REPO_WRITE``, ``REPO_ADMIN``, ``PROJECT_READ``, ``PROJECT_WRITE``,
``PROJECT_ADMIN``; a token acts with the lower of its own permission and its owner's.
Bad credentials get 401 ``IncorrectPasswordAuthenticationException``; a missing
permission 401 ``AuthorisationException`` (Bitbucket Server does not use 403 for it).
Authenticated answers carry ``X-AUSERID`` and ``X-AUSERNAME``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from forgesim import access
from forgesim.core import CORE
from forgesim.gitauth import basic_credentials
from forgesim.models import DEVELOPER, MAINTAINER, OWNER, REPORTER, Repository, Token, User, now_iso
from forgesim.providers.bitbucket_server.replies import Reply, error

REST = "/rest/"
FAILED = "Authentication failed. Please check your credentials and try again."
INCORRECT = "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException"
PERMISSIONS: dict[str, int] = {
    "REPO_READ": REPORTER,
    "REPO_WRITE": DEVELOPER,
    "REPO_ADMIN": MAINTAINER,
    "PROJECT_READ": REPORTER,
    "PROJECT_WRITE": DEVELOPER,
    "PROJECT_ADMIN": OWNER,
}


@dataclass(frozen=True)
class Caller:
    user: User | None = None
    token: Token | None = None

    def ceiling(self) -> int:
        """The highest level the token allows (no token: the person's own)."""
        if self.token is None:
            return OWNER
        return max((PERMISSIONS.get(s.upper(), 0) for s in self.token.scopes), default=0)


CALLER = web.RequestKey("bitbucket_server.caller", Caller)


def caller(request: web.Request) -> Caller:
    return request.get(CALLER) or Caller()


def level(request: web.Request, repo: Repository) -> int:
    """The caller's effective permission on ``repo`` (public repositories: read)."""
    who = caller(request)
    state = request.app[CORE].state
    own = OWNER if who.user and who.user.admin else access.repo_level(state, who.user, repo)
    if not repo.private:
        own = max(own, REPORTER)
    return min(own, who.ceiling())


def _identify(request: web.Request) -> Caller:
    core = request.app[CORE]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    creds = basic_credentials(request)
    if creds is not None:
        name, secret = creds
    elif scheme.lower() == "bearer" and value.strip():
        name, secret = "", value.strip()
    elif request.headers.get("Authorization"):
        raise Reply(error(401, FAILED, INCORRECT))
    else:
        return Caller()
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None or not token.active():
        raise Reply(error(401, FAILED, INCORRECT))
    if creds is not None and name.lower() not in (user.username.lower(), "x-token-auth"):
        raise Reply(error(401, FAILED, INCORRECT))
    token.last_used_at = now_iso()
    core.state.changed()
    return Caller(user, token)


@web.middleware
async def rest_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(REST):
        return await handler(request)
    who = Caller()
    try:
        who = _identify(request)
        request[CALLER] = who
        response = await handler(request)
    except Reply as reply:
        response = reply.response
    response.headers["X-AREQUESTID"] = f"@{secrets.token_hex(4).upper()}x{secrets.randbelow(999)}x0"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["Vary"] = "X-AUSERNAME,Accept-Encoding"
    if who.user is not None:
        response.headers["X-AUSERID"] = str(who.user.id)
        response.headers["X-AUSERNAME"] = who.user.username
    return response
