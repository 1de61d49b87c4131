"""The GitHub binding checks, as one blocking function (run in a thread).

1. ``GET /user`` must answer, and its ``login`` match the username (case-insensitively).
   On Enterprise a 404 there means the URL is not a GitHub instance.
2. A classic token announces its scopes in ``X-OAuth-Scopes``: ``repo`` and
   ``admin:repo_hook`` are required. A fine-grained token sends no scope header and
   GitHub offers no way to read its permissions: it is bound with a warning, and what it
   may do shows on first use (creating a hook answers 403/404 with a clear detail).
3. A token with an expiry announces it in ``GitHub-Authentication-Token-Expiration``;
   it is kept, and warned about when near. Expired and revoked tokens answer 401.
"""

from __future__ import annotations

import datetime as dt

from buildsvc.errors import SourceErrorResponse
from buildsvc.sources.base import Binding
from buildsvc.sources.github.models import required
from buildsvc.sources.github.session import Connection, open_github

REQUIRED_SCOPES = ("repo", "admin:repo_hook")
FINE_GRAINED = (
    "this is a fine-grained token: GitHub does not report its permissions; it needs "
    "Contents (read), Metadata (read), Webhooks (read and write) and Commit statuses "
    "(read and write) on the repositories you link, which is checked when you link one"
)
EXPIRY_HEADER = "github-authentication-token-expiration"


def _refuse(detail: str) -> SourceErrorResponse:
    return SourceErrorResponse(detail=detail, status=422)


def check_scopes(announced: list[str] | None) -> tuple[tuple[str, ...], list[str]]:
    """(scopes, warnings) of a token from its ``X-OAuth-Scopes`` (None: fine-grained)."""
    if announced is None:
        return (), [FINE_GRAINED]
    scopes = tuple(scope.strip() for scope in announced if scope.strip())
    if any(scope not in scopes for scope in REQUIRED_SCOPES):
        have = ", ".join(scopes) or "none"
        raise _refuse(f"token scopes are {have}; the repo and admin:repo_hook scopes are required")
    return scopes, []


def parse_expiry(value: object) -> dt.date | None:
    """``2026-12-01 10:00:00 UTC`` (GitHub's format) to a date; unknown formats: None."""
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def expiry_warning(expires_at: dt.date | None, today: dt.date, warning_days: int) -> list[str]:
    if expires_at is None or (expires_at - today).days > warning_days:
        return []
    days = (expires_at - today).days
    return [
        f"the token expires on {expires_at.isoformat()} (in {days} day{'s' * (days != 1)}); "
        "renew it and update the binding to keep builds working"
    ]


def check_binding(conn: Connection, username: str, warning_days: int, today: dt.date) -> Binding:
    with open_github(conn) as gh:
        user = gh.get_user()
        login = required(user.login, "/user login")  # the first request: GET /user
        user_id = required(user.id, "/user id")
        announced = gh.oauth_scopes
        expires_at = parse_expiry(user.raw_headers.get(EXPIRY_HEADER))
    if login.casefold() != username.strip().casefold():
        raise _refuse(f"the token belongs to user {login}, not {username.strip()}")
    scopes, warnings = check_scopes(announced)
    warnings += expiry_warning(expires_at, today, warning_days)
    return Binding(
        provider="github",
        url=conn.root_url,
        api_url=conn.api_url,
        api_version="v3",
        username=login,
        user_id=user_id,
        scopes=scopes,
        expires_at=expires_at,
        warnings=tuple(warnings),
    )
