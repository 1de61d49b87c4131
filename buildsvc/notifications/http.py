"""Sending one request to a target, with the same address policy as source URLs.

``check_url`` refuses a URL at creation (its scheme, and every address its host resolves
to); ``post`` checks again when it connects and connects to the checked address
(``sources.transport.PinnedAdapter``), so a DNS answer changed since creation cannot
reach a refused network. No proxies from the environment (they would hide the real
destination) and no redirects (a 3xx is a failed attempt). Errors are described without
the URL: a Slack URL carries its token.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from buildsvc.notifications.errors import TargetUrlInvalid, TargetUrlNotAllowed
from buildsvc.sources import AddressPolicy, ForbiddenAddress, PinnedAdapter, resolve_checked


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: the answer's status (None: no answer), its time, what went wrong."""

    status: int | None
    milliseconds: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def display_url(url: str) -> str:
    """The URL without what may be secret: credentials, query, and a path's tail."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    path = parts.path
    if len(path) > 12:
        path = path[:12] + "…"
    return f"{parts.scheme}://{host}{port}{path}"


async def check_url(url: str, policy: AddressPolicy) -> None:
    """Refuse a target URL that is not http(s) or whose host resolves where we may not go."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetUrlInvalid(detail=f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetUrlInvalid(detail="the URL must be http:// or https:// with a host")
    try:
        await asyncio.to_thread(resolve_checked, parts.hostname, port, policy)
    except ForbiddenAddress as exc:
        raise TargetUrlNotAllowed(detail=str(exc)) from None
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUrlInvalid(detail=f"{parts.hostname} does not resolve: {exc}") from None


def _session(policy: AddressPolicy) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, .netrc or CA bundle from the environment
    adapter = PinnedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _described(exc: Exception, timeout: float) -> str:
    if isinstance(exc, ForbiddenAddress):
        return f"refused by the address policy: {exc.host} resolves to {exc.address}"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection failed (refused, reset or DNS)"
    return f"the request failed ({type(exc).__name__})"


def _post(
    url: str, body: bytes, headers: dict[str, str], policy: AddressPolicy, timeout: float
) -> Outcome:
    started = time.monotonic()
    try:
        with _session(policy) as session:
            response = session.post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,  # the answer's body is never read: a huge one costs nothing
            )
            response.close()
    except (requests.RequestException, ForbiddenAddress) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(None, elapsed, _described(exc, timeout))
    elapsed = int((time.monotonic() - started) * 1000)
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, elapsed)
    return Outcome(response.status_code, elapsed, f"answered {response.status_code}")


async def post(
    url: str, body: bytes, headers: dict[str, str], policy: AddressPolicy, seconds: float
) -> Outcome:
    """POST ``body``; never raises for what the target or the network does."""
    # requests' own timeout bounds it (per connect and read): the thread cannot be cancelled.
    return await asyncio.to_thread(_post, url, body, headers, policy, seconds)
