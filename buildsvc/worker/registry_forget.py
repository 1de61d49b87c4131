"""Delete the image as built from the registry, once a masked config replaced it.

When a secret build arg's value shows in a pushed image's config, ``registry_labels``
puts a masked config, and a manifest over the same layers, under every tag. The
manifest first pushed and its config blob still hold the value, and the registry
serves both by digest to anyone who may pull (the engine's image id is that config's
digest). So the worker deletes them through the registry API, which the registry must
allow (Distribution: ``storage: delete: enabled: true``):

- ``DELETE /v2/<name>/manifests/<digest>`` (by digest only). Distribution also drops
  every tag still naming it, so this comes after each tag moved to the masked manifest.
- ``DELETE /v2/<name>/blobs/<config>``: the repository's link to the config blob. The
  layers are the masked manifest's too, and stay.

The bytes stay in the registry's storage, out of the API's reach, until its garbage
collection. A 404 is a deletion already done (a retry after a partial success).
Blocking, like ``registry_labels``; ``forget_image`` runs it in a thread, retried while
the registry is unavailable.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

from buildsvc.worker.docker_push import retry_transient
from buildsvc.worker.errors import RegistryError
from buildsvc.worker.registry_session import ImageRef, RegistryLogin, RegistrySession
from buildsvc.worker.streaming import LineCallback

__all__ = ["forget_image", "forget_pushed_image"]

GONE = 404
REFUSED = (400, 405)  # Distribution: 405 UNSUPPORTED while deletes are disabled


def forget_pushed_image(
    tags: Sequence[str],
    digest: str,
    config_digest: str,
    *,
    login: RegistryLogin | None,
    insecure: bool,
    timeout: float = 30.0,
) -> None:
    """Delete the manifest ``digest`` and the link to its config blob ``config_digest``
    from the repository ``tags`` name (none of which may name ``digest`` anymore)."""
    ref = ImageRef.from_tags(tags)
    registry = RegistrySession(
        ref, login, insecure=insecure, timeout=timeout, actions="pull,push,delete"
    )
    try:
        for path in (f"manifests/{digest}", f"blobs/{config_digest}"):
            answer = registry.request("DELETE", path, allow=(GONE, *REFUSED))
            if answer.status_code in REFUSED:
                raise RegistryError(
                    detail=f"the registry refused to delete the unmasked image "
                    f"(DELETE {path}: {answer.status_code}); enable deletes in its storage"
                )
    finally:
        registry.close()


async def forget_image(
    tags: Sequence[str],
    digest: str,
    config_digest: str,
    *,
    login: RegistryLogin | None,
    insecure: bool,
    attempts: int = 4,
    base_delay: float = 1.0,
    on_line: LineCallback | None = None,
) -> None:
    """``forget_pushed_image`` in a thread, retried while the registry is unavailable."""
    work = functools.partial(
        forget_pushed_image, tags, digest, config_digest, login=login, insecure=insecure
    )
    await retry_transient(
        functools.partial(asyncio.to_thread, work),
        what="Deleting the unmasked image",
        attempts=attempts,
        base_delay=base_delay,
        on_line=on_line,
    )
