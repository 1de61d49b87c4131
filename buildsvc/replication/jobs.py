"""The arq job that copies one tag to one destination, and how such jobs are queued.

A job is ``replicate(replication_id, generation)``, id
``replication:{id}:{generation}:{job_token}`` (a second enqueue of the same plan is a
no-op). An attempt that fails transiently
(no answer, 5xx, 429) leaves the row ``failed`` with the registry's error code and is
retried with exponential backoff (``BUILDSVC_REPLICATION_BACKOFF_SECONDS`` doubling up to
``..._BACKOFF_MAX_SECONDS``) until ``BUILDSVC_REPLICATION_ATTEMPTS`` attempts were made; a
refusal (4xx) is not retried: it needs a changed rule and a manual run.

The worker registers ``job_spec`` and puts ``ReplicationDeps`` in its arq
context under ``DEPS``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.outbox import WAKE_CHANNEL, ArqRedis
from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.queue import JobSpec, RetryLater
from buildsvc.replication import status
from buildsvc.replication.connect import open_session
from buildsvc.replication.copy import copy_image
from buildsvc.replication.errors import CopyFailed, Superseded
from buildsvc.replication.plan import Planned, has_push_rules, plan_push
from buildsvc.replication.registry_api import Endpoint, RegistryClient
from buildsvc.replication.source import source_endpoint
from buildsvc.sources import AddressPolicy

__all__ = [
    "DEPS",
    "JOB_FUNCTION",
    "ReplicationDeps",
    "after_push",
    "enqueue",
    "has_push_rules",
    "job_spec",
]

log = logging.getLogger(__name__)

JOB_FUNCTION = "replicate"
DEPS = "buildsvc_replication"  # arq ctx key
JOB_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ReplicationDeps:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: Cipher

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy.from_cidrs(self.settings.allowed_source_networks)


def job_spec(settings: Settings) -> JobSpec:
    return JobSpec(
        JOB_FUNCTION,
        replicate,
        timeout=JOB_TIMEOUT_SECONDS,
        max_tries=settings.replication_attempts,
    )


def job_id(item: Planned) -> str:
    return f"replication:{item.replication_id}:{item.generation}:{item.job_token}"


async def enqueue(redis: ArqRedis | None, items: Sequence[Planned]) -> int:
    """Queue ``items``; how many made it. Redis errors leave rows ``pending`` (a manual
    run queues them again) rather than fail what planned them."""
    if redis is None or not items:
        return 0
    queued = 0
    try:
        for item in items:
            await redis.enqueue_job(
                JOB_FUNCTION, item.replication_id, item.generation, _job_id=job_id(item)
            )
            queued += 1
        await redis.publish(WAKE_CHANNEL, "1")  # idle workers start at once
    except (RedisError, OSError) as exc:
        log.warning("replication jobs not queued (%d left pending): %s", len(items) - queued, exc)
    return queued


async def after_push(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis | None,
    repository_id: int,
    tags: Sequence[str],
    digest: str,
    build_id: int | None,
    *,
    has_rules: bool = True,
) -> int:
    """Plan and queue the copies a build's push calls for (``tags`` as pushed,
    ``host/ns/name:tag``); the number queued. ``has_rules``: what ``has_push_rules``
    said when the push started (False: nothing to plan, no transaction)."""
    if not has_rules:
        return 0
    bare = [tag.rpartition(":")[2] for tag in tags]
    return await enqueue(redis, await plan_push(sessions, repository_id, bare, digest, build_id))


def backoff(settings: Settings, attempt: int) -> float:
    base = settings.replication_backoff_seconds
    return float(min(base * 2 ** (attempt - 1), settings.replication_backoff_max_seconds))


async def replicate(ctx: dict[str, Any], replication_id: int, generation: int) -> str:
    deps: ReplicationDeps = ctx[DEPS]
    attempt = await status.begin(deps.sessionmaker, replication_id, generation)
    if attempt is None:
        return "superseded"
    rule = attempt.rule
    password = deps.cipher.decrypt(rule.password_encrypted) if rule.password_encrypted else None
    destination = Endpoint(rule.destination_url, rule.username, password)

    async def mount_from(digest: str) -> str | None:
        return await status.mount_source(
            deps.sessionmaker, rule.destination_url, attempt.destination_repository, digest
        )

    try:
        async with (
            open_session(None, None) as source_http,
            open_session(deps.policy, rule.ca_cert) as destination_http,
        ):
            report = await copy_image(
                RegistryClient(source_endpoint(deps.settings), source_http),
                attempt.source_repository,
                attempt.digest,
                RegistryClient(destination, destination_http),
                attempt.destination_repository,
                attempt.tag,
                mount_from,
                functools.partial(status.is_current, deps.sessionmaker, attempt),
            )
    except Superseded:
        return "superseded"
    except CopyFailed as exc:
        retry = exc.transient and attempt.number < deps.settings.replication_attempts
        delay = backoff(deps.settings, attempt.number) if retry else None
        await status.fail(deps.sessionmaker, attempt, exc, delay)
        log.info("replication %d attempt %d failed: %s", replication_id, attempt.number, exc)
        if delay is not None:
            raise RetryLater(delay) from exc
        return f"failed: {exc.registry_code}"
    await status.finish(deps.sessionmaker, attempt, report)
    return "done"
