"""The registry build cache: a build reuses the layers of its rule's last image.

Every BuildKit build exports its cache inline (``BUILDKIT_INLINE_CACHE=1``: the cache
metadata rides in the image's config and reaches the registry with the push). The next
build of the same rule names that image in ``cachefrom``, so an engine that never built
the repository takes each step whose inputs are unchanged from the registry's layers
instead of running it.

BuildKit in the engine reads a cache source only from the engine's image store (to
fetch one itself it needs a client session: "no active sessions"), so the image is
pulled first, through the engine's pull API with the registry credentials base images
use. It is pulled by digest: exactly what the rule pushed last, wherever its tag points
now. No previous image (the rule's first build), or one that cannot be pulled (deleted,
garbage-collected), is a cache miss, logged, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import docker
from docker.utils import parse_repository_tag

from buildsvc.worker.base_images import PullFailures, pull_missing
from buildsvc.worker.streaming import StreamCancel

__all__ = ["INLINE_CACHE_ARG", "NO_PREVIOUS", "cache_source", "hit_line", "pull_cache_sources"]

# The build arg that has BuildKit write its cache metadata into the image's config.
INLINE_CACHE_ARG = {"BUILDKIT_INLINE_CACHE": "1"}
NO_PREVIOUS = "cache: no previous image of this rule; building without registry cache"
KIND = "cache image"


def cache_source(tag: str, digest: str) -> str:
    """The image a build pushed as ``tag`` with ``digest``, named by its digest."""
    repository, _tag = parse_repository_tag(tag)
    return f"{repository}@{digest}"


def hit_line(ref: str, cached_steps: int) -> str:
    return f"cache: using {ref} from the registry ({cached_steps} layers cached)"


def pull_cache_sources(
    api: docker.APIClient,
    refs: Iterable[str],
    *,
    credentials: Mapping[str, Mapping[str, str]],
    on_line: Callable[[str], None],
    cancel: StreamCancel,
) -> tuple[str, ...]:
    """Those of ``refs`` now in the engine (pulled if missing); a miss is logged."""
    refs = tuple(refs)
    failed = PullFailures()
    pull_missing(
        api,
        refs,
        credentials=credentials,
        on_line=on_line,
        cancel=cancel,
        failures=failed,
        kind=KIND,
    )
    for ref in failed:  # why is on the line before, from pull_missing
        on_line(f"cache: {ref} could not be pulled; building without registry cache")
    return tuple(ref for ref in refs if ref not in failed)
