"""Who calls ``/2.0``, and the scopes each route needs, as Bitbucket Cloud decides them.

Credentials: HTTP Basic ``username:app password`` (the username must be the token's
owner; the e-mail address works too, as with Atlassian API tokens) or ``Authorization:
Bearer <access token>``. Bad, expired or revoked credentials get 401 with
``WWW-Authenticate``; a token without the route's scope gets 403 "Your credentials lack
one or more required privilege scopes." with the required and granted scopes.

Scopes: ``account``, ``team``, ``repository``, ``repository:write``,
``repository:admin``, ``pullrequest``, ``pullrequest:write``, ``webhook``, ... (the
``:write`` forms imply the read forms; ``pullrequest`` implies ``repository``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from forgesim.core import CORE
from forgesim.gitauth import basic_credentials
from forgesim.models import Token, User, now_iso
from forgesim.providers.bitbucket.replies import Reply, error

API = "/2.0"
REALM = 'Basic realm="Bitbucket.org HTTP"'
LOGIN_FAILED = (
    "Login failed due to incorrect login credentials or method.\n"
    "For information on authentication methods for Bitbucket Cloud APIs, visit:\n"
    "    https://developer.atlassian.com/cloud/bitbucket/rest/intro/#authentication\n"
)
LACKING = "Your credentials lack one or more required privilege scopes."
IMPLIED: dict[str, tuple[str, ...]] = {
    "account:write": ("account",),
    "team:write": ("team",),
    "repository:write": ("repository",),
    "pullrequest": ("repository",),
    "pullrequest:write": ("pullrequest", "repository:write", "repository"),
    "project:admin": ("project",),
    "snippet:write": ("snippet",),
    "issue:write": ("issue",),
}


@dataclass(frozen=True)
class Caller:
    user: User | None = None
    token: Token | None = None


CALLER = web.RequestKey("bitbucket.caller", Caller)


def caller(request: web.Request) -> Caller:
    return request.get(CALLER) or Caller()


def granted(token: Token) -> set[str]:
    out = set(token.scopes)
    for scope in token.scopes:
        out.update(IMPLIED.get(scope, ()))
    return out


def require_scope(request: web.Request, scope: str) -> None:
    """403 unless the token holds ``scope`` (anonymous callers are judged by permissions)."""
    token = caller(request).token
    if token is not None and scope not in granted(token):
        detail = {"required": [scope], "granted": sorted(token.scopes)}
        raise Reply(error(403, LACKING, detail))


def _unauthorized() -> web.Response:
    return web.Response(
        status=401,
        text=LOGIN_FAILED,
        content_type="text/plain",
        headers={"WWW-Authenticate": REALM},
    )


def _identify(request: web.Request) -> Caller:
    core = request.app[CORE]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    creds = basic_credentials(request)
    if creds is not None:
        name, secret = creds
    elif scheme.lower() == "bearer" and value.strip():
        name, secret = "", value.strip()
    elif request.headers.get("Authorization"):
        raise Reply(_unauthorized())
    else:
        return Caller()
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None or not token.active():
        raise Reply(_unauthorized())
    if creds is not None and name.lower() not in (user.username.lower(), user.email.lower()):
        raise Reply(_unauthorized())
    token.last_used_at = now_iso()
    core.state.changed()
    return Caller(user, token)


@web.middleware
async def api_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not (request.path == API or request.path.startswith(API + "/")):
        return await handler(request)
    try:
        request[CALLER] = _identify(request)
        return await handler(request)
    except Reply as reply:
        return reply.response
