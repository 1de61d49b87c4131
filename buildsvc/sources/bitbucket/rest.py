"""Bitbucket Cloud and Server REST calls through atlassian-python-api, over our transport.

The atlassian clients (``atlassian.bitbucket.Cloud``, ``atlassian.Bitbucket``) get our
``GuardedSession`` (address policy per connection, no proxies, non-JSON 2xx refused)
and are tuned for a service: no backoff, no sleeping out ``Retry-After``, a float
timeout (their constructor truncates it to whole seconds).

We use their request layer (auth, URL joining, error parsing in ``raise_for_status``),
not their object model: its objects follow the ``links.self`` URLs the server sends,
with our credentials. Here every URL is built under the API URL we checked, and
Cloud's ``next`` page links are re-rooted under it too (like python-gitlab's
``keep_base_url``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests
from atlassian import Bitbucket
from atlassian.bitbucket.cloud import Cloud

from buildsvc.sources.failures import Context, UnexpectedAnswer
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import GuardedSession

# atlassian's DEBUG lines print each request as a curl command with its body (a hook's
# secret) and each answer's text: dropped.
logging.getLogger("atlassian.rest_client").addFilter(lambda record: record.levelno > logging.DEBUG)

T = TypeVar("T")
PAGE_SIZE = 100
MAX_PAGES = 10_000  # a loop guard against a server that always has a next page
Flavour = Literal["cloud", "server"]


@dataclass(frozen=True, slots=True)
class Connection:
    flavour: Flavour
    root_url: str  # what the user typed, normalised: https://bitbucket.org, https://host/bb
    api_url: str  # https://api.bitbucket.org/2.0, https://host/bb/rest/api/1.0
    username: str
    token: str = field(repr=False)
    bearer: bool  # Authorization: Bearer token; else HTTP Basic username:token
    policy: AddressPolicy
    timeout: float
    ca_file: str | None = None

    @property
    def forge(self) -> str:
        return "Bitbucket" if self.flavour == "cloud" else "Bitbucket Server"

    def context(
        self, *, status: int | None = None, details: Mapping[int, str] | None = None
    ) -> Context:
        return Context(
            forge=self.forge,
            address=urlsplit(self.api_url).netloc,
            secrets=(self.token,),
            timeout=self.timeout,
            status=status,
            details=details or {},
        )


class Calls:
    """JSON calls relative to the API URL; 4xx/5xx raise ``requests.HTTPError``."""

    def __init__(self, client: Any, conn: Connection) -> None:
        self._client = client
        self._conn = conn

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, data: Any = None
    ) -> requests.Response:
        response: requests.Response = self._client.request(
            method,
            f"{self._conn.api_url}{path}",
            params=params,
            json=data,
            absolute=True,
            advanced_mode=True,  # the raw response: we raise and parse ourselves
            allow_redirects=False,  # Bitbucket's API does not redirect; a proxy might
        )
        if response.is_redirect:
            moved = urlsplit(response.headers.get("Location", "")).netloc or "elsewhere"
            raise UnexpectedAnswer(f"redirected the request to {moved}; enter the URL it uses")
        if response.status_code >= 400 and "json" not in response.headers.get("Content-Type", ""):
            response.raise_for_status()  # atlassian would log its JSON parse error first
        self._client.raise_for_status(response)
        return response

    def get(self, path: str, params: dict[str, Any] | None = None) -> object:
        return _json(self.request("GET", path, params=params))

    def post(self, path: str, data: Any) -> object:
        return _json(self.request("POST", path, data=data))

    def put(self, path: str, data: Any) -> object:
        return _json(self.request("PUT", path, data=data))

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def find(self, path: str, parse: Callable[[object], T]) -> T | None:
        """``parse(get(path))``, or None when the object does not exist (404)."""
        try:
            answer = self.get(path)
        except requests.HTTPError as exc:
            if status_of(exc) == 404:
                return None
            raise
        return parse(answer)

    def delete_if_present(self, path: str) -> None:
        """``delete``; an object already gone (404) is not an error."""
        try:
            self.delete(path)
        except requests.HTTPError as exc:
            if status_of(exc) != 404:
                raise

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[object]:
        """Every item of a paged list: Cloud follows ``next``, Server ``nextPageStart``."""
        if self._conn.flavour == "cloud":
            return self._cloud_pages(path, {**(params or {}), "pagelen": PAGE_SIZE})
        return self._server_pages(path, {**(params or {}), "limit": PAGE_SIZE})

    def _cloud_pages(self, path: str, params: dict[str, Any]) -> Iterator[object]:
        query: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            page = _page(self.get(path, query))
            yield from _values(page)
            following = page.get("next")
            if not following:
                return
            path, query = self._under_api(str(following))

    def _under_api(self, link: str) -> tuple[str, dict[str, Any]]:
        """A ``next`` link's path below the API root and its query, whatever its host."""
        theirs = urlsplit(link)
        version = "/" + self._conn.api_url.rsplit("/", 1)[-1] + "/"  # "/2.0/"
        marker = theirs.path.find(version)
        if marker < 0:
            raise UnexpectedAnswer("answered a next-page link outside its API")
        return theirs.path[marker + len(version) - 1 :], dict(parse_qsl(theirs.query))

    def _server_pages(self, path: str, params: dict[str, Any]) -> Iterator[object]:
        start = 0
        for _ in range(MAX_PAGES):
            page = _page(self.get(path, {**params, "start": start}))
            yield from _values(page)
            following = page.get("nextPageStart")
            if page.get("isLastPage", True) or not isinstance(following, int):
                return
            if following <= start:
                raise UnexpectedAnswer("answered a next page that does not move forward")
            start = following


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a ``requests.HTTPError`` (what ``Calls`` raises), else None."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


def _json(response: requests.Response) -> object:
    return response.json() if response.content else None


def _page(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UnexpectedAnswer("answered a list request with JSON that is not a page")
    return data


def _values(page: dict[str, Any]) -> list[object]:
    values = page.get("values", [])
    if not isinstance(values, list):
        raise UnexpectedAnswer("answered a page whose values are not a list")
    return values


def _client(conn: Connection, session: GuardedSession) -> Any:
    auth: dict[str, Any] = (
        {"token": conn.token}
        if conn.bearer
        else {"username": conn.username, "password": conn.token}
    )
    options: dict[str, Any] = {
        "session": session,
        "timeout": max(1, int(conn.timeout)),
        "backoff_and_retry": False,
        "retry_with_header": False,  # would sleep out a 429's Retry-After in our thread
        **auth,
    }
    # atlassian's constructors are untyped; the clients are used through ``Calls`` only.
    factory: Any = Cloud if conn.flavour == "cloud" else Bitbucket
    if conn.flavour == "cloud":
        client = factory(url=conn.api_url.removesuffix("/2.0"), **options)
    else:
        client = factory(url=conn.root_url, cloud=False, **options)
    client.timeout = conn.timeout  # the constructor keeps int(timeout) only
    return client


@contextmanager
def open_calls(conn: Connection) -> Iterator[Calls]:
    with GuardedSession(conn.policy, conn.ca_file) as session:
        yield Calls(_client(conn, session), conn)
