"""The phases of one claimed build: fetching → building → pushing; returns the digest.

Each phase change is a guarded ``transition`` that also requires the build to still be
this worker's (``Job.owned``): a build cancelled or requeued meanwhile raises
``NotOwner`` and the pipeline stops. Step failures raise the ``BuildError`` subclasses
of ``buildsvc.worker.errors``; the caller records them. The checkout is the work tree
the worker keeps for the account's source repository (``WorkerDeps.source_tree``):
a new commit rewrites only the files that changed (``fetch_source(kept=True)``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from buildsvc.bindings.errors import SourceNotBound
from buildsvc.bindings.watch import BROKEN, broken_error, note_clone_refusal
from buildsvc.builds.queries import last_pushed
from buildsvc.builds.states import BuildStatus
from buildsvc.replication.jobs import after_push, has_push_rules
from buildsvc.secret_args import decrypt_secrets
from buildsvc.sources import AddressPolicy
from buildsvc.worker.build_phase import Built, build, build_ahead, labels_line
from buildsvc.worker.build_request import uses_buildkit
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.docker_build import (
    ENGINE_ERRORS,
    run_streaming,
)
from buildsvc.worker.docker_push import push_image
from buildsvc.worker.errors import BuildError, RegistryError, SourceAuthFailed
from buildsvc.worker.fetch import fetch_source
from buildsvc.worker.image_size import authorize_ahead, pushed_size
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.outcomes import Pushed
from buildsvc.worker.phases import entering, registry_credentials, registry_login
from buildsvc.worker.registry_cache import NO_PREVIOUS, cache_source, pull_cache_sources
from buildsvc.worker.registry_forget import forget_image
from buildsvc.worker.registry_labels import ImageRef, RegistryLogin, label_image
from buildsvc.worker.withheld import withholding

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GitCredentials:
    username: str
    token: str


def git_credentials(deps: WorkerDeps, job: Job) -> GitCredentials:
    """The bound account's git credentials, decrypted only in memory."""
    if job.binding is None:
        raise SourceNotBound(
            "The code source account of this repository is no longer bound.",
            detail=f"bind a {job.provider} account again to build this repository",
        )
    if job.binding.status == BROKEN:  # the forge refused the token: fail now, not at clone
        raise broken_error(job.binding)
    binding, credentials = deps.access.restore(job.binding)
    username, token = deps.access.provider(job.provider).git_credentials(binding, credentials)
    return GitCredentials(username, token)


def open_secret_args(deps: WorkerDeps, job: Job) -> Job:
    """The job with its secret build args decrypted, only in memory, for this build."""
    args = decrypt_secrets(deps.access.cipher, job.build_args, job.secret_build_args)
    return replace(job, build_args=args)


async def cache_sources(deps: WorkerDeps, job: Job, log: BuildLog) -> tuple[str, ...]:
    """The rule's last pushed image, as the build's registry cache (none: a miss)."""
    settings = deps.settings
    buildkit = uses_buildkit(
        settings.build_builder, settings.build_memory_limit, settings.build_network_mode
    )
    if job.no_cache or not buildkit:  # the legacy builder reads no inline cache
        return ()
    previous = await last_pushed(
        deps.sessionmaker,
        repository_id=job.repository_id,
        rule_id=job.rule_id,
        ref=job.ref,
        before=job.build_id,
    )
    if previous is None:
        log.write(NO_PREVIOUS)
        return ()
    return (cache_source(*previous),)


async def pull_cache(deps: WorkerDeps, job: Job, log: BuildLog) -> tuple[str, ...]:
    """``cache_sources``, pulled into the engine; run while the source is fetched.

    On an engine that never built the repository the pull took as long as the fetch,
    one after the other. Best effort: what could not be pulled is a logged miss, and an
    engine error leaves the pull to the build, which reports it.
    """
    sources = await cache_sources(deps, job, log)
    if not sources:
        return ()
    credentials = registry_credentials(deps.settings, job)
    write = withholding(log.write) if job.secret_values else log.write
    try:
        return await run_streaming(
            lambda emit, cancel: pull_cache_sources(
                deps.docker, sources, credentials=credentials, on_line=emit, cancel=cancel
            ),
            on_line=write,
        )
    except (BuildError, *ENGINE_ERRORS):
        return sources


async def push_labelled(
    deps: WorkerDeps,
    job: Job,
    log: BuildLog,
    labels: dict[str, str],
    *,
    image_id: str,
    username: str | None,
    password: str | None,
    write: Callable[[str], None],
) -> str:
    """Push every tag, then put ``labels`` (if any) into the pushed image's config, and
    take the values of secret build args out of its history.

    The legacy builder would spend a committed container on labels, so its builds get
    them at the registry (``registry_labels``); BuildKit builds carry them already and
    pass none. Both builders write the build args a RUN step used into its history
    entry, which ships with the image. When that had to be masked, the image as pushed
    first is deleted from the registry (``registry_forget``), and so it is when the
    masking fails. The rewritten manifest's digest is the build's. ``write`` takes the
    push's own lines (ids withheld in secret builds), ``log`` the ones naming the result.
    """
    attempts = deps.settings.registry_push_attempts
    digest = await push_image(
        deps.docker,
        job.tags,
        username=username,
        password=password,
        on_line=write,
        attempts=attempts,
    )
    secret_values = job.secret_values
    if not labels and not secret_values:
        return digest
    ref = ImageRef.from_tags(job.tags)
    login = RegistryLogin(username, password or "") if username else None
    insecure = await deps.registry_insecure(ref.registry)
    try:
        rewritten = await label_image(
            job.tags,
            digest,
            labels,
            login=login,
            insecure=insecure,
            config_digest=image_id,  # the engine's image id is the pushed config's digest
            attempts=attempts,
            on_line=write,
            mask=secret_values,
        )
    except RegistryError:
        if secret_values:  # the tags may still name the value: better no image than that
            try:
                await forget_image(
                    job.tags, digest, image_id, login=login, insecure=insecure, attempts=1
                )
            except RegistryError as exc:
                write(f"The image as built could not be deleted from the registry: {exc.detail}")
        raise
    if labels:
        log.write(labels_line(labels))
    if rewritten.unmasked is not None:
        await forget_image(
            job.tags,
            *rewritten.unmasked,
            login=login,
            insecure=insecure,
            attempts=attempts,
            on_line=write,
        )
        log.write(
            "Secret build args: masked wherever the image's history recorded them;"
            " the image as built is deleted from the registry"
        )
    return rewritten.digest


async def fetch(
    deps: WorkerDeps, job: Job, log: BuildLog, credentials: GitCredentials, src: Path
) -> None:
    """Bring the kept work tree ``src`` to the build's commit."""
    settings = deps.settings
    started = time.monotonic()
    try:
        await fetch_source(
            job.clone_url,
            job.commit_sha,
            src,
            username=credentials.username,
            token=credentials.token,
            timeout=settings.build_timeout_seconds,
            on_line=log.write,
            policy=AddressPolicy.from_cidrs(settings.allowed_source_networks),
            kept=True,
        )
    except SourceAuthFailed as exc:  # the forge refused the token: the binding is broken
        if job.binding is not None:
            await note_clone_refusal(deps.sessionmaker, job.binding, exc.detail)
        raise
    log.write(f"Fetched {job.commit_sha[:12]} in {time.monotonic() - started:.1f} s")


async def _fetch_and_build(
    deps: WorkerDeps,
    job: Job,
    log: BuildLog,
    src: Path,
    pulling: asyncio.Future[tuple[str, ...]],
    fetching: asyncio.Future[None],
) -> Built:
    """The image, built from the fetched source; the cache image is pulled meanwhile.

    Once the cache image is there, a BuildKit build is posted even if the fetch still
    runs (``build_ahead``); if the fetch is done first, it is built as usual.
    """
    either: set[asyncio.Future[Any]] = {pulling, fetching}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if fetching.done():
        await fetching  # its error, if it failed
        return await build(deps, job, log, src, await pulling)
    cache_from = await pulling
    built = await build_ahead(deps, job, log, src, cache_from, fetching)
    if built is None:
        await fetching
        built = await build(deps, job, log, src, cache_from)
    return built


async def log_in_ahead(deps: WorkerDeps, job: Job) -> None:
    """The registry login reading the pushed size needs, made while the source is
    fetched and built (a 401 and a token request less after the push)."""
    username, secret = registry_login(deps.settings, job)
    if not username:
        return
    insecure = await deps.registry_insecure(ImageRef.from_tags(job.tags).registry)
    await authorize_ahead(job.tags, login=RegistryLogin(username, secret or ""), insecure=insecure)


async def run_pipeline(
    deps: WorkerDeps, job: Job, log: BuildLog, credentials: GitCredentials
) -> Pushed:
    logging_in = asyncio.ensure_future(log_in_ahead(deps, job))
    try:
        return await _phases(deps, job, log, credentials, logging_in)
    finally:
        # Only a head start: the size read logs in again, and says what failed.
        await _abandon(logging_in, "logging in ahead")


async def _abandon(task: asyncio.Future[Any], what: str) -> None:
    """Stop ``task`` if it still runs; its failure, if any, only logged."""
    if not task.done():
        task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        logger.debug("%s failed: %r", what, task.exception())


async def _phases(
    deps: WorkerDeps,
    job: Job,
    log: BuildLog,
    credentials: GitCredentials,
    logging_in: asyncio.Future[None],
) -> Pushed:
    # The kept tree is this build's until the context has gone to the engine and the
    # image is built; another build of the repository meanwhile takes another tree.
    async with deps.source_tree(job.account_id, job.clone_url) as src:
        pulling = asyncio.ensure_future(pull_cache(deps, job, log))
        fetching = asyncio.ensure_future(fetch(deps, job, log, credentials, src))
        try:
            built = await _fetch_and_build(deps, job, log, src, pulling, fetching)
        finally:
            await _abandon(pulling, "pulling the cache image")
            await _abandon(fetching, "fetching")

    settings = deps.settings
    started = time.monotonic()
    username, secret = registry_login(settings, job)
    pushing = push_labelled(
        deps,
        job,
        log,
        {} if built.request.uses_buildkit else built.labels,  # BuildKit's are in the image
        image_id=built.image_id,
        username=username,
        password=secret,
        write=built.write,
    )
    # The replication rules in effect as the push starts apply to it: asked meanwhile.
    checking = asyncio.ensure_future(has_push_rules(deps.sessionmaker, job.repository_id))
    try:
        digest = await entering(deps, job, BuildStatus.PUSHING, pushing)
    except BaseException:
        await _abandon(checking, "looking up replication rules")
        raise
    log.write(f"Pushed {', '.join(job.tags)} ({digest}) in {time.monotonic() - started:.1f} s")
    insecure = await deps.registry_insecure(ImageRef.from_tags(job.tags).registry)
    await asyncio.wait({logging_in})  # long done: the size read finds its login
    # Side by side: each is a round trip (the database, the registry) on the way to done.
    queued, size = await asyncio.gather(
        after_push(
            deps.sessionmaker,
            deps.redis,
            job.repository_id,
            job.tags,
            digest,
            job.build_id,
            has_rules=await checking,
        ),
        pushed_size(
            job.tags,
            digest,
            login=RegistryLogin(username, secret or "") if username else None,
            insecure=insecure,
        ),
    )
    if queued:
        log.write(f"Queued {queued} replications of {digest}")
    return Pushed(digest, size)
