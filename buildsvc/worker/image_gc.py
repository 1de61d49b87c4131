"""Removing old images a worker built from its Docker engine (the registry keeps them).

Every build leaves its image and its build cache on the worker's engine (BuildKit's
cache records; with the legacy builder, an image per step); a busy worker would fill its
disk. Once an hour ``collect_forever`` untags the images pushed to the registry that were
created more than ``settings.worker_image_retention_hours`` ago, and prunes BuildKit
cache records unused for as long. Removing an image's last tag deletes it, and with it
the build steps no other image is built on; recent builds keep their cache. Images
tagged under other names are never touched; base images pulled from the push registry
itself are untagged like the rest once old, and pulled again by the next build that
needs one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import docker

from buildsvc.worker.deps import WorkerDeps

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0


def remove_old_images(api: docker.APIClient, prefix: str, older_than: dt.datetime) -> list[str]:
    """Untag the images under ``prefix`` (``registry/``) created before ``older_than``."""
    removed = []
    for image in api.images():
        created = dt.datetime.fromtimestamp(int(image.get("Created") or 0), dt.UTC)
        if created >= older_than:
            continue
        for tag in image.get("RepoTags") or []:
            if not tag.startswith(prefix):
                continue
            try:
                api.remove_image(tag)  # without force: an image a container uses stays
            except docker.errors.APIError as exc:
                log.info("kept %s: %s", tag, exc.explanation or exc)
                continue
            removed.append(tag)
    return removed


def prune_build_cache(api: docker.APIClient, unused_for: dt.timedelta) -> int:
    """Drop BuildKit cache records unused for ``unused_for``; the bytes reclaimed."""
    seconds = max(int(unused_for.total_seconds()), 1)  # 0 would mean "everything"
    result = api.prune_builds(filters={"until": f"{seconds}s"})
    return int((result or {}).get("SpaceReclaimed") or 0)


async def collect_forever(deps: WorkerDeps) -> None:
    hours = deps.settings.worker_image_retention_hours
    if hours <= 0:
        return  # kept forever, by choice
    prefix = f"{deps.settings.registry}/"
    while True:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        try:
            removed = await asyncio.to_thread(remove_old_images, deps.docker, prefix, cutoff)
            if removed:
                log.info("removed %d old image tags from the engine", len(removed))
            age = dt.timedelta(hours=hours)
            reclaimed = await asyncio.to_thread(prune_build_cache, deps.docker, age)
            if reclaimed:
                log.info("pruned %d bytes of build cache unused for %s", reclaimed, age)
        except Exception:  # the engine hiccuped: try again next time
            log.exception("removing old images failed")
        await asyncio.sleep(INTERVAL_SECONDS)
