"""Cancelling a build: queued or running, it is ``cancelled`` at once.

The status changes here, in the API process, with the guarded ``transition``: if the
worker finishes the build in the same instant, exactly one of the two wins, and a
finished build is never cancelled. The worker learns of it within milliseconds through
the cancel channel (``CANCEL_CHANNEL``, every worker subscribes) and, should that
message be lost, within a second by polling its build's row; it then closes the docker
stream, which stops the build step in the engine. A queued build's arq job is dropped
(a job that starts anyway finds the build finished and leaves it alone).

ServiceError
└── Conflict
    └── BuildFinished       409 BUILD_FINISHED (it succeeded, failed ... already)
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import logs, outbox, queries
from buildsvc.builds.states import FINISHED, UNFINISHED, BuildStatus
from buildsvc.builds.store import transition
from buildsvc.errors import Conflict, ServiceError
from buildsvc.store.models import Build

log = logging.getLogger(__name__)

CANCEL_CHANNEL = "buildsvc:cancel"


class BuildFinished(Conflict):
    code = "BUILD_FINISHED"
    default_message = "The build has already finished."


class Cancelled(ServiceError):
    """What a cancelled build records as its error."""

    code = "BUILD_CANCELLED"
    status = 409
    default_message = "The build was cancelled."


async def cancel_build(
    sessionmaker: async_sessionmaker[AsyncSession],
    pool: outbox.LazyArqPool,
    account_id: int,
    build_id: int,
    *,
    by: str,
) -> Build:
    """Cancel the account's build; cancelling a cancelled build again is a no-op.

    ``by`` names who asked ("acme (token ci-deploy)"): pages show "cancelled by" it,
    a person's choice rather than a failure.
    """
    build = await queries.get_build(sessionmaker, account_id, build_id)
    while build.status not in FINISHED:
        was = BuildStatus(build.status)
        reason = Cancelled(detail=f"cancelled by {by} while {was.value}")
        async with sessionmaker.begin() as session:
            moved = await transition(
                session,
                build_id,
                BuildStatus.CANCELLED,
                only_from=[was],
                cancel_requested=True,
                cancelled_by=by[:255],
                error_code=reason.code,
                error_message=reason.message,
                error_detail=reason.detail,
            )
        if moved:
            await _tell_others(pool, build, was)
        # Moved or not (the status changed meanwhile), the row now says what happened.
        build = await queries.get_build(sessionmaker, account_id, build_id)
    if build.status != BuildStatus.CANCELLED:
        raise BuildFinished(detail=f"build {build_id} is {build.status}")
    return build


async def _tell_others(pool: outbox.LazyArqPool, build: Build, was: BuildStatus) -> None:
    """Workers stop it, followers of its log end, its job leaves the queue."""
    redis = await pool.get()
    if redis is None:  # workers notice by polling; followers by their status checks
        return
    await logs.publish_end(redis, build.id, BuildStatus.CANCELLED)
    try:
        if was in UNFINISHED - {BuildStatus.QUEUED}:
            await redis.publish(CANCEL_CHANNEL, str(build.id))
        else:
            await outbox.drop(redis, outbox.job_id(build.id, build.attempt))
    except logs.REDIS_ERRORS as exc:
        log.warning("could not tell workers that build %s was cancelled: %s", build.id, exc)
