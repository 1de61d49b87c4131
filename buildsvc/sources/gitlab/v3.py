"""API v3 transport for GitLab 8-10, which python-gitlab (v4 only) cannot talk to.

It raises python-gitlab's own exception classes for HTTP errors and unparsable bodies,
so ``sources/failures.py`` maps v3 and v4 answers the same way. Pagination follows the
``Link: rel="next"`` header (``X-Next-Page`` as a fallback) and, like python-gitlab with
``keep_base_url``, always requests the next page under the URL we checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabHttpError, GitlabParsingError

from buildsvc.sources.failures import UnexpectedAnswer
from buildsvc.sources.gitlab.rest import PER_PAGE

MAX_PAGES = 10_000  # a loop guard against a server that always answers "next"


def error_message(response: requests.Response) -> str | bytes:
    try:
        body = response.json()
    except ValueError:
        return response.content
    if isinstance(body, dict):
        for key in ("message", "error"):
            if key in body:
                return str(body[key])
    return response.content


class V3Calls:
    def __init__(self, session: requests.Session, api_url: str, token: str, timeout: float) -> None:
        self._session = session
        self._api_url = api_url
        self._headers = {"PRIVATE-TOKEN": token, "User-Agent": "buildsvc"}
        self._timeout = timeout

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> requests.Response:
        response = self._session.request(
            method, url, params=params, json=data, headers=self._headers, timeout=self._timeout
        )
        if response.status_code == 401:
            raise GitlabAuthenticationError(
                error_message(response), response.status_code, response.content
            )
        if not 200 <= response.status_code < 300:
            raise GitlabHttpError(error_message(response), response.status_code, response.content)
        return response

    @staticmethod
    def _json(response: requests.Response) -> object:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise GitlabParsingError("Failed to parse the server message") from exc

    def get(self, path: str, params: dict[str, Any] | None = None) -> object:
        return self._json(self._request("GET", self._api_url + path, params=params))

    def post(self, path: str, data: dict[str, Any]) -> object:
        return self._json(self._request("POST", self._api_url + path, data=data))

    def delete(self, path: str) -> None:
        self._request("DELETE", self._api_url + path)

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[object]:
        url: str | None = self._api_url + path
        query: dict[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._request("GET", url, params=query)
            page = self._json(response)
            if not isinstance(page, list):
                raise UnexpectedAnswer("answered a list request with JSON that is not a list")
            yield from page
            url, query = self._next(response)

    def _next(self, response: requests.Response) -> tuple[str | None, dict[str, Any] | None]:
        """The next page's URL (under the API URL we checked) and query, or (None, None)."""
        ours = urlsplit(self._api_url)
        link = response.links.get("next", {}).get("url")
        if link:
            theirs = urlsplit(link)
            query: dict[str, Any] = dict(parse_qsl(theirs.query))
        elif response.headers.get("X-Next-Page", "").strip().isdigit():
            theirs = urlsplit(response.url)
            query = {**dict(parse_qsl(theirs.query)), "page": response.headers["X-Next-Page"]}
        else:
            return None, None
        marker = theirs.path.find("/api/v3/")
        path = ours.path + theirs.path[marker + len("/api/v3") :] if marker >= 0 else None
        if path is None:
            return None, None
        return urlunsplit((ours.scheme, ours.netloc, path, "", "")), query
