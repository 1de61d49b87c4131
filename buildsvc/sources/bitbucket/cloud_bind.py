"""The Bitbucket Cloud binding checks, as one blocking function (run in a thread).

The API URL: ``https://bitbucket.org`` (also typed as www. or api.) uses
``https://api.bitbucket.org/2.0``; any other host is a stand-in (forgesim, a proxy)
serving the API at ``{url}/2.0``. Bitbucket Cloud lives at a host root: a path is a
workspace or repository page and is refused.

Credentials, tried in this order:

1. HTTP Basic ``username:token``: an app password with the Bitbucket username, or an
   Atlassian API token with the account's e-mail address (kept as the binding's
   username, since later API calls need it).
2. ``Authorization: Bearer token``: a repository, project or workspace access token
   (tried when Basic answers 401, or first when the username is ``x-token-auth``).

The binding's ``api_version`` records the scheme: ``2.0`` (Basic) or ``2.0-bearer``.
``X-OAuth-Scopes`` must include repository read and webhook; a Bitbucket that does not
send it is checked by a call that needs the repository scope, and the binding warns
that the webhook scope is checked when a repository is linked.
"""

from __future__ import annotations

from dataclasses import replace

import requests

from buildsvc.errors import SourceErrorResponse
from buildsvc.sources.base import Binding
from buildsvc.sources.bitbucket.rest import Connection, open_calls
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.urls import RootUrl, invalid_url

BITBUCKET_ORG = "https://bitbucket.org"
BITBUCKET_API = "https://api.bitbucket.org/2.0"
_HOSTS = ("bitbucket.org", "www.bitbucket.org", "api.bitbucket.org")
TOKEN_USERNAME = "x-token-auth"  # noqa: S105 - git's user name for access tokens
BEARER = "2.0-bearer"
REPOSITORY_SCOPES = frozenset(
    {
        "repository",
        "repository:write",
        "repository:admin",
        "pullrequest",
        "pullrequest:write",
        "read:repository:bitbucket",
        "write:repository:bitbucket",
        "admin:repository:bitbucket",
    }
)
WEBHOOK_SCOPES = frozenset({"webhook", "write:webhook:bitbucket"})
SCOPE_UNVERIFIED = (
    "Bitbucket did not report the credentials' scopes; the webhook scope is checked "
    "when you link a repository"
)


def root_and_api(root: RootUrl) -> tuple[str, str]:
    if root.path:
        raise invalid_url(f"this is a workspace or repository page ({root.path})", "bitbucket")
    if root.host in _HOSTS:
        return BITBUCKET_ORG, BITBUCKET_API
    return root.url, f"{root.url}/2.0"


def _refuse(detail: str) -> SourceErrorResponse:
    return SourceErrorResponse(detail=detail, status=422)


def _get_user(conn: Connection) -> tuple[dict[str, object], str | None]:
    with open_calls(conn) as calls:
        response = calls.request("GET", "/user")
        scopes = response.headers.get("X-OAuth-Scopes")
        user = as_dict(response.json(), "/user")
        if scopes is None:  # no header: try what listing repositories needs
            calls.get("/repositories", {"role": "member", "pagelen": 1})
    return user, scopes


def _authenticate(conn: Connection) -> tuple[Connection, dict[str, object], str | None]:
    """The connection (Basic or Bearer) that ``/user`` accepts, its user and scopes."""
    if conn.username.strip().lower() == TOKEN_USERNAME:
        bearer = replace(conn, bearer=True)
        return (bearer, *_get_user(bearer))
    try:
        return (conn, *_get_user(conn))
    except requests.HTTPError as basic_refused:
        if basic_refused.response is None or basic_refused.response.status_code != 401:
            raise
        bearer = replace(conn, bearer=True)
        try:
            return (bearer, *_get_user(bearer))
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 401:
                raise basic_refused from None  # neither way: report the usual one
            raise


def check_scopes(header: str | None) -> tuple[tuple[str, ...], list[str]]:
    if header is None:
        return (), [SCOPE_UNVERIFIED]
    scopes = tuple(s.strip() for s in header.split(",") if s.strip())
    if not REPOSITORY_SCOPES & set(scopes) or not WEBHOOK_SCOPES & set(scopes):
        have = ", ".join(scopes) or "none"
        raise _refuse(f"token scopes are {have}; the repository and webhook scopes are required")
    return scopes, []


def check_binding(conn: Connection) -> Binding:
    entered = conn.username.strip()
    conn, user, header = _authenticate(replace(conn, username=entered, bearer=False))
    actual = field_str(user, "username", "/user")
    checked_by_login = not conn.bearer and "@" in entered  # Bitbucket matched the e-mail
    named = entered.lower() != TOKEN_USERNAME and not checked_by_login
    if named and actual.casefold() != entered.casefold():
        raise _refuse(f"the credentials belong to user {actual}, not {entered}")
    scopes, warnings = check_scopes(header)
    return Binding(
        provider="bitbucket",
        url=conn.root_url,
        api_url=conn.api_url,
        api_version=BEARER if conn.bearer else "2.0",
        # Basic auth needs the login as typed later on (an e-mail for API tokens).
        username=entered if checked_by_login else actual,
        user_id=field_str(user, "uuid", "/user"),
        scopes=scopes,
        expires_at=None,  # Bitbucket Cloud does not report expiry; expired tokens get 401
        warnings=tuple(warnings),
    )
