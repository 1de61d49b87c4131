"""Write labels into a pushed image's config in the registry (Docker Registry HTTP API v2).

The legacy builder spends a whole step on a ``LABEL`` line (a container created and
committed: ~0.15 s here, 15-20% of a small build), although a label is only a field of
the image config. So the worker builds and pushes the image as its Dockerfile says, then
rewrites the config in the registry the way ``crane mutate --label`` does: a new config
blob with the labels, and a manifest pointing at it over the very same layers (no layer
moves), put under every tag. For the few milliseconds in between, the tags name the
image without the labels; the registry's garbage collection removes that manifest.
When the rewrite masked a secret build arg, the image as built still holds it: the
result names it, and the worker deletes it (``registry_forget``).

Blocking (``requests``, as the docker SDK, through ``registry_session``); the worker
runs it in a thread and retries it while the registry is unavailable.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from buildsvc.worker.docker_push import retry_transient
from buildsvc.worker.errors import RegistryError
from buildsvc.worker.registry_session import (
    ImageRef,
    RegistryLogin,
    RegistrySession,
    api_host,
    registry_is_insecure,
)
from buildsvc.worker.streaming import LineCallback

__all__ = [
    "ImageRef",
    "RegistryLogin",
    "Relabelled",
    "api_host",
    "label_image",
    "label_pushed_image",
    "registry_is_insecure",
]

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)


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


@dataclass(frozen=True, slots=True)
class Relabelled:
    """The manifest every tag names after a rewrite and, when a secret build arg had to
    be masked, the image as built: its manifest and config digests, for
    ``registry_forget`` to delete (they still hold the value)."""

    digest: str
    unmasked: tuple[str, str] | None = None


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
) -> Relabelled:
    """Put ``labels`` into the config of the image pushed as ``digest`` under ``tags``,
    with the ``mask`` values (secret build args) taken out of its history.

    ``config_digest`` (the engine's image id: a pushed config is stored as it is) lets the
    config be read, and the upload opened, while the manifest is read: three round trips
    instead of five. Returns the digest of the labelled manifest, which every tag names
    afterwards (``digest`` itself when there was nothing to change), and what masking
    superseded.
    """
    ref = ImageRef.from_tags(tags)
    registry = RegistrySession(ref, login, insecure=insecure, timeout=timeout)
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
                return Relabelled(digest)  # nothing to change (an early upload just expires)
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
        unmasked = (digest, str(config_ref["digest"])) if masked is not None else None
        return Relabelled(labelled, unmasked)
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
) -> Relabelled:
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
