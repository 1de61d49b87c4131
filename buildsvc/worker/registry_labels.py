"""Write labels into a pushed image's config in the registry (Docker Registry HTTP API v2).

The legacy builder spends a whole step on a ``LABEL`` line (a container created and
committed: ~0.15 s here, 15-20% of a small build), although a label is only a field of
the image config. So the worker builds and pushes the image as its Dockerfile says, then
rewrites the config in the registry the way ``crane mutate --label`` does: a new config
blob with the labels, and a manifest pointing at it over the very same layers (no layer
moves), put under every tag. For the few milliseconds in between, the tags name the
image without the labels; the registry's garbage collection removes that manifest.

Blocking (``requests``, as the docker SDK); the worker runs it in a thread. Registry
refusals map to the push errors of ``buildsvc.worker.errors`` (5xx and network failures
are ``RegistryUnavailable``: the caller retries them).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import ipaddress
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import parse_http_list, parse_keqv_list

import requests

from buildsvc.worker.docker_push import retry_transient
from buildsvc.worker.errors import (
    RegistryDenied,
    RegistryError,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from buildsvc.worker.streaming import LineCallback

__all__ = [
    "ImageRef",
    "RegistryLogin",
    "api_host",
    "label_image",
    "label_pushed_image",
    "registry_is_insecure",
]

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


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


# Authorization headers that worked, per (registry URL, repository, user), with the
# monotonic time they expire: a build's first request then needs no 401 round trip.
_AUTHORIZED: dict[tuple[str, str, str], tuple[str, float]] = {}
TOKEN_LIFETIME_SECONDS = 60  # the token spec's default when the answer gives none
DOCKER_CERTS = Path("/etc/docker/certs.d")


def _verify(registry: str) -> str | bool:
    """The CA the engine trusts for ``registry`` (``certs.d/<host>/ca.crt``), else the system's."""
    ca = DOCKER_CERTS / registry / "ca.crt"
    return str(ca) if ca.is_file() else True


class _Registry:
    """Requests to one repository, authenticated the way the registry's challenge asks."""

    def __init__(
        self, ref: ImageRef, login: RegistryLogin | None, *, insecure: bool, timeout: float
    ) -> None:
        self._base = f"{'http' if insecure else 'https'}://{api_host(ref.registry)}"
        self._path = f"/v2/{ref.repository}/"
        self._repository = ref.repository
        self._login = login
        self._timeout = timeout
        self._session = requests.Session()
        self._session.verify = _verify(ref.registry)
        self._key = (self._base, ref.repository, login.username if login else "")
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

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
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
                        _AUTHORIZED[self._key] = (self._authorization or "", self._expires)
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
        query = {"scope": f"repository:{self._repository}:pull,push"}
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


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _masked(config: dict[str, Any], secrets: Sequence[str]) -> dict[str, Any] | None:
    """``config`` with ``secrets`` replaced by ``****`` wherever they appear; None when
    none does.

    Both builders record the build args a RUN step used in the image config: its history
    entry (``RUN |1 API_KEY=value /bin/sh -c ...``) and, with the legacy builder, the
    last step's ``container_config``. A secret build arg would ship with the image for
    anyone to read with ``docker history`` or ``docker inspect``.
    """
    text = json.dumps(config)
    masked = text
    for secret in secrets:
        if secret:
            masked = masked.replace(json.dumps(secret)[1:-1], "****")
    return None if masked == text else dict(json.loads(masked))


def label_pushed_image(
    tags: Sequence[str],
    digest: str,
    labels: Mapping[str, str],
    *,
    login: RegistryLogin | None,
    insecure: bool,
    config_digest: str | None = None,
    timeout: float = 30.0,
    mask: Sequence[str] = (),
) -> str:
    """Put ``labels`` into the config of the image pushed as ``digest`` under ``tags``,
    with the ``mask`` values (secret build args) taken out of its history.

    ``config_digest`` (the engine's image id: a pushed config is stored as it is) lets the
    config be read, and the upload opened, while the manifest is read: three round trips
    instead of five. Returns the digest of the labelled manifest, which every tag names
    afterwards (``digest`` itself when there was nothing to change).
    """
    ref = ImageRef.from_tags(tags)
    registry = _Registry(ref, login, insecure=insecure, timeout=timeout)
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="registry") as pool:
            early: dict[str, Future[requests.Response]] = {}
            if registry.authorized:  # else the first request authenticates, alone and once
                if config_digest:
                    early["config"] = pool.submit(registry.request, "GET", f"blobs/{config_digest}")
                early["upload"] = pool.submit(registry.request, "POST", "blobs/uploads/")
            answer = registry.request(
                "GET", f"manifests/{digest}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
            )
            manifest = answer.json()
            media_type = manifest.get("mediaType") or answer.headers.get("Content-Type", "")
            if media_type not in MANIFEST_TYPES:
                raise RegistryError(detail=f"cannot label a manifest of type {media_type!r}")
            config_ref = manifest["config"]
            if "config" in early and config_ref["digest"] == config_digest:
                config = early["config"].result().json()
            else:
                config = registry.request("GET", f"blobs/{config_ref['digest']}").json()
            masked = _masked(config, mask)
            if not labels and masked is None:
                return digest  # nothing to change (an upload opened early just expires)
            config = masked or config
            if labels:  # else the config keeps its Labels as built (null stays null)
                settings = config.setdefault("config", {})
                settings["Labels"] = {**(settings.get("Labels") or {}), **labels}
            config_bytes = json.dumps(config, separators=(",", ":")).encode()
            new_config = _digest(config_bytes)

            upload = (
                early["upload"].result()
                if "upload" in early
                else registry.request("POST", "blobs/uploads/")
            )
            target = urlsplit(upload.headers["Location"])
            query = "&".join(filter(None, (target.query, urlencode({"digest": new_config}))))
            registry.request(
                "PUT",
                urlunsplit(target._replace(query=query)),
                data=config_bytes,
                headers={"Content-Type": "application/octet-stream"},
            )

        manifest["config"] = {**config_ref, "digest": new_config, "size": len(config_bytes)}
        manifest_bytes = json.dumps(manifest, indent=3).encode()
        labelled = _digest(manifest_bytes)
        for tag in ref.tags:
            stored = registry.request(
                "PUT",
                f"manifests/{tag}",
                data=manifest_bytes,
                headers={"Content-Type": media_type},
            )
            echoed = stored.headers.get("Docker-Content-Digest")
            if echoed and echoed != labelled:
                raise RegistryError(detail=f"the registry stored {echoed}, expected {labelled}")
        return labelled
    # Not the JSON a v2 registry answers (RecursionError: nested too deep to decode or encode).
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise RegistryError(
            detail=f"unexpected registry answer: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        registry.close()


async def label_image(
    tags: Sequence[str],
    digest: str,
    labels: Mapping[str, str],
    *,
    login: RegistryLogin | None,
    insecure: bool,
    config_digest: str | None = None,
    attempts: int = 4,
    base_delay: float = 1.0,
    on_line: LineCallback | None = None,
    mask: Sequence[str] = (),
) -> str:
    """``label_pushed_image`` in a thread, retried while the registry is unavailable."""
    work = functools.partial(
        label_pushed_image,
        tags,
        digest,
        labels,
        login=login,
        insecure=insecure,
        config_digest=config_digest,
        mask=mask,
    )
    return await retry_transient(
        functools.partial(asyncio.to_thread, work),
        what="Labelling the image",
        attempts=attempts,
        base_delay=base_delay,
        on_line=on_line,
    )
