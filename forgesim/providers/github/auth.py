"""Who calls ``/api/v3`` and GitHub's headers on every answer.

Tokens arrive as ``Authorization: token X``, ``Bearer X`` or HTTP Basic with the token
as password. A token that is unknown, expired or revoked gets 401 "Bad credentials"
(GitHub says nothing more). Every answer carries ``X-GitHub-Request-Id``, the rate
limit headers and, for classic tokens, ``X-OAuth-Scopes`` and
``X-Accepted-OAuth-Scopes`` (what the route would have accepted), and tokens with an
expiry date ``GitHub-Authentication-Token-Expiration``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

from forgesim.core import CORE
from forgesim.models import Token, User, now_iso
from forgesim.providers.github import tokens
from forgesim.providers.github.replies import Reply, error

API = "/api/v3"
ENTERPRISE_VERSION = "3.14.2"
LIMIT_USER, LIMIT_ANONYMOUS, WINDOW = 5000, 60, 3600


@dataclass(frozen=True)
class Caller:
    user: User | None = None
    token: Token | None = None

    @property
    def fine_grained(self) -> bool:
        return self.token is not None and tokens.fine_grained(self.token)

    @property
    def classic(self) -> bool:
        return self.token is not None and not tokens.fine_grained(self.token)


@dataclass
class RateLimits:
    """Requests per caller per hour window, as GitHub counts them."""

    windows: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (reset, used)

    def take(self, key: str) -> tuple[int, int]:
        now = int(time.time())
        reset, used = self.windows.get(key, (now + WINDOW, 0))
        if reset <= now:
            reset, used = now + WINDOW, 0
        self.windows[key] = (reset, used + 1)
        return reset, used + 1


CALLER = web.RequestKey("github.caller", Caller)
ACCEPTED = web.RequestKey("github.accepted", str)
RATES = web.AppKey("github.rates", RateLimits)


def caller(request: web.Request) -> Caller:
    return request.get(CALLER) or Caller()


def accept(request: web.Request, *accepted: str) -> None:
    """Record what the route accepts, for ``X-Accepted-OAuth-Scopes``."""
    request[ACCEPTED] = ", ".join(sorted(accepted))


def _secret(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() in ("token", "bearer") and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return None


def _identify(request: web.Request) -> Caller:
    secret = _secret(request)
    if secret is None:
        return Caller()
    core = request.app[CORE]
    token = core.state.token_by_secret(secret)
    user = core.state.users.get(token.user_id) if token else None
    if token is None or user is None or not token.active():
        raise Reply(error(401, "Bad credentials"))
    token.last_used_at = now_iso()
    core.state.changed()
    return Caller(user, token)


def _rate(request: web.Request, who: Caller) -> dict[str, str]:
    key = f"user:{who.user.id}" if who.user else f"ip:{request.remote}"
    limit = LIMIT_USER if who.user else LIMIT_ANONYMOUS
    reset, used = request.app[RATES].take(key)
    if used > limit:
        whom = f"user ID {who.user.id}" if who.user else str(request.remote)
        raise Reply(error(403, f"API rate limit exceeded for {whom}."))
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(limit - used),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Used": str(used),
        "X-RateLimit-Resource": "core",
    }


def _headers(request: web.Request, who: Caller, rate: dict[str, str]) -> dict[str, str]:
    headers = {
        "X-GitHub-Request-Id": secrets.token_hex(12).upper(),
        "X-GitHub-Media-Type": "github.v3; format=json",
        "X-GitHub-Api-Version-Selected": "2022-11-28",
        "X-GitHub-Enterprise-Version": ENTERPRISE_VERSION,
        **rate,
    }
    if who.classic and who.token is not None:
        headers["X-OAuth-Scopes"] = ", ".join(who.token.scopes)
        headers["X-Accepted-OAuth-Scopes"] = request.get(ACCEPTED, "")
    if who.token is not None and who.token.expires_at:
        # A token stops working on its expiry day: GitHub names that day's first second.
        expiry = f"{who.token.expires_at[:10]} 00:00:00 UTC"
        headers["GitHub-Authentication-Token-Expiration"] = expiry
    return headers


@web.middleware
async def api_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not (request.path == API or request.path.startswith(API + "/")):
        return await handler(request)
    who, rate = Caller(), dict[str, str]()
    try:
        who = _identify(request)
        rate = _rate(request, who)
        request[CALLER] = who
        response = await handler(request)
    except Reply as reply:
        response = reply.response
    response.headers.update(_headers(request, who, rate))
    return response
