"""Console sign-in: an API token, kept in an encrypted cookie; CSRF tokens for forms.

The session cookie holds ``{"t": api token, "c": csrf token, "e": expiry}`` encrypted
with the application's ``Cipher`` (Fernet: authenticated encryption, so it can be neither
read nor forged), ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` over
HTTPS. Every request re-checks the token with ``accounts.services.authenticate``, so a
revoked token ends its console sessions at once.

Forms carry the session's CSRF token (``csrf_token`` field, or the ``X-CSRF-Token``
header for the console's fetch calls); ``check_csrf`` compares it in constant time. The
sign-in form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from buildsvc.accounts.services import authenticate
from buildsvc.crypto import SecretUnreadable
from buildsvc.errors import Forbidden, Unauthenticated
from buildsvc.web.keys import CIPHER, SESSIONMAKER

SESSION_COOKIE = "buildsvc_session"
LOGIN_CSRF_COOKIE = "buildsvc_login_csrf"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONSOLE_SESSION = web.RequestKey("console_session", object)


class CsrfFailed(Forbidden):
    """A console form came back without the token its page was served with."""

    code = "CSRF_FAILED"
    default_message = "The form expired; reload the page and try again."


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    account_id: int
    token: str
    csrf: str
    expires: float


def _cookie_options(request: web.Request, max_age: int) -> dict[str, object]:
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "Strict",
        "secure": request.secure,
        "max_age": max_age,
    }


async def sign_in(request: web.Request, response: web.StreamResponse, token: str) -> int:
    """Check ``token`` and put the session cookie on ``response``; the account id."""
    account_id = await authenticate(request.app[SESSIONMAKER], token)
    payload = {
        "t": token,
        "c": secrets.token_urlsafe(24),
        "e": time.time() + SESSION_SECONDS,
    }
    value = request.app[CIPHER].encrypt(json.dumps(payload))
    options = _cookie_options(request, SESSION_SECONDS)
    response.set_cookie(SESSION_COOKIE, value, **options)  # type: ignore[arg-type]
    response.del_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return account_id


def sign_out(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)


async def current(request: web.Request) -> ConsoleSession | None:
    """The signed-in session, or None (no cookie, unreadable, expired, token revoked)."""
    cached = request.get(CONSOLE_SESSION)
    if isinstance(cached, ConsoleSession):
        return cached
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        payload = json.loads(request.app[CIPHER].decrypt(raw))
        token, csrf, expires = str(payload["t"]), str(payload["c"]), float(payload["e"])
    except (SecretUnreadable, ValueError, KeyError, TypeError):
        return None
    if expires < time.time():
        return None
    try:
        account_id = await authenticate(request.app[SESSIONMAKER], token)
    except Unauthenticated:
        return None
    session = ConsoleSession(account_id, token, csrf, expires)
    request[CONSOLE_SESSION] = session
    return session


async def require(request: web.Request) -> ConsoleSession:
    """The session of a page; without one, a redirect to the sign-in page."""
    session = await current(request)
    if session is None:
        target = request.rel_url.path_qs if request.method == "GET" else "/console"
        raise web.HTTPSeeOther(location=f"/console/login?{_next_query(target)}")
    return session


async def require_api(request: web.Request) -> ConsoleSession:
    """The session of a console JSON call; 401 (JSON) without one."""
    session = await current(request)
    if session is None:
        raise Unauthenticated(detail="sign in to the console first")
    return session


def _next_query(target: str) -> str:
    return urlencode({"next": target})


def safe_next(target: str | None) -> str:
    """Only paths inside the console: never an open redirect."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


def _same(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


async def check_csrf(request: web.Request, session: ConsoleSession) -> None:
    """403 unless the form field or header carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        given = str((await request.post()).get(CSRF_FIELD, ""))
    if not _same(given, session.csrf):
        raise CsrfFailed


def login_csrf_value(request: web.Request) -> tuple[str, bool]:
    """The sign-in form's token and whether it is new (then ``set_login_csrf`` it)."""
    value = request.cookies.get(LOGIN_CSRF_COOKIE)
    if value:
        return value, False
    return secrets.token_urlsafe(24), True


def set_login_csrf(request: web.Request, response: web.StreamResponse, value: str) -> None:
    options = _cookie_options(request, 3600)
    response.set_cookie(LOGIN_CSRF_COOKIE, value, **options)  # type: ignore[arg-type]


def check_login_csrf(request: web.Request, given: str | None) -> None:
    if not _same(given, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise CsrfFailed
