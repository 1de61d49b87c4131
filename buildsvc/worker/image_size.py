"""The size of a pushed image, as the registry's manifest lists it.

What ``docker pull`` downloads: the config and every layer, compressed. The engine
knows only the unpacked size, so the manifest is asked for once the push is done. The
size is a courtesy of the console's image panel: failing to read it never fails a build.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from buildsvc.worker.errors import RegistryError
from buildsvc.worker.registry_labels import MANIFEST_TYPES
from buildsvc.worker.registry_session import ImageRef, RegistryLogin, RegistrySession

__all__ = ["authorize_ahead", "manifest_size", "pushed_size"]

log = logging.getLogger(__name__)
READ_TIMEOUT = 10.0  # seconds per request: the push itself already succeeded


def manifest_size(manifest: Mapping[str, Any]) -> int | None:
    """Config plus layer sizes of an image manifest; None for anything else (an index)."""
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, Mapping) or not isinstance(layers, list):
        return None
    sizes = [config.get("size"), *(layer.get("size") for layer in layers)]
    counted = [size for size in sizes if isinstance(size, int) and size >= 0]
    return sum(counted) if len(counted) == len(sizes) else None


def _read(
    tags: Sequence[str], digest: str, login: RegistryLogin | None, insecure: bool, timeout: float
) -> int | None:
    registry = RegistrySession(ImageRef.from_tags(tags), login, insecure=insecure, timeout=timeout)
    try:
        answer = registry.request(
            "GET", f"manifests/{digest}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        manifest = answer.json()
        return manifest_size(manifest) if isinstance(manifest, Mapping) else None
    finally:
        registry.close()


async def pushed_size(
    tags: Sequence[str],
    digest: str,
    *,
    login: RegistryLogin | None,
    insecure: bool,
) -> int | None:
    """The size of the image pushed as ``digest``, or None when the registry won't say."""
    try:
        return await asyncio.to_thread(_read, tags, digest, login, insecure, READ_TIMEOUT)
    except (RegistryError, ValueError) as exc:  # ValueError: a body that is not JSON
        log.warning("could not read the size of %s: %s", digest, exc)
        return None


def _authorize(tags: Sequence[str], login: RegistryLogin, insecure: bool, timeout: float) -> None:
    registry = RegistrySession(ImageRef.from_tags(tags), login, insecure=insecure, timeout=timeout)
    try:
        registry.authorize()
    finally:
        registry.close()


async def authorize_ahead(tags: Sequence[str], *, login: RegistryLogin, insecure: bool) -> None:
    """Log in to the registry while the build runs, so that reading the pushed size
    afterwards is one request, not a 401, a token request and the request again."""
    try:
        await asyncio.to_thread(_authorize, tags, login, insecure, READ_TIMEOUT)
    except RegistryError as exc:  # the size read logs in again, and says what failed
        log.debug("could not log in to the registry ahead of the push: %s", exc)
