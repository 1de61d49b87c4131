"""Best-effort commit statuses on the forge: running when a build starts, then its end.

(``pending`` is set by the API as builds are queued: ``buildsvc.builds.forge_status``.)

Never in the build's way: each report runs in the background with a deadline, and a
failure (token without the right scope, forge down) only leaves a ``status_note`` on the
build saying which status could not be set and why.
"""

from __future__ import annotations

import asyncio
import logging

from buildsvc.bindings.watch import BROKEN
from buildsvc.builds import store
from buildsvc.builds.forge_status import build_page_url
from buildsvc.builds.states import BuildStatus
from buildsvc.errors import ServiceError
from buildsvc.sources import CommitState
from buildsvc.worker.claim import Job
from buildsvc.worker.deps import WorkerDeps

log = logging.getLogger(__name__)

FINAL_STATES: dict[BuildStatus, CommitState] = {
    BuildStatus.SUCCEEDED: "success",
    BuildStatus.FAILED: "failed",
    BuildStatus.TIMED_OUT: "failed",
    BuildStatus.CANCELLED: "canceled",
}


def report(deps: WorkerDeps, job: Job, state: CommitState, description: str) -> None:
    """Set the commit status in the background, after the build's earlier reports.

    Each build's last report (``deps.status_reports``): the next one waits for it, so a
    build that ends within a moment still reaches the forge as running, then its end
    (never the other way round).
    """
    if job.binding is None or job.binding.status == BROKEN:  # the forge refuses the token
        return
    previous = deps.status_reports.get(job.build_id)
    done = asyncio.get_running_loop().create_future()
    deps.status_reports[job.build_id] = done
    deps.spawn(_in_order(deps, job, state, description, previous, done))


async def _in_order(
    deps: WorkerDeps,
    job: Job,
    state: CommitState,
    description: str,
    previous: asyncio.Future[None] | None,
    done: asyncio.Future[None],
) -> None:
    try:
        if previous is not None:
            await asyncio.shield(previous)
        await _report(deps, job, state, description)
    finally:
        done.set_result(None)
        if deps.status_reports.get(job.build_id) is done:
            del deps.status_reports[job.build_id]


async def _report(deps: WorkerDeps, job: Job, state: CommitState, description: str) -> None:
    settings = deps.settings
    target = build_page_url(settings.public_url, job.build_id)
    try:
        assert job.binding is not None
        client = deps.access.open(job.binding)
        async with asyncio.timeout(settings.source_timeout_seconds * 3):
            await client.set_commit_status(
                job.source_repository,
                job.commit_sha,
                state,
                context=job.status_context,
                target_url=target,
                description=description,
            )
    except (ServiceError, TimeoutError) as exc:
        why = (
            f"{exc.code}: {exc.detail or exc.message}"
            if isinstance(exc, ServiceError)
            else ("the forge did not answer in time")
        )
        await _note(deps, job.build_id, f"commit status '{state}' not set on the forge ({why})")
    except Exception:  # best effort by contract: a bug here must not touch the build
        log.exception("commit status of build %s failed", job.build_id)


async def _note(deps: WorkerDeps, build_id: int, note: str) -> None:
    try:
        await store.note_status(deps.sessionmaker, build_id, note)
    except Exception:
        log.exception("could not note a commit status failure on build %s", build_id)
