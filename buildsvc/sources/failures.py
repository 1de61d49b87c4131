"""The one boundary where client and network exceptions become service errors.

Every forge call runs inside ``source_errors(...)`` (or ``run_blocking``, which adds the
thread and the deadline). What comes out is one of::

    SourceUnreachable   SOURCE_UNREACHABLE     DNS failure, refused, timeout, TLS not trusted,
                                               connection broken
    SourceErrorResponse SOURCE_ERROR_RESPONSE  401/403/404/5xx, HTML or unparsable answer,
                                               unexpected JSON, JSON nested too deep to
                                               decode (RecursionError), redirect of a write
                                               (python-gitlab, PyGithub, atlassian-python-api
                                               and requests.HTTPError from raise_for_status)
    SourceUrlNotAllowed SOURCE_URL_NOT_ALLOWED the host resolves into a refused network

with a ``detail`` naming the cause. Details are scrubbed of the token (and anything
that looks like one) and cut to a readable length, because they reach users and logs.
Anything not listed (a ``TypeError`` from our own code) is a bug and passes through. A
``RecursionError`` is listed: in a forge call nothing of ours recurses, but every
client library's JSON decoding does, once per level of the forge's answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

import atlassian.errors
import gitlab.exceptions
import requests
import urllib3.exceptions
from github.GithubException import (
    BadAttributeException,
    GithubException,
    RateLimitExceededException,
    TwoFactorException,
)

from buildsvc.errors import ServiceError, SourceErrorResponse, SourceUnreachable
from buildsvc.sources.errors import SourceUrlNotAllowed
from buildsvc.sources.network import AddressPolicy, ForbiddenAddress, resolve_checked

T = TypeVar("T")

MAX_DETAIL = 400
_TOKENISH = re.compile(
    r"\b(glpat|gloas|gldt|ghp|gho|ghu|ghs|github_pat|ATBB|ATCTT|BBDC)[-_][\w-]+"
    # Atlassian app passwords and API tokens carry no separator after their prefix.
    r"|\bAT(?:BB|ATT|CTT)[\w=-]{16,}"
)


class UnexpectedAnswer(Exception):
    """The forge answered 2xx with something we cannot use (HTML, wrong JSON shape)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the boundary needs to write a useful, secret-free detail."""

    forge: str = "GitLab"
    address: str | None = None  # host[:port] the call goes to, named in network details
    secrets: Sequence[str] = field(default=(), repr=False)
    timeout: float | None = None
    status: int | None = None  # e.g. 422 while binding; default: the class status (502)
    # Replacement details for answers whose meaning depends on the call (403 on hooks).
    details: Mapping[int, str] = field(default_factory=dict)


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _TOKENISH.sub("[redacted]", text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (cause, context, args, urllib3 ``reason``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(item for item in linked if isinstance(item, BaseException))


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((item for item in _chain(exc) if isinstance(item, kind)), None)


_TLS_CODES = {
    18: "self-signed certificate",
    19: "self-signed certificate in the certificate chain",
    20: "certificate signed by an unknown authority",
    21: "certificate signed by an unknown authority",
    10: "the certificate has expired",
    9: "the certificate is not yet valid",
    62: "the certificate does not match the host name",
}


def tls_detail(exc: BaseException) -> str:
    found = _find(exc, ssl.SSLCertVerificationError)
    if not isinstance(found, ssl.SSLCertVerificationError):
        reason = _find(exc, ssl.SSLError)
        return f"TLS handshake failed: {_text(reason or exc)}"
    cause = _TLS_CODES.get(found.verify_code, found.verify_message or str(found))
    detail = f"TLS certificate verification failed: {cause}"
    if found.verify_code in (18, 19, 20, 21):
        detail += "; provide the instance's CA certificate (ca_cert) to trust it"
    return detail


def _unreachable(exc: BaseException, ctx: Context) -> str:
    forge = ctx.forge
    within = f" within {ctx.timeout:g} s" if ctx.timeout else ""
    if _find(exc, ssl.SSLError) is not None or isinstance(exc, requests.exceptions.SSLError):
        return tls_detail(exc)
    name_error = _find(exc, urllib3.exceptions.NameResolutionError) or _find(exc, socket.gaierror)
    if name_error is not None:
        host = getattr(getattr(name_error, "conn", None), "host", None) or ctx.address
        return f"DNS lookup failed{f' for {host}' if host else ''}: the host name does not resolve"
    if _find(exc, ConnectionRefusedError) is not None:
        at = f" by {ctx.address}" if ctx.address else ""
        return f"connection refused{at}: nothing accepts connections at that address and port"
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: only a real timeout here.
    connect_timeout = _find(exc, urllib3.exceptions.ConnectTimeoutError)
    if isinstance(exc, requests.exceptions.ConnectTimeout) or (
        connect_timeout is not None
        and not isinstance(connect_timeout, urllib3.exceptions.NewConnectionError)
    ):
        return f"timeout: {forge} did not accept the connection{within}"
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError) or _find(
        exc, urllib3.exceptions.ReadTimeoutError
    ):
        return f"timeout: {forge} did not answer{within}"
    if _find(exc, ConnectionResetError) is not None:
        return f"connection reset by {forge}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or any(
        isinstance(item, urllib3.exceptions.ProtocolError | http.client.HTTPException)
        for item in _chain(exc)
    ):
        return f"{forge} closed the connection without a complete answer"
    return f"could not connect to {forge}: {_text(exc)}"


def _body_field(body: bytes | None, key: str) -> str | None:
    try:
        value = json.loads(body or b"").get(key)
    except (ValueError, AttributeError, RecursionError):
        return None
    return str(value) if value else None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # some urllib3 errors cannot format themselves when half-built
        return type(exc).__name__


def _http_detail(exc: gitlab.exceptions.GitlabError, code: int, ctx: Context) -> str:
    if code in ctx.details:
        return ctx.details[code]
    phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
    head = f"{ctx.forge} answered {code} {phrase}".rstrip()
    text = _json_text(exc.error_message)
    if "<html" in text.lower() or text.startswith("<"):
        text = "(an HTML page)"
    if code == 401:
        reason = _body_field(exc.response_body, "error_description")
        return f"{head}: the token was not accepted ({reason or 'wrong, revoked or expired'})"
    if code == 403 and "insufficient_scope" in str(exc.response_body or b"") + text:
        return f"{head}: the token has insufficient scope; the api scope is required"
    if code == 429:
        return f"{head}: rate limited; try again later"
    return f"{head}: {text}" if text and text != f"{code} {phrase}" else head


def _head(forge: str, code: int) -> str:
    phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
    return f"{forge} answered {code} {phrase}".rstrip()


def _json_text(value: object) -> str:
    """A decoded message as text; JSON as deep as the decoder allowed is only named."""
    if not isinstance(value, dict | list):
        return str(value).strip()
    try:
        return json.dumps(value)
    except RecursionError:
        return "(JSON nested too deep)"


def _message_text(value: object) -> str:
    """A forge's error message as text; an HTML body is named, not quoted."""
    text = _json_text(value) if isinstance(value, dict | list) else str(value or "").strip()
    return "(an HTML page)" if "<html" in text.lower() or text.startswith("<") else text


def _rate_limited(head: str, headers: Mapping[str, object] | None) -> str:
    reset = str((headers or {}).get("x-ratelimit-reset", ""))
    until = ""
    if reset.isdigit():
        until = f" until {dt.datetime.fromtimestamp(int(reset), dt.UTC):%H:%M:%S} UTC"
    return f"{head}: rate limited{until}; try again later"


def _github_status(exc: GithubException) -> int:
    return exc.status if isinstance(exc.status, int) else 0


def _github_detail(exc: GithubException, code: int, ctx: Context) -> str:
    if code in ctx.details:
        return ctx.details[code]
    head = _head(ctx.forge, code)
    data = exc.data if isinstance(exc.data, dict) else {}
    text = _message_text(exc.message or data.get("message") or data.get("data"))
    if isinstance(exc, TwoFactorException):
        return f"{head}: the account asks for a two-factor code; bind with a personal access token"
    if code == 401:
        reason = text or "Bad credentials"
        return f"{head}: the token was not accepted ({reason}: wrong, revoked or expired)"
    if isinstance(exc, RateLimitExceededException) or code == 429:
        return _rate_limited(head, exc.headers)
    errors = data.get("errors")  # 422 "Validation Failed" says what in a list
    if isinstance(errors, list) and errors:
        parts = [
            str(e.get("message") or f"{e.get('field', '')} {e.get('code', '')}".strip())
            if isinstance(e, dict)
            else str(e)
            for e in errors
        ]
        text = f"{text}: {'; '.join(part for part in parts if part)}"
    return f"{head}: {text}" if text else head


def _atlassian_body(response: requests.Response) -> tuple[str, str, object]:
    """(message, exception name, detail) of an Atlassian error body.

    Bitbucket Server: ``{"errors": [{"message", "exceptionName"}]}``; Bitbucket Cloud:
    ``{"type": "error", "error": {"message", "detail"}}``.
    """
    try:
        body = json.loads(response.content or b"")
    except (ValueError, RecursionError):
        return "", "", None
    if not isinstance(body, dict):
        return "", "", None
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        messages = [str(e.get("message") or "") for e in errors if isinstance(e, dict)]
        return "; ".join(m for m in messages if m), str(errors[0].get("exceptionName") or ""), None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or ""), "", error.get("detail")
    return _message_text(body.get("message")), "", None


def _scopes(detail: object) -> str | None:
    """Bitbucket Cloud's 403 detail ``{"required": [...], "granted": [...]}`` as text."""
    if not isinstance(detail, dict) or not isinstance(detail.get("required"), list):
        return None
    required = ", ".join(str(s) for s in detail["required"])
    granted = ", ".join(str(s) for s in detail.get("granted") or []) or "none"
    return f"the credentials lack a required scope (required: {required}; granted: {granted})"


def _http_error_detail(exc: requests.exceptions.HTTPError, ctx: Context) -> str:
    """``raise_for_status`` errors (atlassian-python-api raises them for every 4xx/5xx)."""
    response = exc.response
    code = response.status_code if isinstance(response, requests.Response) else 0
    if not isinstance(response, requests.Response) or not code:
        return f"{ctx.forge} answered an error: {_text(exc)}"
    head = _head(ctx.forge, code)
    message, exception, detail = _atlassian_body(response)
    if not message and not re.match(r"\d{3} (Client|Server) Error", _text(exc)):
        message = _message_text(_text(exc))  # atlassian's own summary of the body
    if not message and "html" in response.headers.get("Content-Type", "").lower():
        message = "(an HTML page)"
    if code == 403 and (lacking := _scopes(detail)):
        return f"{head}: {lacking}"  # more precise than any call-specific detail
    if code == 401 and exception.endswith("AuthorisationException"):
        # Bitbucket Server answers 401, not 403, when the person or token lacks a permission:
        # a call-specific detail for 403 applies (one for 401 would hide bad credentials).
        denied = f"{head}: the user or the token lacks the permission for this ({message})"
        return ctx.details.get(403, denied)
    if code in ctx.details:
        return ctx.details[code]
    if code == 401:
        reason = message or "wrong, revoked or expired"
        return f"{head}: the credentials were not accepted ({reason})"
    if code == 429:
        return _rate_limited(head, {k.lower(): v for k, v in response.headers.items()})
    return f"{head}: {message}" if message else head


_ATLASSIAN_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (atlassian.errors.ApiNotFoundError, "not found"),
    (atlassian.errors.ApiPermissionError, "permission denied"),
    (atlassian.errors.ApiConflictError, "conflict"),
    (atlassian.errors.ApiValueError, "invalid request"),
    (atlassian.errors.ApiNotAcceptable, "not acceptable"),
    (atlassian.errors.JsonRPCError, "JSON-RPC error"),
)


def _atlassian_detail(exc: Exception, ctx: Context) -> str:
    kind = next((name for cls, name in _ATLASSIAN_KINDS if isinstance(exc, cls)), "error")
    text = _message_text(_text(exc))
    return f"{ctx.forge} answered {kind}: {text}" if text else f"{ctx.forge} answered {kind}"


_FINE_GRAINED_DENIED = "not accessible by personal access token"


def refusal(exc: BaseException) -> str | None:
    """Whether the forge refused the token itself: "credentials", "scope", or None.

    401 is the credentials (wrong, expired, revoked), except Bitbucket Server's
    ``AuthorisationException``, its 401 for a missing permission on one resource. 403 is
    the token's scope only when the forge says so (GitLab ``insufficient_scope``,
    Bitbucket Cloud's required/granted scopes, GitHub's fine-grained "not accessible by
    personal access token"); other 403s are a missing right on one resource, or a limit.
    """
    if isinstance(exc, gitlab.exceptions.GitlabError):
        code = exc.response_code
        scope = "insufficient_scope" in f"{exc.response_body!r}{exc.error_message}"
    elif isinstance(exc, GithubException):
        code = _github_status(exc)
        data = exc.data if isinstance(exc.data, dict) else {}
        scope = _FINE_GRAINED_DENIED in str(exc.message or data.get("message") or "").lower()
    elif isinstance(exc, requests.exceptions.HTTPError) and isinstance(
        exc.response, requests.Response
    ):
        code = exc.response.status_code
        _, exception, detail = _atlassian_body(exc.response)
        if code == 401 and exception.endswith("AuthorisationException"):
            return None
        scope = _scopes(detail) is not None
    else:
        return None
    if code == 401:
        return "credentials"
    return "scope" if code == 403 and scope else None


def _fixed(text: str) -> Callable[[BaseException, Context], str]:
    return lambda exc, ctx: f"{ctx.forge} {text}"


# What the forge answered, as (exception types, detail), first match wins; a detail of
# None means "not this rule" (a GitLab or GitHub error that carries no HTTP status).
_ANSWERS: tuple[tuple[type | tuple[type, ...], Callable[[Any, Context], str | None]], ...] = (
    (UnexpectedAnswer, lambda exc, ctx: f"{ctx.forge} {exc}"),
    (gitlab.exceptions.GitlabParsingError, _fixed("answered with a body that is not valid JSON")),
    (
        gitlab.exceptions.RedirectError,
        _fixed("redirected a write request; enter the URL it redirects to"),
    ),
    (
        gitlab.exceptions.GitlabError,
        lambda exc, ctx: _http_detail(exc, exc.response_code, ctx) if exc.response_code else None,
    ),
    (BadAttributeException, _fixed("answered JSON of an unexpected shape")),
    (
        GithubException,
        lambda exc, ctx: _github_detail(exc, code, ctx) if (code := _github_status(exc)) else None,
    ),
    (requests.exceptions.HTTPError, _http_error_detail),
    ((atlassian.errors.ApiError, atlassian.errors.JsonRPCError), _atlassian_detail),
    (
        (requests.exceptions.JSONDecodeError, json.JSONDecodeError),
        _fixed("answered with a body that is not valid JSON"),
    ),
    (RecursionError, _fixed("answered with JSON nested too deep to decode")),
    (requests.exceptions.TooManyRedirects, _fixed("redirected too many times")),
    (
        requests.exceptions.ContentDecodingError,
        _fixed("answered with a body that cannot be decoded"),
    ),
    (
        (requests.exceptions.InvalidHeader, requests.exceptions.InvalidJSONError),
        lambda exc, ctx: f"{ctx.forge} request failed: {_text(exc)}",
    ),
)
# Failures on the way to the forge (detail by ``_unreachable``).
_NETWORK = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    urllib3.exceptions.ProxySchemeUnsupported,
    http.client.HTTPException,
    OSError,
    TimeoutError,
)


def _answer_detail(exc: BaseException, ctx: Context) -> str | None:
    for kinds, detail in _ANSWERS:
        if isinstance(exc, kinds) and (found := detail(exc, ctx)) is not None:
            return found
    return None


def translate(exc: BaseException, ctx: Context) -> ServiceError | None:
    """The service error for a client/network exception, or None if it is not one."""
    if isinstance(exc, ForbiddenAddress):
        return SourceUrlNotAllowed(detail=scrub(_text(exc), ctx.secrets))
    response = _answer_detail(exc, ctx)
    if response is None and isinstance(exc, gitlab.exceptions.GitlabError | GithubException):
        # A client error without a status: the network failure it wraps, if any.
        inner = next((e for e in _chain(exc) if e is not exc and translate(e, ctx)), None)
        if inner is not None:
            return translate(inner, ctx)
        response = f"{ctx.forge} client error: {_text(exc)}"
    if response is None:
        if not isinstance(exc, _NETWORK):
            return None
        unreachable = _unreachable(exc, ctx)
        return SourceUnreachable(detail=scrub(unreachable, ctx.secrets), status=ctx.status)
    mapped = SourceErrorResponse(detail=scrub(response, ctx.secrets), status=ctx.status)
    mapped.refusal = refusal(exc)
    return mapped


@contextmanager
def source_errors(ctx: Context) -> Iterator[None]:
    try:
        yield
    except ServiceError as exc:
        if exc.detail:  # our own refusals may quote user input; scrub them too
            exc.detail = scrub(exc.detail, ctx.secrets)
            exc.args = (f"{exc.message} ({exc.detail})",)
        raise
    except Exception as exc:
        mapped = translate(exc, ctx)
        if mapped is None:
            raise
        raise mapped from exc


async def run_blocking(fn: Callable[[], T], ctx: Context, *, deadline: float | None) -> T:
    """Run a blocking SDK call in a thread, bounded by ``deadline`` seconds, mapped."""
    with source_errors(ctx):
        async with asyncio.timeout(deadline):
            return await asyncio.to_thread(fn)


async def check_address(
    host: str, port: int, policy: AddressPolicy, ctx: Context, *, deadline: float
) -> None:
    """Resolve ``host`` and check it before the first request, for a clear error.

    The transport checks again on every connection (DNS rebinding); this early check
    names the host and tells a slow DNS lookup from a slow forge.
    """
    try:
        await run_blocking(lambda: resolve_checked(host, port, policy), ctx, deadline=deadline)
    except SourceUnreachable as exc:
        if not isinstance(exc.__cause__, TimeoutError):
            raise
        detail = f"timeout: the DNS lookup of {host} took over {deadline:g} s"
        raise SourceUnreachable(detail=detail, status=ctx.status) from exc.__cause__
