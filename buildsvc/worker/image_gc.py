"""Removing what a worker leaves behind: old images it built from its Docker engine
(the registry keeps them), work trees unused for long, dead BuildKit session sockets.

Every build leaves its image and its build cache on the worker's engine (BuildKit's
cache records; with the legacy builder, an image per step); a busy worker would fill its
disk. Once an hour ``collect_forever`` untags the images pushed to the registry that were
created more than ``settings.worker_image_retention_hours`` ago, and prunes BuildKit
cache records unused for as long. Removing an image's last tag deletes it, and with it
the build steps no other image is built on; recent builds keep their cache. Images
tagged under other names are never touched; base images pulled from the push registry
itself are untagged like the rest once old, and pulled again by the next build that
needs one. The same round deletes the kept work trees no build held for
``settings.worker_source_retention_hours`` (``worker.source_trees``) and the session
directories a killed worker left (``worker.buildkit_session``). The first round runs
at startup, so a worker restarted after a SIGKILL cleans up after itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import docker

from buildsvc.worker.buildkit_session import remove_dead_session_dirs
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.source_trees import prune_trees

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


def _collect_images(deps: WorkerDeps, hours: float) -> None:
    prefix = f"{deps.settings.registry}/"
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    removed = remove_old_images(deps.docker, prefix, cutoff)
    if removed:
        log.info("removed %d old image tags from the engine", len(removed))
    age = dt.timedelta(hours=hours)
    reclaimed = prune_build_cache(deps.docker, age)
    if reclaimed:
        log.info("pruned %d bytes of build cache unused for %s", reclaimed, age)


def _collect_trees(deps: WorkerDeps, hours: float) -> None:
    removed = prune_trees(deps.sources, dt.timedelta(hours=hours))
    if removed:
        log.info("deleted %d work trees unused for %g h", len(removed), hours)


def collect_once(deps: WorkerDeps) -> None:
    """One round (blocking); each part on its own, so one failing spares the others."""
    settings = deps.settings
    parts: list[tuple[str, Callable[[], object]]] = [
        ("removing dead session directories", remove_dead_session_dirs)
    ]
    if (hours := settings.worker_image_retention_hours) > 0:
        parts.append(("removing old images", lambda: _collect_images(deps, hours)))
    if (tree_hours := settings.worker_source_retention_hours) > 0:
        parts.append(("deleting unused work trees", lambda: _collect_trees(deps, tree_hours)))
    for what, part in parts:
        try:
            part()
        except Exception:  # the engine or the disk hiccuped: try again next time
            log.exception("%s failed", what)


async def collect_forever(deps: WorkerDeps) -> None:
    while True:
        await asyncio.to_thread(collect_once, deps)
        await asyncio.sleep(INTERVAL_SECONDS)
