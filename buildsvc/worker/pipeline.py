"""The phases of one claimed build: fetching → building → pushing; returns the digest.

Each phase change is a guarded ``transition`` that also requires the build to still be
this worker's (``Job.owned``): a build cancelled or requeued meanwhile raises
``NotOwner`` and the pipeline stops. Step failures raise the ``BuildError`` subclasses
of ``buildsvc.worker.errors``; the caller records them. The checkout lives in a
directory of its own under the worker's work directory and is removed on every path.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TypeVar

from buildsvc.bindings.watch import BROKEN, broken_error, note_clone_refusal
from buildsvc.builds import registry_login as build_login
from buildsvc.builds.states import BuildStatus, transition
from buildsvc.config import Settings
from buildsvc.store.models import utcnow
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.docker_build import BuildRequest, build_image, oci_labels, resolve_context
from buildsvc.worker.docker_push import push_image
from buildsvc.worker.errors import SourceAuthFailed
from buildsvc.worker.fetch import fetch_source
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.outcomes import NotOwner, SourceNotBound
from buildsvc.worker.registry_labels import ImageRef, RegistryLogin, label_image

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GitCredentials:
    username: str
    token: str


def git_credentials(deps: WorkerDeps, job: Job) -> GitCredentials:
    """The bound account's git credentials, decrypted only in memory."""
    if job.binding is None:
        raise SourceNotBound(detail=f"bind a {job.provider} account again to build this repository")
    if job.binding.status == BROKEN:  # the forge refused the token: fail now, not at clone
        raise broken_error(job.binding)
    binding, credentials = deps.access.restore(job.binding)
    username, token = deps.access.provider(job.provider).git_credentials(binding, credentials)
    return GitCredentials(username, token)


def source_url(clone_url: str) -> str:
    """The repository's web address for the OCI source label (the clone URL minus .git)."""
    return clone_url.removesuffix(".git")


def registry_login(settings: Settings, job: Job) -> tuple[str, str]:
    """The login for the push registry: the build's own (``builds.registry_login``), or a
    configured one for a registry without buildsvc's token auth (htpasswd)."""
    if settings.registry_username and settings.registry_password is not None:
        return settings.registry_username, settings.registry_password.get_secret_value()
    return build_login.login_name(job.build_id), job.registry_secret


def registry_credentials(settings: Settings, job: Job) -> dict[str, dict[str, str]]:
    """The push registry's login, for base images pulled from it before a build."""
    username, password = registry_login(settings, job)
    return {settings.registry: {"username": username, "password": password}}


def labels_line(labels: dict[str, str]) -> str:
    return "Labels: " + ", ".join(f"{key}={value}" for key, value in labels.items())


async def enter(deps: WorkerDeps, job: Job, status: BuildStatus) -> None:
    async with deps.sessionmaker.begin() as session:
        moved = await transition(
            session, job.build_id, status, where=job.owned(), heartbeat_at=utcnow()
        )
    if not moved:
        raise NotOwner()


async def entering(deps: WorkerDeps, job: Job, status: BuildStatus, work: Awaitable[T]) -> T:
    """Run ``work`` (the phase) while its status change is recorded; the work's result.

    The guarded write takes a SQLite transaction (~10 ms, more under load); waiting for
    it before starting the phase put that on every build's critical path twice. The
    ownership check keeps its meaning: a build that is no longer ours stops at once
    (the phase is cancelled and awaited) and ``NotOwner`` is raised.
    """
    phase = asyncio.ensure_future(work)
    try:
        await enter(deps, job, status)
    except BaseException:
        phase.cancel()
        await asyncio.wait({phase})
        if not phase.cancelled():
            phase.exception()  # retrieved: the ownership (or cancel) error is the one raised
        raise
    return await phase


async def push_labelled(
    deps: WorkerDeps,
    job: Job,
    log: BuildLog,
    labels: dict[str, str],
    *,
    image_id: str,
    username: str | None,
    password: str | None,
) -> str:
    """Push every tag, then put ``labels`` (if any) into the pushed image's config, and
    take the values of secret build args out of its history.

    The legacy builder would spend a committed container on labels, so its builds get
    them at the registry (``registry_labels``); BuildKit builds carry them already and
    pass none. Both builders write the build args a RUN step used into its history
    entry, which ships with the image. The rewritten manifest's digest is the build's.
    """
    attempts = deps.settings.registry_push_attempts
    digest = await push_image(
        deps.docker,
        job.tags,
        username=username,
        password=password,
        on_line=log.write,
        attempts=attempts,
    )
    secret_values = job.secret_values
    if not labels and not secret_values:
        return digest
    ref = ImageRef.from_tags(job.tags)
    rewritten = await label_image(
        job.tags,
        digest,
        labels,
        login=RegistryLogin(username, password or "") if username else None,
        insecure=await deps.registry_insecure(ref.registry),
        config_digest=image_id,  # the engine's image id is the pushed config's digest
        attempts=attempts,
        on_line=log.write,
        mask=secret_values,
    )
    if labels:
        log.write(labels_line(labels))
    if rewritten != digest and secret_values:
        log.write("Secret build args: masked wherever the image's history recorded them")
    return rewritten


async def run_pipeline(
    deps: WorkerDeps, job: Job, log: BuildLog, credentials: GitCredentials
) -> str:
    settings = deps.settings
    workdir = deps.workdir / f"build-{job.build_id}-{job.attempt}-{secrets.token_hex(3)}"
    try:
        started = time.monotonic()
        fetch = fetch_source(
            job.clone_url,
            job.commit_sha,
            workdir / "src",
            username=credentials.username,
            token=credentials.token,
            timeout=settings.build_timeout_seconds,
            on_line=log.write,
        )
        try:
            await fetch
        except SourceAuthFailed as exc:  # the forge refused the token: the binding is broken
            if job.binding is not None:
                await note_clone_refusal(deps.sessionmaker, job.binding, exc.detail)
            raise
        log.write(f"Fetched {job.commit_sha[:12]} in {time.monotonic() - started:.1f} s")

        started = time.monotonic()
        labels = oci_labels(source_url(job.clone_url), job.commit_sha)  # created: now
        request = BuildRequest(
            context=resolve_context(workdir / "src", job.context),
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
            request = replace(request, labels=labels)  # BuildKit records them as metadata
        building = build_image(deps.docker, request, on_line=log.write)
        image_id = await entering(deps, job, BuildStatus.BUILDING, building)
        log.write(f"Built {image_id} in {time.monotonic() - started:.1f} s")
        if request.uses_buildkit:
            log.write(labels_line(labels))

        started = time.monotonic()
        username, secret = registry_login(settings, job)
        pushing = push_labelled(
            deps,
            job,
            log,
            {} if request.uses_buildkit else labels,  # BuildKit's are in the image already
            image_id=image_id,
            username=username,
            password=secret,
        )
        digest = await entering(deps, job, BuildStatus.PUSHING, pushing)
        log.write(f"Pushed {', '.join(job.tags)} ({digest}) in {time.monotonic() - started:.1f} s")
        return digest
    finally:
        # Off the build's critical path: the status must not wait for a directory tree.
        deps.spawn(asyncio.to_thread(shutil.rmtree, workdir, True))
