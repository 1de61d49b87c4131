"""One registry's HTTP API v2, asynchronously, as far as copying images needs it.

``RegistryClient`` answers the registry's challenge (HTTP Basic, or a bearer token from
its token service for the scopes a request needs) and is the one boundary where aiohttp
failures and error answers become ``CopyFailed`` errors: no answer, 5xx or 429 is
``RegistryUnreachable`` (retried), any other error status is ``RegistryRefused`` carrying
the registry's own error code.

It is not the worker's ``RegistrySession``: that one is blocking (requests, used from the
docker SDK's threads) and raises the worker's push errors; replication sits below the
worker and streams blobs between two registries on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from buildsvc.registry_challenge import basic_authorization, parse_challenge
from buildsvc.replication.errors import (
    CopyFailed,
    DestinationNotAllowed,
    RegistryRefused,
    RegistryUnreachable,
)
from buildsvc.sources import ForbiddenAddress

__all__ = ["Endpoint", "Minted", "RegistryClient", "TokenSource"]

TOKEN_LIFETIME_SECONDS = 60  # the token spec's default when the answer names none


@dataclass(frozen=True, slots=True)
class Minted:
    token: str
    expires_in: int  # seconds


# Mints a bearer token for a request's scopes itself, instead of asking the token service
# (the service's own registry, whose signing key we hold: see replication.source).
TokenSource = Callable[[Sequence[str]], Minted]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a registry's API answers and who we are there."""

    url: str  # scheme://host[:port], no path
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tokens: TokenSource | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return URL(self.url).raw_authority


class RegistryClient:
    """Requests to one registry, authorized per set of repository scopes."""

    def __init__(self, endpoint: Endpoint, session: aiohttp.ClientSession) -> None:
        self.endpoint = endpoint
        self._session = session
        self._base = URL(endpoint.url)
        self._basic = False  # the registry asked for Basic once: send it every time
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str],
        allow: Collection[int] = (),
        replayable: bool = True,
        **kwargs: Any,
    ) -> aiohttp.ClientResponse:
        """The (unread) answer to ``method path``; release it. An error status raises
        unless ``allow`` has it. A body that cannot be sent twice (``replayable`` False)
        goes out only once the scopes are authorized."""
        # encoded: an upload Location's ``_state`` must go back exactly as it came
        absolute = path.startswith(("http://", "https://"))
        url = URL(path, encoded=True) if absolute else self._base.join(URL(path, encoded=True))
        key = tuple(sorted(scopes))
        response = await self._send(method, url, key, **kwargs)
        if response.status == 401 and replayable:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.release()
            if await self._authenticate(challenge, key):
                response = await self._send(method, url, key, **kwargs)
        if response.status >= 400 and response.status not in allow:
            raise await _failure(response, f"{method} {url.path}")
        return response

    async def authorize(self, scopes: Sequence[str]) -> None:
        """Make sure requests for ``scopes`` carry working credentials (before a
        request whose streamed body cannot be replayed after a 401)."""
        response = await self.request("GET", "/v2/", scopes=scopes, allow=(401,))
        response.release()
        if response.status == 401:  # /v2/ wants no repository scope: ask with ours
            raise RegistryRefused(
                detail="the registry refused the credentials", registry_code="UNAUTHORIZED"
            )

    def _header(self, key: tuple[str, ...]) -> str | None:
        if self._basic:
            return self._basic_header()
        token = self._tokens.get(key)
        if token is not None and token[1] > time.monotonic():
            return token[0]
        return None

    def _basic_header(self) -> str:
        return basic_authorization(self.endpoint.username or "", self.endpoint.password or "")

    async def _send(
        self, method: str, url: URL, key: tuple[str, ...], **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        authorization = self._header(key)
        if authorization and url.origin() == self._base.origin():  # never to another host
            headers["Authorization"] = authorization
        try:
            return await self._session.request(
                method, url, headers=headers, allow_redirects=False, **kwargs
            )
        except ForbiddenAddress as exc:
            raise DestinationNotAllowed(detail=str(exc)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RegistryUnreachable(
                detail=f"{self.endpoint.host}: {type(exc).__name__}: {exc}",
                registry_code="UNREACHABLE",
            ) from exc

    async def _authenticate(self, header: str, key: tuple[str, ...]) -> bool:
        challenge = parse_challenge(header)
        if self.endpoint.tokens is not None and challenge.scheme == "bearer":
            minted = self.endpoint.tokens(key)
            expires = time.monotonic() + max(minted.expires_in - 10, 0)
            self._tokens[key] = (f"Bearer {minted.token}", expires)
            return True
        if self.endpoint.username is None:
            return False
        if challenge.scheme == "basic":
            self._basic = True
            return True
        if challenge.scheme != "bearer" or challenge.realm is None:
            return False
        query: list[tuple[str, str]] = [("scope", scope) for scope in key]
        if challenge.service:
            query.append(("service", challenge.service))
        realm = challenge.realm
        token_url = URL(realm).extend_query(query)
        headers = {"Authorization": self._basic_header()}
        try:
            async with self._session.get(token_url, headers=headers) as answer:
                if answer.status >= 400:
                    raise await _failure(answer, "token service")
                body = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise RegistryUnreachable(
                detail=f"token service: {type(exc).__name__}: {exc}", registry_code="UNREACHABLE"
            ) from exc
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryRefused(detail="the token service answered without a token")
        lifetime = float(body.get("expires_in") or TOKEN_LIFETIME_SECONDS)
        self._tokens[key] = (f"Bearer {token}", time.monotonic() + max(lifetime - 10, 0))
        return True


async def _failure(response: aiohttp.ClientResponse, what: str) -> CopyFailed:
    """The error an error answer means, with the registry's own code and words."""
    code: str | None = None
    try:
        text = await response.text()
        errors = (await response.json(content_type=None) or {}).get("errors") or []
        if errors:
            code = str(errors[0].get("code"))
            text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (aiohttp.ClientError, ValueError, AttributeError, TimeoutError):
        text = response.reason or ""
    finally:
        response.release()
    detail = f"{what}: {response.status} {text.strip()[:300]}"
    if response.status >= 500 or response.status == 429:
        return RegistryUnreachable(detail=detail, registry_code=code or f"HTTP_{response.status}")
    return RegistryRefused(detail=detail, registry_code=code or f"HTTP_{response.status}")


async def iter_body(response: aiohttp.ClientResponse, chunk: int) -> AsyncIterator[bytes]:
    """``response``'s body in chunks; a broken stream is ``RegistryUnreachable``."""
    try:
        async for data in response.content.iter_chunked(chunk):
            yield data
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RegistryUnreachable(
            detail=f"reading a blob: {type(exc).__name__}: {exc}", registry_code="UNREACHABLE"
        ) from exc
