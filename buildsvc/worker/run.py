"""``run_build(ctx, build_id)``: the arq job that takes one build to its end.

Idempotent: ``claim`` leaves finished, claimed, superseded builds alone and defers a
build waiting behind its ref's running build (``RetryLater``; the running build kicks it
when it ends). A claimed build runs its pipeline as a task of its own, watched
(heartbeat, cancel) and bounded by ``settings.build_timeout_seconds``; then exactly one
ending is recorded with the guarded ``transition``, owned by this worker:

======================  =============================================================
pipeline                build
======================  =============================================================
returned a digest       ``succeeded`` (digest recorded)
raised a step error     ``failed`` with its code, message and detail (masked)
raised anything else    ``failed`` with ``INTERNAL_ERROR`` (and a logged traceback)
ran out of time         ``timed_out`` (the docker stream closed: the step stops)
was cancelled           left as the API set it (``cancelled``)
lost its build          left to its new owner (log writing stops at once)
worker shutting down    finishes within the grace period (``settings.
                        worker_shutdown_grace_seconds``) as above; past it, back
                        to ``queued``, and arq runs the job again elsewhere
======================  =============================================================
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from buildsvc.builds import logs, outbox, store
from buildsvc.builds.states import BuildStatus
from buildsvc.errors import ServiceError
from buildsvc.queue import RetryLater
from buildsvc.worker import commit_status
from buildsvc.worker.claim import Job, Skip, Wait, claim
from buildsvc.worker.deps import WorkerDeps
from buildsvc.worker.logs import BuildLog, build_masker
from buildsvc.worker.masking import Masker
from buildsvc.worker.outcomes import (
    BuildTimedOut,
    InternalBuildError,
    NotOwner,
    Pushed,
    StopReason,
)
from buildsvc.worker.pipeline import (
    GitCredentials,
    git_credentials,
    open_secret_args,
    run_pipeline,
)
from buildsvc.worker.watch import Handle, row, verdict, watch

log = logging.getLogger(__name__)

DEPS = "buildsvc"  # the arq ctx key of the process's WorkerDeps
WAIT_SECONDS = 5.0  # a deferred build looks again this late, unless it is kicked first


async def run_build(ctx: dict[str, Any], build_id: int) -> str:
    deps: WorkerDeps = ctx[DEPS]
    claimed = await claim(deps, build_id)
    if isinstance(claimed, Skip):
        log.info("build %s skipped: %s", build_id, claimed.reason)
        return f"skipped: {claimed.reason}"
    if isinstance(claimed, Wait):
        log.info("build %s waits: %s", build_id, claimed.reason)
        raise RetryLater(claimed.seconds or WAIT_SECONDS)
    status = await execute(deps, claimed)
    return status.value if status else "stopped"


Ending = tuple[BuildStatus, dict[str, Any]]
NOTICE_STEP = "failed_step"  # in an Ending's fields: for the notification, not a column


async def execute(deps: WorkerDeps, job: Job) -> BuildStatus | None:
    """Run a claimed build to its end; the status it ended in (None: not ours to end)."""
    password = deps.settings.registry_password
    credentials: GitCredentials | None = None
    try:
        job = open_secret_args(deps, job)
        credentials = git_credentials(deps, job)
    except ServiceError as exc:  # unbound, or a key retired too early: fails the build
        refused = exc
    masker = build_masker(
        token=credentials.token if credentials else None,
        git_username=credentials.username if credentials else None,
        registry_password=password.get_secret_value() if password else job.registry_secret,
        secret_values=job.secret_values,
    )
    async with BuildLog(
        deps.sessionmaker, deps.redis, job.build_id, masker, first_seq=job.first_seq
    ) as build_log:
        build_log.write(
            f"Build {job.build_id}: {job.source_repository} {job.ref} at {job.commit_sha}"
            + (f" (attempt {job.attempt + 1})" if job.attempt else "")
        )
        if credentials is None:
            ending: Ending | BuildStatus | None = _failure(refused, masker)
        else:
            commit_status.report(deps, job, "running", "Building the image")
            ending = await _supervise(deps, job, build_log, credentials, masker)
        if ending is None:
            build_log.detach()
            return None
        if isinstance(ending, BuildStatus):  # cancelled through the API
            build_log.write("Build cancelled.")
            await build_log.flush()
            await _after(deps, job, ending)
            return ending
        build_log.write(_summary(*ending, job))
        status = await _end(deps, job, build_log, ending)
        if status is None and verdict(job, await row(deps, job.build_id)) is StopReason.CANCELLED:
            build_log.write("The build was cancelled meanwhile; this result is not recorded.")
        elif status is None:
            build_log.detach()  # another worker owns it now
    return status


async def _supervise(
    deps: WorkerDeps, job: Job, build_log: BuildLog, credentials: GitCredentials, masker: Masker
) -> Ending | BuildStatus | None:
    """Run the pipeline watched and under the deadline; how it ended."""
    timeout = deps.settings.build_timeout_seconds
    work = asyncio.create_task(run_pipeline(deps, job, build_log, credentials))
    handle = Handle(job, work)
    deps.running[job.build_id] = handle.canceller()
    watcher = asyncio.create_task(watch(deps, handle))
    try:
        done, _ = await asyncio.wait({work}, timeout=timeout)
        if not done:
            handle.stop(StopReason.TIMED_OUT)
            await asyncio.wait({work})
    except asyncio.CancelledError:
        handle.stop(StopReason.SHUTDOWN)
        await asyncio.shield(asyncio.wait({work}))
        await asyncio.shield(_requeue(deps, job, build_log))
        raise
    finally:
        watcher.cancel()
        deps.running.pop(job.build_id, None)
    return _ending(handle, work, masker, timeout)


def _failure(exc: ServiceError, masker: Masker) -> Ending:
    # Step output (a failing RUN's last lines) may show a secret build arg: mask it.
    detail = masker.mask(exc.detail) if exc.detail else None
    step = getattr(exc, "step", None)  # BuildFailed's, for the build.failed notification
    return BuildStatus.FAILED, {
        "error_code": exc.code,
        "error_message": masker.mask(exc.message),
        "error_detail": detail,
        NOTICE_STEP: masker.mask(step) if step else None,
    }


def _ending(
    handle: Handle, work: asyncio.Task[Pushed], masker: Masker, timeout: int
) -> Ending | BuildStatus | None:
    if handle.reason is StopReason.LOST:
        return None
    if handle.reason is StopReason.CANCELLED:
        return BuildStatus.CANCELLED
    if handle.reason is StopReason.TIMED_OUT:
        error = BuildTimedOut(detail=f"the build did not finish within {timeout} s and was stopped")
        return BuildStatus.TIMED_OUT, _failure(error, masker)[1]
    exc = work.exception()
    if isinstance(exc, NotOwner):
        return None
    if isinstance(exc, ServiceError):
        return _failure(exc, masker)
    if exc is not None:
        log.error("build %s failed unexpectedly", handle.job.build_id, exc_info=exc)
        return _failure(InternalBuildError(detail=type(exc).__name__), masker)
    pushed = work.result()
    return BuildStatus.SUCCEEDED, {"digest": pushed.digest, "image_size": pushed.size}


def _summary(status: BuildStatus, fields: dict[str, Any], job: Job) -> str:
    if status is BuildStatus.SUCCEEDED:
        return f"Build succeeded: {job.tags[0]}@{fields['digest']}"
    return f"Build {status.value}: {fields['error_code']}: {fields['error_message']}"


async def _end(
    deps: WorkerDeps, job: Job, build_log: BuildLog, ending: Ending
) -> BuildStatus | None:
    """Record the ending with the last lines (the summary) in one transaction.

    Followers end on the status, so it must not be seen before the lines; the lines are
    stored even if the status does not move (cancelled meanwhile, or not ours anymore).
    """
    status, fields = ending
    columns = {name: value for name, value in fields.items() if name != NOTICE_STEP}
    notice = {"step": fields[NOTICE_STEP]} if fields.get(NOTICE_STEP) else None

    async def record(session: AsyncSession) -> bool:
        return await store.transition(
            session,
            job.build_id,
            status,
            where=job.owned(),
            heartbeat_at=None,
            notice=notice,
            **columns,
        )

    moved, last = await build_log.flush_with(record)
    if not moved:
        return None
    # With ``last``, a follower holding that line ends without reading the store.
    await logs.publish_end(deps.redis, job.build_id, status, last=last)
    await _after(deps, job, status)
    return status


async def _after(deps: WorkerDeps, job: Job, status: BuildStatus) -> None:
    """Tell the forge, and let the next build of the same ref start now."""
    state = commit_status.FINAL_STATES.get(status)
    if state is not None:
        commit_status.report(deps, job, state, f"Build {status.value}")
    if deps.redis is None:
        return
    waiting = await store.queued_in_lane(deps.sessionmaker, job.repository_id, job.ref, job.rule_id)
    for build_id, attempt in waiting:
        try:
            await outbox.kick(deps.redis, outbox.job_id(build_id, attempt))
        except logs.REDIS_ERRORS as exc:  # it starts after WAIT_SECONDS anyway
            log.warning("could not kick build %s: %s", build_id, exc)


async def _requeue(deps: WorkerDeps, job: Job, build_log: BuildLog) -> None:
    """The worker is stopping: give the build back (arq retries the job elsewhere)."""
    async with deps.sessionmaker.begin() as session:
        moved = await store.transition(
            session,
            job.build_id,
            BuildStatus.QUEUED,
            where=job.owned(),
            worker_id=None,
            heartbeat_at=None,
            fetching_at=None,
            building_at=None,
            pushing_at=None,
        )
    if moved:
        grace = deps.settings.worker_shutdown_grace_seconds
        build_log.write(
            f"The worker is shutting down and the build did not finish within its {grace:g} s"
            " grace period; the build is queued again."
        )
    else:
        build_log.detach()
