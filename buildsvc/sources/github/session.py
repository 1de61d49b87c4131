"""How one GitHub operation reaches the API: PyGithub over our ``GuardedSession``.

PyGithub's defaults suit scripts, not a service: it sleeps 0.25 s before every request
and 1 s before every write, retries up to 10 times with backoff and builds its own
``requests`` sessions (with ``trust_env``, so environment proxies apply). Here:

- no sleeps (``seconds_between_requests/writes=None``) and no retries: a call is one
  request, bounded by the timeout, and the caller decides what a failure means;
- ``per_page=100``, so a listing of 250 repositories is three requests;
- its connection classes are replaced, on this ``Requester`` only, by
  ``PinnedConnection``, which sends through ``GuardedSession``: the address policy is
  checked on every connection (DNS rebinding), no proxies, non-JSON 2xx refused. A
  redirect to another origin and a 202 on a read (PyGithub would sleep and retry it
  forever) are refused instead of followed. If PyGithub renames the private attributes
  this relies on, ``open_github`` fails closed (RuntimeError) rather than send requests
  around the policy.

Each operation opens a ``Github`` and closes it when done (``open_github``). Never call
``Github.withLazy``/``withAuth`` or pass ``lazy=`` to a getter: they build a fresh,
unpinned ``Requester``.

PyGithub's DEBUG log lines carry request bodies (a hook's secret); they are dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from github import Auth, Github
from github.Requester import Requester, RequestsResponse

from buildsvc.sources.failures import Context, UnexpectedAnswer
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import GuardedSession
from buildsvc.sources.urls import RootUrl, invalid_url

PER_PAGE = 100
GITHUB_COM = "https://github.com"
GITHUB_COM_API = "https://api.github.com"
_GITHUB_COM_HOSTS = ("github.com", "www.github.com", "api.github.com")
_CONNECTION_ATTRIBUTES = (
    "_Requester__connectionClass",
    "_Requester__httpConnectionClass",
    "_Requester__httpsConnectionClass",
)


logging.getLogger("github.Requester").addFilter(lambda record: record.levelno > logging.DEBUG)


def root_and_api(root: RootUrl) -> tuple[str, str]:
    """(instance root, API base): github.com -> api.github.com, Enterprise -> /api/v3."""
    if root.host in _GITHUB_COM_HOSTS:
        if root.path:
            raise invalid_url(f"this is a page on github.com ({root.path})", "github")
        return GITHUB_COM, GITHUB_COM_API
    if root.path:
        # GitHub Enterprise Server is always served at the root of its host name.
        raise invalid_url(f"this looks like a page of the instance ({root.path})", "github")
    return root.url, f"{root.url}/api/v3"


@dataclass(frozen=True, slots=True)
class Connection:
    root_url: str
    api_url: str
    token: str = field(repr=False)
    policy: AddressPolicy
    timeout: float
    ca_file: str | None = None

    def context(
        self, *, status: int | None = None, details: Mapping[int, str] | None = None
    ) -> Context:
        return Context(
            forge="GitHub",
            address=urlsplit(self.api_url).netloc,
            secrets=(self.token,),
            timeout=self.timeout,
            status=status,
            details=details or {},
        )


class PinnedConnection:
    """PyGithub's connection duck type (``request``, ``getresponse``, ``close``)."""

    def __init__(self, conn: Connection, scheme: str, host: str, port: int | None = None) -> None:
        self._conn = conn
        self._session = GuardedSession(conn.policy, conn.ca_file)
        self.protocol = scheme
        self.host = host  # PyGithub compares it to decide whether to reuse the connection
        self.port = port or (443 if scheme == "https" else 80)
        self._request: tuple[str, str, Any, dict[str, str], bool] | None = None

    def request(
        self, verb: str, url: str, input: Any, headers: dict[str, str], stream: bool = False
    ) -> None:
        self._request = (verb, url, input, headers, stream)

    def getresponse(self) -> RequestsResponse:
        if self._request is None:
            raise RuntimeError("getresponse() before request()")
        verb, path, body, headers, stream = self._request
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        origin = f"{self.protocol}://{netloc}:{self.port}"
        response = self._session.request(
            verb,
            origin + path,
            headers=headers,
            data=body,
            timeout=self._conn.timeout,
            allow_redirects=False,
            stream=stream,
        )
        if response.is_redirect:
            target = urlsplit(response.headers.get("Location", ""))
            if target.netloc and f"{target.scheme}://{target.netloc}" != origin:
                where = target.netloc
                raise UnexpectedAnswer(f"redirected to another address ({where})")
        if response.status_code == 202 and verb in ("GET", "HEAD"):
            raise UnexpectedAnswer("answered 202 Accepted (still processing); try again later")
        return RequestsResponse(response)

    def close(self) -> None:
        self._session.close()


def _pin(requester: Requester, conn: Connection) -> None:
    if not all(hasattr(requester, name) for name in _CONNECTION_ATTRIBUTES):
        raise RuntimeError("PyGithub's Requester changed; refusing to bypass the address policy")
    http = partial(PinnedConnection, conn, "http")
    https = partial(PinnedConnection, conn, "https")
    main = https if conn.api_url.startswith("https:") else http
    for name, factory in zip(_CONNECTION_ATTRIBUTES, (main, http, https), strict=True):
        setattr(requester, name, _accepting_extras(factory))


def _accepting_extras(factory: partial[PinnedConnection]) -> Any:
    """PyGithub passes retry/pool_size/timeout/verify: ours come from the Connection."""

    def make(host: str, port: int | None = None, **_ignored: Any) -> PinnedConnection:
        return factory(host, port)

    return make


@contextmanager
def open_github(conn: Connection) -> Iterator[Github]:
    gh = Github(
        auth=Auth.Token(conn.token),
        base_url=conn.api_url,
        timeout=math.ceil(conn.timeout),  # typed int; PinnedConnection uses the float
        user_agent="buildsvc",
        per_page=PER_PAGE,
        verify=conn.ca_file if conn.ca_file is not None else True,
        retry=0,
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=True,  # no GET of a repository just to POST to one of its endpoints
    )
    try:
        _pin(gh.requester, conn)
        yield gh
    finally:
        gh.close()
