"""The boundary maps every atlassian-python-api and requests exception (Bitbucket)."""

from __future__ import annotations

import inspect
import json
from types import ModuleType

import atlassian.errors
import pytest
import requests
import requests.exceptions

from buildsvc.errors import (
    SOURCE_ERROR_RESPONSE_MESSAGE,
    SOURCE_UNREACHABLE_MESSAGE,
    SourceError,
    SourceErrorResponse,
)
from buildsvc.sources.failures import Context, source_errors

TOKEN = "tok-" + "b9" * 12
CTX = Context(forge="Bitbucket", secrets=(TOKEN,), timeout=3.0)
MESSAGE = f"failed with {TOKEN}"


def _response(
    status: int, body: object, content_type: str = "application/json"
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = content_type
    response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response.url = f"https://bb.example/rest/api/1.0/x?token={TOKEN}"
    return response


def _http_errors() -> list[Exception]:
    bodies: list[tuple[int, object, str]] = [
        (401, "Login failed\n", "text/plain"),
        (
            401,
            {"errors": [{"message": MESSAGE, "exceptionName": "x.AuthorisationException"}]},
            "application/json",
        ),
        (
            403,
            {"type": "error", "error": {"message": MESSAGE, "detail": {"required": ["webhook"]}}},
            "application/json",
        ),
        (404, {"type": "error", "error": {"message": MESSAGE}}, "application/json"),
        (429, {"errors": []}, "application/json"),
        (500, "<html>oops</html>", "text/html"),
        (503, [1, 2], "application/json"),
    ]
    made: list[Exception] = []
    for status, body, kind in bodies:
        response = _response(status, body, kind)
        made.append(requests.HTTPError(MESSAGE, response=response))
        try:
            response.raise_for_status()
        except requests.HTTPError as exc:
            made.append(exc)
    made.append(requests.HTTPError(MESSAGE))  # no response at all
    return made


def _classes(module: ModuleType) -> list[type[Exception]]:
    return [
        cls
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Exception)
        and not issubclass(cls, Warning)
        and cls.__module__ == module.__name__
    ]


def _bare(cls: type[Exception]) -> Exception:
    for args in ((MESSAGE,), (MESSAGE, "doc", 0)):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(cls)


ALL = [
    *(_bare(cls) for cls in _classes(atlassian.errors)),
    *(_bare(cls) for cls in _classes(requests.exceptions)),
    *_http_errors(),
]


def test_the_guard_covers_atlassian_and_requests() -> None:
    names = {type(exc).__name__ for exc in ALL}
    assert {"ApiError", "ApiNotFoundError", "ApiPermissionError", "ApiValueError"} <= names
    assert {"ApiConflictError", "ApiNotAcceptable", "JsonRPCError"} <= names
    assert {"HTTPError", "ConnectionError", "SSLError", "ReadTimeout", "JSONDecodeError"} <= names


@pytest.mark.parametrize("exc", ALL, ids=lambda exc: type(exc).__name__)
def test_only_source_errors_escape(exc: Exception) -> None:
    with pytest.raises(SourceError) as info, source_errors(CTX):
        raise exc
    error = info.value
    assert error.message in (SOURCE_UNREACHABLE_MESSAGE, SOURCE_ERROR_RESPONSE_MESSAGE)
    assert error.__cause__ is exc
    assert error.detail
    assert TOKEN not in str(error)
    if isinstance(exc, requests.HTTPError | atlassian.errors.ApiError):
        assert isinstance(error, SourceErrorResponse)  # an answer, not a network failure


def _detail(exc: Exception, ctx: Context = CTX) -> str:
    with pytest.raises(SourceError) as info, source_errors(ctx):
        raise exc
    return info.value.detail or ""


def _http(status: int, body: object, content_type: str = "application/json") -> Exception:
    return requests.HTTPError("summary", response=_response(status, body, content_type))


def test_bitbucket_cloud_names_the_missing_scope() -> None:
    body = {
        "type": "error",
        "error": {
            "message": "Your credentials lack one or more required privilege scopes.",
            "detail": {"required": ["webhook"], "granted": ["account", "repository"]},
        },
    }
    ctx = Context(forge="Bitbucket", details={403: "may not manage webhooks"})
    assert _detail(_http(403, body), ctx) == (
        "Bitbucket answered 403 Forbidden: the credentials lack a required scope "
        "(required: webhook; granted: account, repository)"
    )


def test_bitbucket_server_401_for_a_missing_permission() -> None:
    body = {
        "errors": [
            {
                "message": "You are not permitted to access this resource",
                "exceptionName": "com.atlassian.bitbucket.AuthorisationException",
            }
        ]
    }
    server = Context(forge="Bitbucket Server")
    assert _detail(_http(401, body), server) == (
        "Bitbucket Server answered 401 Unauthorized: the user or the token lacks the "
        "permission for this (You are not permitted to access this resource)"
    )
    hooks = Context(forge="Bitbucket Server", details={403: "needs Repository admin"})
    assert _detail(_http(401, body), hooks) == "needs Repository admin"


def test_bad_credentials_are_not_hidden_by_call_details() -> None:
    body = {"errors": [{"message": "Authentication failed.", "exceptionName": "x.Incorrect"}]}
    ctx = Context(forge="Bitbucket Server", details={403: "needs Repository admin"})
    assert _detail(_http(401, body), ctx) == (
        "Bitbucket Server answered 401 Unauthorized: the credentials were not accepted "
        "(Authentication failed.)"
    )


def test_plain_text_and_html_bodies() -> None:
    response = _response(401, "Login failed\n", "text/plain")
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    assert _detail(info.value) == (
        "Bitbucket answered 401 Unauthorized: the credentials were not accepted "
        "(wrong, revoked or expired)"
    )
    response = _response(502, "<html><body>Bad gateway</body></html>", "text/html")
    with pytest.raises(requests.HTTPError) as info:
        response.raise_for_status()
    assert _detail(info.value) == "Bitbucket answered 502 Bad Gateway: (an HTML page)"


@pytest.mark.parametrize(
    ("cls", "detail"),
    [
        (atlassian.errors.ApiNotFoundError, "Bitbucket answered not found: no"),
        (atlassian.errors.ApiPermissionError, "Bitbucket answered permission denied: no"),
        (atlassian.errors.ApiError, "Bitbucket answered error: no"),
    ],
)
def test_atlassian_api_errors(cls: type[Exception], detail: str) -> None:
    assert _detail(cls("no")) == detail
