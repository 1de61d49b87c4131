"""The mapping boundary: nothing from requests, urllib3 or python-gitlab escapes it."""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
import time
from types import ModuleType

import gitlab.exceptions
import pytest
import requests.exceptions
import urllib3.exceptions

from buildsvc.errors import (
    SOURCE_ERROR_RESPONSE_MESSAGE,
    SOURCE_UNREACHABLE_MESSAGE,
    InvalidInput,
    SourceError,
    SourceErrorResponse,
    SourceUnreachable,
)
from buildsvc.sources.failures import (
    Context,
    UnexpectedAnswer,
    run_blocking,
    scrub,
    source_errors,
    tls_detail,
)
from buildsvc.sources.network import ForbiddenAddress

TOKEN = "tok-" + "x7" * 12
CTX = Context(forge="GitLab", secrets=(TOKEN,), timeout=3.0)


def _error_classes(module: ModuleType) -> list[type[Exception]]:
    # Warning classes are warnings, not errors: the libraries warn them, never raise them.
    return [
        cls
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Exception)
        and not issubclass(cls, Warning)
        and cls.__module__ == module.__name__  # not what the module merely imports
    ]


def _instances(cls: type[Exception]) -> list[Exception]:
    message = f"failed with {TOKEN} in https://h.example/api?private_token={TOKEN}"
    if issubclass(cls, gitlab.exceptions.GitlabError):
        return [
            cls(message, code, f'{{"message": "{TOKEN}"}}'.encode())
            for code in (None, 401, 403, 404, 429, 500, 503)
        ]
    for args in ((message,), (message, "doc", 0), (None, message), (0, 1)):
        try:
            return [cls(*args)]
        except (TypeError, AttributeError):
            continue
    # Constructors that need live objects (a response, a pool): the bare exception.
    bare = cls.__new__(cls)
    Exception.__init__(bare, message)
    return [bare]


ALL = [
    instance
    for module in (requests.exceptions, gitlab.exceptions, urllib3.exceptions)
    for cls in _error_classes(module)
    for instance in _instances(cls)
]


def test_the_guard_covers_every_library_exception() -> None:
    names = {type(exc).__name__ for exc in ALL}
    assert {"ConnectionError", "SSLError", "ReadTimeout", "JSONDecodeError"} <= names
    assert {"GitlabAuthenticationError", "GitlabHttpError", "GitlabParsingError"} <= names
    assert {"GitlabGetError", "GitlabCreateError", "RedirectError"} <= names
    assert len(_error_classes(gitlab.exceptions)) > 50


@pytest.mark.parametrize("exc", ALL, ids=lambda exc: type(exc).__qualname__)
def test_only_source_errors_escape_the_boundary(exc: Exception) -> None:
    with pytest.raises(SourceError) as info, source_errors(CTX):
        raise exc
    error = info.value
    assert error.__cause__ is exc
    assert error.message in (SOURCE_UNREACHABLE_MESSAGE, SOURCE_ERROR_RESPONSE_MESSAGE)
    assert error.detail
    assert TOKEN not in error.detail
    assert TOKEN not in str(error)


def _gitlab(code: int, body: bytes = b'{"message": "x"}') -> gitlab.exceptions.GitlabError:
    return gitlab.exceptions.GitlabHttpError("x", code, body)


def _mapped(exc: BaseException, ctx: Context = CTX) -> SourceError:
    with pytest.raises(SourceError) as info, source_errors(ctx):
        raise exc
    return info.value


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (_gitlab(503), "GitLab answered 503 Service Unavailable"),
        (_gitlab(500, b"<html>oops</html>"), "GitLab answered 500 Internal Server Error"),
        (_gitlab(404), "GitLab answered 404 Not Found"),
        (
            gitlab.exceptions.GitlabAuthenticationError("401 Unauthorized", 401, b"{}"),
            "GitLab answered 401 Unauthorized: the token was not accepted",
        ),
        (
            _gitlab(403, b'{"error":"insufficient_scope","scope":"api read_api"}'),
            "GitLab answered 403 Forbidden: the token has insufficient scope; "
            "the api scope is required",
        ),
        (gitlab.exceptions.GitlabParsingError("bad"), "not valid JSON"),
        (UnexpectedAnswer("answered with HTML instead of JSON"), "GitLab answered with HTML"),
    ],
)
def test_error_responses(exc: BaseException, detail: str) -> None:
    error = _mapped(exc)
    assert isinstance(error, SourceErrorResponse)
    assert error.code == "SOURCE_ERROR_RESPONSE"
    assert error.status == 502
    assert detail in (error.detail or "")


def test_401_detail_names_the_forge_reason() -> None:
    body = b'{"error":"invalid_token","error_description":"Token has expired."}'
    error = _mapped(gitlab.exceptions.GitlabAuthenticationError("invalid_token", 401, body))
    assert "Token has expired." in (error.detail or "")


def test_call_specific_details_and_status_override() -> None:
    ctx = Context(details={403: "the user may not manage webhooks"}, status=422)
    error = _mapped(_gitlab(403), ctx)
    assert error.detail == "the user may not manage webhooks"
    assert error.status == 422


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (requests.exceptions.ConnectTimeout("x"), "timeout: GitLab did not accept the connection"),
        (requests.exceptions.ReadTimeout("x"), "timeout: GitLab did not answer within 3 s"),
        (TimeoutError(), "timeout: GitLab did not answer"),
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed"),
        (ConnectionRefusedError(111, "refused"), "connection refused"),
        (requests.exceptions.ChunkedEncodingError("x"), "closed the connection"),
    ],
)
def test_unreachable(exc: BaseException, detail: str) -> None:
    error = _mapped(exc)
    assert isinstance(error, SourceUnreachable)
    assert error.code == "SOURCE_UNREACHABLE"
    assert detail in (error.detail or "")


def _verify_error(code: int, message: str) -> requests.exceptions.SSLError:
    inner = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    inner.verify_code = code
    inner.verify_message = message
    wrapped = urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.SSLError(inner))  # type: ignore[arg-type]
    return requests.exceptions.SSLError(wrapped)


@pytest.mark.parametrize(
    ("code", "message", "detail"),
    [
        (
            18,
            "self-signed certificate",
            "TLS certificate verification failed: self-signed certificate; provide the "
            "instance's CA certificate (ca_cert) to trust it",
        ),
        (
            10,
            "certificate has expired",
            "TLS certificate verification failed: the certificate has expired",
        ),
        (
            62,
            "Hostname mismatch",
            "TLS certificate verification failed: the certificate does not match the host name",
        ),
    ],
)
def test_tls_details_name_the_cause(code: int, message: str, detail: str) -> None:
    exc = _verify_error(code, message)
    assert tls_detail(exc) == detail
    assert _mapped(exc).detail == detail


def test_forbidden_address_is_a_policy_error() -> None:
    with pytest.raises(InvalidInput) as info, source_errors(CTX):
        raise ForbiddenAddress("h.example", "10.0.0.1", "a private")
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
    assert info.value.status == 400
    assert "10.0.0.1, a private address" in (info.value.detail or "")


def test_other_exceptions_are_bugs_and_pass_through() -> None:
    with pytest.raises(KeyError), source_errors(CTX):
        raise KeyError("x")


def test_our_own_refusals_are_scrubbed_too() -> None:
    with pytest.raises(SourceErrorResponse) as info, source_errors(CTX):
        raise SourceErrorResponse(detail=f"the token belongs to user x, not {TOKEN}")
    assert TOKEN not in (info.value.detail or "")
    assert TOKEN not in str(info.value)


def test_scrub() -> None:
    fake = "glpat" + "-" + "a1b2c3d4e5f6a7b8c9d0"
    assert scrub(f"a {fake} b", ()) == "a [redacted] b"
    assert scrub(f"a {TOKEN} b", (TOKEN,)) == "a [redacted] b"
    assert len(scrub("x" * 1000, ())) == 400


async def test_run_blocking_maps_the_deadline_to_unreachable() -> None:
    with pytest.raises(SourceUnreachable) as info:
        await run_blocking(lambda: time.sleep(0.5), CTX, deadline=0.05)
    assert (info.value.detail or "").startswith("timeout:")
    await asyncio.sleep(0.5)  # let the worker thread finish before the loop closes
