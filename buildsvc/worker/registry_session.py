"""One repository of a registry, over the Docker Registry HTTP API v2 (blocking).

``RegistrySession`` sends requests authenticated the way the registry's challenge asks:
HTTP Basic, or a bearer token from the registry's token service, remembered per
repository and user while it lives. Refusals map to the push errors of
``buildsvc.worker.errors`` (5xx and network failures are ``RegistryUnavailable``: the
caller retries them). ``registry_labels`` rewrites configs with it and
``registry_forget`` deletes what a rewrite superseded.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import parse_http_list, parse_keqv_list

import requests

from buildsvc.worker.errors import (
    RegistryDenied,
    RegistryError,
    RegistryUnauthorized,
    RegistryUnavailable,
)

__all__ = [
    "ImageRef",
    "RegistryLogin",
    "RegistrySession",
    "api_host",
    "registry_is_insecure",
]


@dataclass(frozen=True, slots=True)
class RegistryLogin:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class ImageRef:
    """``registry/repository`` and the tags pushed there (``127.0.0.1:5000/acme/app``)."""

    registry: str
    repository: str
    tags: tuple[str, ...]

    @classmethod
    def from_tags(cls, tags: Sequence[str]) -> ImageRef:
        """Split pushed references (``host[:port]/path:tag``, one repository) into parts."""
        names: set[str] = set()
        bare: list[str] = []
        for tag in tags:
            name, _, label = tag.rpartition(":")
            if not name or "/" in label:  # no tag part: the colon belonged to the port
                name, label = tag, "latest"
            names.add(name)
            bare.append(label)
        if len(names) != 1:
            raise RegistryError(detail=f"the tags name more than one repository: {sorted(names)}")
        registry, _, repository = names.pop().partition("/")
        if not repository:
            raise RegistryError(detail=f"{tags[0]} names no registry host")
        return cls(registry, repository, tuple(bare))


# Docker Hub's name in image references is not where its registry API answers.
_API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}


def api_host(registry: str) -> str:
    """Where ``registry`` (as image references name it) serves the registry HTTP API."""
    return _API_HOSTS.get(registry, registry)


def registry_is_insecure(daemon_info: Mapping[str, Any], registry: str) -> bool:
    """Whether the Docker engine talks plain HTTP to ``registry`` (its insecure list).

    The engine treats 127.0.0.0/8 and ``--insecure-registry`` entries as insecure; the
    worker reaches the registry the way its engine just pushed to it.
    """
    config = daemon_info.get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(registry)
    if isinstance(index, dict) and "Secure" in index:
        return not index["Secure"]
    host = urlsplit(f"//{registry}").hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(cidr, strict=False)
        for cidr in config.get("InsecureRegistryCIDRs") or ()
    )


# Authorization headers that worked, per (registry URL, repository, user, actions), with the
# monotonic time they expire: a build's first request then needs no 401 round trip.
_AUTHORIZED: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_REMEMBERED_MAX = 256  # past this many, lapsed headers go (each build logs in anew)
TOKEN_LIFETIME_SECONDS = 60  # the token spec's default when the answer gives none


def _remember(key: tuple[str, str, str, str], authorization: str, expires: float) -> None:
    if len(_AUTHORIZED) >= _REMEMBERED_MAX:
        now = time.monotonic()
        # Builds' threads share the dict: a copy to look through (list() of a dict's
        # items is one step under the GIL), pop() for a key another thread dropped.
        for lapsed in [k for k, (_, until) in list(_AUTHORIZED.items()) if until <= now]:
            _AUTHORIZED.pop(lapsed, None)
    _AUTHORIZED[key] = (authorization, expires)


DOCKER_CERTS = Path("/etc/docker/certs.d")


def _verify(registry: str) -> str | bool:
    """The CA the engine trusts for ``registry`` (``certs.d/<host>/ca.crt``), else the system's."""
    ca = DOCKER_CERTS / registry / "ca.crt"
    return str(ca) if ca.is_file() else True


class RegistrySession:
    """Requests to one repository, authenticated the way the registry's challenge asks.

    A token service is asked for ``actions`` on the repository (Distribution wants
    ``delete`` for a DELETE; a service grants what it allows of what is asked).
    """

    def __init__(
        self,
        ref: ImageRef,
        login: RegistryLogin | None,
        *,
        insecure: bool,
        timeout: float,
        actions: str = "pull,push",
    ) -> None:
        self._base = f"{'http' if insecure else 'https'}://{api_host(ref.registry)}"
        self._path = f"/v2/{ref.repository}/"
        self._repository = ref.repository
        self._login = login
        self._timeout = timeout
        self._session = requests.Session()
        self._session.verify = _verify(ref.registry)
        self._actions = actions  # a token service grants these, for this repository
        self._key = (self._base, ref.repository, login.username if login else "", actions)
        self._authorization: str | None = None
        self._expires = math.inf
        self._renewing = threading.Lock()
        cached = _AUTHORIZED.get(self._key)
        if login is not None and cached is not None and cached[1] > time.monotonic():
            self._authorization = cached[0]

    @property
    def authorized(self) -> bool:
        """Whether requests go out with a working header (or need none): then they may go
        out side by side, not each one answering its own 401."""
        return self._login is None or self._authorization is not None

    def close(self) -> None:
        self._session.close()

    def authorize(self) -> None:
        """Log in now (``GET /v2/``), so that later sessions for the same repository and
        login start with a working header instead of a 401 and a token request."""
        if not self.authorized:
            self.request("GET", "/v2/")

    def request(
        self, method: str, path: str, *, allow: Collection[int] = (), **kwargs: Any
    ) -> requests.Response:
        """The answer to ``method path``; an error status raises, unless ``allow`` has it."""
        if "://" not in path:  # relative to the repository, or to the host (Location)
            path = self._base + (path if path.startswith("/") else self._path + path)
        url = path
        sent_with = self._authorization
        response = self._send(method, url, **kwargs)
        if response.status_code == 401:
            with self._renewing:  # requests side by side renew the header once
                renewed = self._authorization not in (None, sent_with)
                if renewed or self._authenticate(response):
                    response = self._send(method, url, **kwargs)
                    if response.status_code != 401:
                        _remember(self._key, self._authorization or "", self._expires)
        if response.status_code not in allow:
            _raise_for(response, f"{method} {urlsplit(url).path}")
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self._authorization:
            headers["Authorization"] = self._authorization
        try:
            return self._session.request(
                method, url, headers=headers, timeout=self._timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise RegistryUnavailable(detail=f"{type(exc).__name__}: {exc}") from exc

    def _authenticate(self, challenge: requests.Response) -> bool:
        """Answer a 401: HTTP Basic, or a bearer token from the registry's token service."""
        if self._login is None:
            return False
        _AUTHORIZED.pop(self._key, None)  # a remembered header that no longer works
        self._authorization = None
        self._expires = math.inf
        scheme, _, params = challenge.headers.get("WWW-Authenticate", "").partition(" ")
        pair = f"{self._login.username}:{self._login.password}".encode()
        basic = "Basic " + base64.b64encode(pair).decode()
        if scheme.lower() == "basic":
            self._authorization = basic
            return True
        if scheme.lower() != "bearer":
            return False
        info = parse_keqv_list(parse_http_list(params))
        realm = info.get("realm")
        if not realm:
            return False
        query = {"scope": f"repository:{self._repository}:{self._actions}"}
        if info.get("service"):
            query["service"] = info["service"]
        parts = urlsplit(realm)
        joined = "&".join(filter(None, (parts.query, urlencode(query))))
        token_url = urlunsplit(parts._replace(query=joined))
        try:
            answer = self._session.get(
                token_url, headers={"Authorization": basic}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise RegistryUnavailable(detail=f"token service: {type(exc).__name__}: {exc}") from exc
        _raise_for(answer, "token service")
        try:
            body = answer.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or TOKEN_LIFETIME_SECONDS)
        except (ValueError, AttributeError, TypeError, RecursionError):
            token, lifetime = None, 0.0
        if not isinstance(token, str) or not token:
            raise RegistryError(detail="the registry's token service answered without a token")
        self._authorization = f"Bearer {token}"
        self._expires = time.monotonic() + max(lifetime - 10, 0)  # renewed before it lapses
        return True


def _raise_for(response: requests.Response, what: str) -> None:
    if response.status_code < 400:
        return
    detail = f"{what}: {response.status_code} {_error_text(response)}"
    if response.status_code == 401:
        raise RegistryUnauthorized(detail=detail)
    if response.status_code == 403:
        raise RegistryDenied(detail=detail)
    if response.status_code >= 500 or response.status_code == 429:
        raise RegistryUnavailable(detail=detail)
    raise RegistryError(detail=detail)


def _error_text(response: requests.Response) -> str:
    """The registry's own error words (``{"errors": [{"code", "message"}]}``), short."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError, RecursionError):
        text = response.text
    return (text or response.reason or "").strip()[:300]
