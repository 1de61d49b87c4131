"""The boundary maps every PyGithub exception to one of the two documented errors."""

from __future__ import annotations

import importlib
import inspect

import pytest

from buildsvc.errors import (
    SOURCE_ERROR_RESPONSE_MESSAGE,
    SourceError,
    SourceErrorResponse,
)
from buildsvc.sources.failures import Context, source_errors

# The module, not the class ``github.GithubException`` that ``import ... as`` would bind.
ghe = importlib.import_module("github.GithubException")
TOKEN = "tok-" + "h8" * 12
CTX = Context(forge="GitHub", secrets=(TOKEN,), timeout=3.0)
MESSAGE = f"failed with {TOKEN}"


def _classes() -> list[type[Exception]]:
    return [
        cls
        for _name, cls in inspect.getmembers(ghe, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == "github.GithubException"
    ]


def _instances(cls: type[Exception]) -> list[Exception]:
    if issubclass(cls, ghe.GithubException):
        data = {"message": MESSAGE, "documentation_url": "https://docs.github.com"}
        statuses: list[int | None] = [None, 0, 401, 403, 404, 409, 422, 429, 500, 502]
        made: list[Exception] = [cls(status, data, {"x-a": TOKEN}, MESSAGE) for status in statuses]
        made.append(cls(502, {"data": "<html><body>proxy error</body></html>"}, {}, None))
        return made
    return [cls(MESSAGE, str, None)]  # BadAttributeException(actual, expected, cause)


ALL = [instance for cls in _classes() for instance in _instances(cls)]


def test_the_guard_covers_every_pygithub_exception() -> None:
    names = {type(exc).__name__ for exc in ALL}
    assert {
        "GithubException",
        "BadCredentialsException",
        "UnknownObjectException",
        "RateLimitExceededException",
        "BadAttributeException",
        "TwoFactorException",
        "IncompletableObject",
        "BadUserAgentException",
    } <= names


@pytest.mark.parametrize("exc", ALL, ids=lambda exc: f"{type(exc).__name__}-{exc.args[:1]}")
def test_only_source_errors_escape(exc: Exception) -> None:
    with pytest.raises(SourceError) as info, source_errors(CTX):
        raise exc
    error = info.value
    assert isinstance(error, SourceErrorResponse)
    assert error.message == SOURCE_ERROR_RESPONSE_MESSAGE
    assert error.__cause__ is exc
    assert error.detail
    assert TOKEN not in error.detail
    assert TOKEN not in str(error)


def _detail(exc: Exception, ctx: Context = CTX) -> str:
    with pytest.raises(SourceError) as info, source_errors(ctx):
        raise exc
    return info.value.detail or ""


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (
            ghe.BadCredentialsException(401, {"message": "Bad credentials"}, {}, None),
            "GitHub answered 401 Unauthorized: the token was not accepted "
            "(Bad credentials: wrong, revoked or expired)",
        ),
        (
            ghe.TwoFactorException(401, {"message": "Must specify two-factor code."}, {}),
            "GitHub answered 401 Unauthorized: the account asks for a two-factor code; "
            "bind with a personal access token",
        ),
        (
            ghe.RateLimitExceededException(
                403, {"message": "API rate limit exceeded"}, {"x-ratelimit-reset": "0"}
            ),
            "GitHub answered 403 Forbidden: rate limited until 00:00:00 UTC; try again later",
        ),
        (
            ghe.UnknownObjectException(404, {"message": "Not Found"}, {}),
            "GitHub answered 404 Not Found: Not Found",
        ),
        (
            ghe.GithubException(
                422,
                {"message": "Validation Failed", "errors": [{"message": "Hook already exists"}]},
                {},
                "Validation Failed",
            ),
            "GitHub answered 422 Unprocessable Entity: Validation Failed: Hook already exists",
        ),
        (
            ghe.GithubException(502, {"data": "<html>Bad gateway</html>"}, {}),
            "GitHub answered 502 Bad Gateway: (an HTML page)",
        ),
        (
            ghe.BadAttributeException("x", int, None),
            "GitHub answered JSON of an unexpected shape",
        ),
    ],
)
def test_details(exc: Exception, detail: str) -> None:
    assert _detail(exc) == detail


def test_call_specific_details_win() -> None:
    ctx = Context(forge="GitHub", details={403: "the user may not manage webhooks"})
    exc = ghe.GithubException(403, {"message": "Must have admin rights"}, {})
    assert _detail(exc, ctx) == "the user may not manage webhooks"
