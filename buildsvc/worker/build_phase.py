"""The building phase of a claimed build: the image from the checkout.

``build`` runs once the source is checked out. ``build_ahead`` posts a BuildKit build
while git still fetches (``buildkit_early``): BuildKit sets its solve up meanwhile and
waits for the files, so the ~25-45 ms it takes are off the way from push to image.
Either way the build enters ``building`` once the checkout is done.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from buildsvc.builds.states import BuildStatus
from buildsvc.worker.build_request import BuildRequest, oci_labels
from buildsvc.worker.buildkit_early import EarlyBuild
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.docker_build import build_image, resolve_context, run_streaming
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.phases import entering, registry_credentials
from buildsvc.worker.withheld import withholding

__all__ = ["Built", "build", "build_ahead", "labels_line", "source_url"]


@dataclass(frozen=True, slots=True)
class Built:
    image_id: str
    request: BuildRequest
    labels: dict[str, str]
    write: Callable[[str], None]  # the build's log, image ids withheld if it must


def source_url(clone_url: str) -> str:
    """The repository's web address for the OCI source label (the clone URL minus .git)."""
    return clone_url.removesuffix(".git")


def labels_line(labels: dict[str, str]) -> str:
    return "Labels: " + ", ".join(f"{key}={value}" for key, value in labels.items())


async def _request(
    deps: WorkerDeps, job: Job, context: Path, cache_from: tuple[str, ...]
) -> tuple[BuildRequest, dict[str, str]]:
    """What to build for ``job`` from ``context``, and the OCI labels (created: now)."""
    settings = deps.settings
    labels = oci_labels(source_url(job.clone_url), job.commit_sha)
    request = BuildRequest(
        context=context,
        tags=tuple(job.tags),
        dockerfile=job.dockerfile,
        buildargs=job.build_args,
        nocache=job.no_cache,
        network_mode=settings.build_network_mode,
        memory_limit=settings.build_memory_limit,
        builder=settings.build_builder,
        registry_credentials=registry_credentials(settings, job),
    )
    if request.uses_buildkit:
        request = replace(
            request,
            labels=labels,  # BuildKit records them as metadata
            cache_from=cache_from,
            engine_has_bridge=await deps.engine_has_bridge(),
            context_session=settings.build_context_session,
        )
    return request, labels


def _writer(job: Job, log: BuildLog) -> Callable[[str], None]:
    # A secret build arg's value is in the image as built: no line may name it.
    if not job.secret_values:
        return log.write
    log.write("Secret build args: image ids are withheld until the image is masked")
    return withholding(log.write)


def _built(
    log: BuildLog,
    request: BuildRequest,
    labels: dict[str, str],
    write: Callable[[str], None],
    image_id: str,
    started: float,
) -> Built:
    write(f"Built {image_id} in {time.monotonic() - started:.1f} s")
    if request.uses_buildkit:
        log.write(labels_line(labels))
    return Built(image_id, request, labels, write)


async def build(
    deps: WorkerDeps, job: Job, log: BuildLog, src: Path, cache_from: tuple[str, ...]
) -> Built:
    """Build the checked-out ``src``."""
    started = time.monotonic()
    request, labels = await _request(deps, job, resolve_context(src, job.context), cache_from)
    write = _writer(job, log)
    building = build_image(deps.docker, request, on_line=write)
    image_id = await entering(deps, job, BuildStatus.BUILDING, building)
    return _built(log, request, labels, write, image_id, started)


async def build_ahead(
    deps: WorkerDeps,
    job: Job,
    log: BuildLog,
    src: Path,
    cache_from: tuple[str, ...],
    fetching: asyncio.Future[None],
) -> Built | None:
    """Build ``src`` with BuildKit posted before ``fetching`` (the checkout) is done;
    None when it cannot be (the legacy builder, a tar context, no session): then
    nothing was started. A failed fetch stops the build and is raised."""
    started = time.monotonic()
    # Where the context will be, as spelt: it is resolved once it exists.
    request, labels = await _request(deps, job, src / job.context.strip("/"), cache_from)
    if not (request.uses_buildkit and request.context_session):
        return None
    ahead = EarlyBuild(deps.docker, request)
    opening = asyncio.ensure_future(asyncio.to_thread(ahead.open))
    try:
        if not await asyncio.shield(opening):
            return None
    except asyncio.CancelledError:  # the thread opens it all the same: it is closed then
        opening.add_done_callback(_discard(ahead))
        raise
    write = _writer(job, log)
    building = asyncio.ensure_future(run_streaming(ahead.run, on_line=write, cancel=ahead.cancel))
    loop = asyncio.get_running_loop()

    def from_thread(line: str) -> None:
        loop.call_soon_threadsafe(write, line)

    try:
        await fetching
        context = resolve_context(src, job.context)
        request = await asyncio.to_thread(ahead.prepare, context, from_thread)
    except BaseException:
        ahead.abort()
        building.cancel()  # a build not answering yet still ends: run_streaming's grace
        await asyncio.wait({building})
        if not building.cancelled():
            building.exception()  # retrieved: the fetch's (or check's) error is the one
        # Cancelled before its thread started, run() never ended the session: end it
        # here (when run() did, this finds it ended).
        await asyncio.to_thread(ahead.discard)
        raise
    image_id = await entering(deps, job, BuildStatus.BUILDING, building)
    return _built(log, request, labels, write, image_id, started)


def _discard(ahead: EarlyBuild) -> Callable[[asyncio.Future[bool]], None]:
    """What ends a session opened for a build that was cancelled meanwhile (in a thread
    of its own: closing waits for the session's threads)."""

    def opened(future: asyncio.Future[bool]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: the build is gone, nobody reads it
        threading.Thread(target=ahead.discard, name="discard-session", daemon=True).start()

    return opened
