"""Token authentication and scope checks for ``/api/v4`` and ``/api/v3``, as GitLab does.

Order matters and follows GitLab: a token that is present must be valid (401), then
its scopes must allow the route (403 insufficient_scope); routes then check membership.
"""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from forgesim.core import CORE, Core
from forgesim.models import Token, User, now_iso, parse_iso
from forgesim.providers.gitlab import modes
from forgesim.providers.gitlab.replies import error, message

USER_KEY = web.RequestKey("gitlab.user", User)
TOKEN_KEY = web.RequestKey("gitlab.token", Token)
VERSION_KEY = web.RequestKey("gitlab.api_version", str)
INSUFFICIENT = "The request requires higher privileges than provided by the access token."
EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
REVOKED = "Token was revoked. You have to re-authorize from the user."
# GET routes a read_user token may call (relative to /api/vN).
READ_USER = re.compile(r"^/(user|user/.*|users|users/.*|version|metadata)$")
SELF = "/personal_access_tokens/self"
LAST_USED_EVERY = dt.timedelta(minutes=10)  # GitLab throttles last_used_at updates too


def current_user(request: web.Request) -> User | None:
    return request.get(USER_KEY)


def current_token(request: web.Request) -> Token | None:
    return request.get(TOKEN_KEY)


def api_version(request: web.Request) -> str:
    return request[VERSION_KEY]


def _secret(request: web.Request) -> str | None:
    header = request.headers.get("PRIVATE-TOKEN")
    if header:
        return header
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("private_token") or request.query.get("access_token") or None


def _invalid(description: str) -> web.Response:
    body = {"error": "invalid_token", "error_description": description}
    header = (
        'Bearer realm="Protected by OAuth 2.0", error="invalid_token", '
        f'error_description="{description}"'
    )
    return web.json_response(body, status=401, headers={"WWW-Authenticate": header})


def needed_scopes(method: str, rel: str) -> list[str] | None:
    """Scopes any one of which allows the route; None when every scope does."""
    if rel == SELF:
        return None
    read = method in ("GET", "HEAD")
    scopes = ["api"]
    if read:
        scopes.append("read_api")
        if READ_USER.match(rel):
            scopes.append("read_user")
    return scopes


def authenticate(core: Core, request: web.Request, rel: str) -> web.Response | None:
    """Set the request's user and token; return an error answer when refused."""
    secret = _secret(request)
    if secret is None:
        return None
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None:
        return message(401, "Unauthorized")
    if token.revoked:
        return _invalid(REVOKED)
    if token.expired():
        return _invalid(EXPIRED)
    needed = needed_scopes(request.method, rel)
    if needed is not None and not set(needed) & set(token.scopes):
        body = {
            "error": "insufficient_scope",
            "error_description": INSUFFICIENT,
            "scope": " ".join(needed),
        }
        return web.json_response(body, status=403)
    now = dt.datetime.now(dt.UTC)
    if token.last_used_at is None or now - parse_iso(token.last_used_at) > LAST_USED_EVERY:
        token.last_used_at = now_iso()
        core.state.changed()
    request[USER_KEY] = user
    request[TOKEN_KEY] = token
    return None


@web.middleware
async def api_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = re.match(r"^/api/(v3|v4)(/.*)?$", request.path)
    if match is None:
        return await handler(request)
    core = request.app[CORE]
    version, rel = match.group(1), match.group(2) or "/"
    mode = modes.mode(core)
    if not mode.serves(version) or (rel == SELF and not mode.introspection(version)):
        return error(404, "404 Not Found")
    request[VERSION_KEY] = version
    refused = authenticate(core, request, rel)
    if refused is not None:
        return refused
    return await handler(request)
