"""What every phase of a claimed build shares: its status change, run beside its work,
and the build's registry login.

Each phase change is a guarded ``transition`` that also requires the build to still be
this worker's (``Job.owned``): a build cancelled or requeued meanwhile raises
``NotOwner`` and the phase stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from buildsvc.builds import registry_login as build_login
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.config import Settings
from buildsvc.store.models import utcnow
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.outcomes import NotOwner

__all__ = ["enter", "entering", "registry_credentials", "registry_login"]

T = TypeVar("T")


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
