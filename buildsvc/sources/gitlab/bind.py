"""The GitLab binding checks, in order, as one blocking function (run in a thread).

1. Which API answers ``/user``: v4, else v3 (GitLab 8-10). A URL with a path is kept
   only if GitLab answers under it (a relative-URL install); a group page is refused.
2. The user: ``/user`` must answer and its username match, case-insensitively.
3. The token: ``/personal_access_tokens/self`` must show the ``api`` scope and an
   active, unexpired token; its expiry is kept and warned about when near. A GitLab
   without introspection (or on v3) is checked by a call that needs more than
   ``read_user``, and the binding says the scope could not be verified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError, GitlabHttpError

from buildsvc.errors import SourceErrorResponse
from buildsvc.sources.base import Binding
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.failures import UnexpectedAnswer
from buildsvc.sources.gitlab.models import parse_date
from buildsvc.sources.gitlab.rest import GitLabRest
from buildsvc.sources.gitlab.session import Connection, rest_over
from buildsvc.sources.gitlab.v3 import error_message
from buildsvc.sources.transport import GuardedSession
from buildsvc.sources.urls import RootUrl, invalid_url

SCOPE_UNVERIFIED = (
    "this GitLab cannot report the token's scopes and expiry (no token introspection); "
    "the api scope could not be verified"
)


def _looks_like_gitlab(response: requests.Response) -> bool:
    """An answer only a GitLab API gives: JSON with a user, or a JSON auth error."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if response.ok:
        return "username" in body
    return response.status_code in (401, 403) and ("message" in body or "error" in body)


def _raise_http(response: requests.Response) -> None:
    kind = GitlabAuthenticationError if response.status_code == 401 else GitlabHttpError
    raise kind(error_message(response), response.status_code, response.content)


def probe_user(session: GuardedSession, root: RootUrl, conn: Connection) -> tuple[str, object]:
    """The API version that answers ``/user`` under ``root`` and its answer."""
    for version in ("v4", "v3"):
        url = f"{root.url}/api/{version}/user"
        try:
            response = session.get(url, headers={"PRIVATE-TOKEN": conn.token}, timeout=conn.timeout)
        except UnexpectedAnswer:
            if root.needs_probe:
                raise invalid_url(f"no GitLab API answers under {root.url}", "gitlab") from None
            raise
        if response.history and not response.url.startswith(url):
            moved = response.url.split(f"/api/{version}/", 1)[0]
            raise invalid_url(f"{root.url} redirects to {moved}; use that URL", "gitlab")
        if response.status_code == 404:  # no such API here; v3 next, then give up
            continue
        if root.needs_probe and not _looks_like_gitlab(response):
            raise invalid_url(f"no GitLab API answers under {root.url}", "gitlab")
        if not response.ok:
            _raise_http(response)
        return version, response.json()
    if root.needs_probe:
        raise invalid_url(f"no GitLab API answers under {root.url}", "gitlab")
    raise GitlabHttpError(
        "neither /api/v4/user nor /api/v3/user exists; is this a GitLab instance root URL?", 404
    )


def _refuse(detail: str) -> SourceErrorResponse:
    return SourceErrorResponse(detail=detail, status=422)


def check_token(
    rest: GitLabRest, warning_days: int, today: dt.date
) -> tuple[tuple[str, ...], dt.date | None, list[str]]:
    """(scopes, expires_at, warnings) of the token, or raise why it cannot be bound."""
    info: dict[str, object] | None = None
    if rest.api_version == "v4":
        try:
            info = as_dict(rest.token_self(), "token introspection")
        except GitlabError as exc:
            if exc.response_code != 404:
                raise
    if info is None:  # too old for introspection: try what the api scope allows
        rest.check_api_scope()
        return (), None, [SCOPE_UNVERIFIED]
    raw_scopes = info.get("scopes")
    scopes = tuple(str(s) for s in raw_scopes) if isinstance(raw_scopes, list) else ()
    expires_at = parse_date(info.get("expires_at"))
    if info.get("revoked") is True:
        raise _refuse("the token has been revoked")
    if expires_at is not None and expires_at <= today:
        raise _refuse(f"the token expired on {expires_at.isoformat()}")
    if info.get("active") is False:
        raise _refuse("the token is not active (revoked or expired)")
    if "api" not in scopes:
        raise _refuse(f"token scopes are {', '.join(scopes) or 'none'}; the api scope is required")
    warnings: list[str] = []
    if expires_at is not None and (expires_at - today).days <= warning_days:
        days = (expires_at - today).days
        warnings.append(
            f"the token expires on {expires_at.isoformat()} (in {days} day{'s' * (days != 1)}); "
            "renew it and update the binding to keep builds working"
        )
    return scopes, expires_at, warnings


def check_binding(
    root: RootUrl, conn: Connection, username: str, warning_days: int, today: dt.date
) -> Binding:
    with conn.session() as session:
        api_version, answer = probe_user(session, root, conn)
        conn = replace(conn, api_version=api_version)
        user = as_dict(answer, "/user")
        actual = field_str(user, "username", "/user")
        if actual.casefold() != username.strip().casefold():
            raise _refuse(f"the token belongs to user {actual}, not {username.strip()}")
        scopes, expires_at, warnings = check_token(rest_over(session, conn), warning_days, today)
    return Binding(
        provider="gitlab",
        url=root.url,
        api_url=conn.api_url,
        api_version=api_version,
        username=actual,
        user_id=field_str(user, "id", "/user"),
        scopes=scopes,
        expires_at=expires_at,
        warnings=tuple(warnings),
    )
