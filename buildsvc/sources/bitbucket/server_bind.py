"""The Bitbucket Server / Data Center binding checks, as one blocking function.

1. The instance: ``{url}/rest/api/1.0/application-properties`` must answer as Bitbucket
   does (JSON with a ``version``). A URL with a path is a context path
   (``https://host/bitbucket``), kept only if the API answers under it.
2. The user: ``/users/{slug}`` must exist, and the HTTP access token (sent as Bearer)
   must belong to them: the server names the token's owner in ``X-AUSERNAME``.
   Expired, revoked and unknown tokens answer 401.
3. HTTP access tokens carry permissions the API does not report: the binding warns, and
   a webhook that the token may not create fails with a clear detail when linking.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from buildsvc.errors import SourceErrorResponse
from buildsvc.sources.base import Binding
from buildsvc.sources.bitbucket.rest import Calls, Connection, open_calls
from buildsvc.sources.common import as_dict, field_str
from buildsvc.sources.failures import UnexpectedAnswer
from buildsvc.sources.urls import RootUrl, invalid_url

PERMISSIONS_UNVERIFIED = (
    "Bitbucket Server does not report an HTTP access token's permissions; linking a "
    "repository needs Repository admin (to create its webhook), which is checked then"
)


def _refuse(detail: str) -> SourceErrorResponse:
    return SourceErrorResponse(detail=detail, status=422)


def probe_instance(calls: Calls, root: RootUrl) -> None:
    """Raise unless a Bitbucket Server API answers under ``root``."""
    nothing = f"no Bitbucket Server API answers under {root.url}"
    try:
        answer = calls.get("/application-properties")
    except UnexpectedAnswer:
        if root.needs_probe:
            raise invalid_url(nothing, "bitbucket-server") from None
        raise
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 404:
            raise
        if root.needs_probe:
            raise invalid_url(nothing, "bitbucket-server") from None
        raise _refuse(f"{nothing}; is this the instance root URL?") from None
    if not isinstance(answer, dict) or "version" not in answer:
        if root.needs_probe:
            raise invalid_url(nothing, "bitbucket-server")
        raise _refuse(f"{nothing}; is this the instance root URL?")


def check_binding(root: RootUrl, conn: Connection) -> Binding:
    entered = conn.username.strip()
    with open_calls(conn) as calls:
        probe_instance(calls, root)
        response = calls.request("GET", f"/users/{quote(entered.lower(), safe='')}")
        user = as_dict(response.json(), "a user")
    actual = field_str(user, "name", "a user")
    owner = response.headers.get("X-AUSERNAME") or actual
    if owner.casefold() != entered.casefold():
        raise _refuse(f"the token belongs to user {owner}, not {entered}")
    return Binding(
        provider="bitbucket-server",
        url=root.url,
        api_url=conn.api_url,
        api_version="1.0",
        username=actual,
        user_id=field_str(user, "id", "a user"),
        scopes=(),
        expires_at=None,  # not reported; an expired token answers 401
        warnings=(PERMISSIONS_UNVERIFIED,),
    )
