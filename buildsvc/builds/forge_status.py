"""Commit statuses, the API's half: ``pending`` for builds as they are queued, and the
end of builds no worker ever takes: ``canceled`` for a build cancelled while queued,
``canceled`` "Superseded by build N" for one a newer push or build made pointless.

The worker reports ``running`` and the end (``buildsvc.worker.commit_status``). Every
status goes under its build's name (``Build.status_context``, one per image repository
and rule: ``builds.status_context``) and links to the build's console page
(``build_page_url``). Reporting never stands in a build's way: ``QueuedStatus.report``
returns at once (the webhook answer does not wait for the forge), the posts run in the
background with a deadline, and a refusal only leaves a ``status_note`` on the build. A
refused token also marks the binding broken (the client is a ``bindings.watch``
``WatchedClient``).

A cancelled or superseded build gets no final status while another build of the same
commit under the same name is newer or still on its way: that build's own statuses
cover the commit (a newer push of the same commit, a rebuild).

Posts are coalesced: builds reported within ``BATCH_DELAY_SECONDS`` (and while a batch
is in flight) go in one batch, a build no longer in the status it was reported for is
left alone (a late ``pending`` must not overwrite a worker's ``running``), and one post
per commit and name covers several builds. So a burst of pushes costs the forge a few
calls a second, and the webhook path one dict update per delivery.

Order: batches run one after the other, so this process never posts a build's
``pending`` after its final status. Another process may supersede or cancel a build
while its ``pending`` is on the way here (a second API process, a worker's ``claim``),
so the builds whose ``pending`` was just posted are read again after each batch, and
those that ended meanwhile get their final status (again) in the next batch, after the
``pending``. Workers use the unbatched ``post_now``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from buildsvc.bindings.access import SourceAccess
from buildsvc.bindings.watch import BROKEN
from buildsvc.builds import store
from buildsvc.builds.states import UNFINISHED, BuildStatus
from buildsvc.builds.status_context import LEGACY
from buildsvc.errors import ServiceError
from buildsvc.sources import CommitState
from buildsvc.store.models import Build, ImageRepository, SourceBinding

log = logging.getLogger(__name__)

CONCURRENCY = 4
# Batches start at most this often: a burst of deliveries (or a benchmark) costs the
# forge, the database and this process a few calls a second, not one per delivery.
BATCH_DELAY_SECONDS = 0.25
REPEAT_SECONDS = 2.0  # a commit set pending is not set pending again this soon
CLOSE_TIMEOUT_SECONDS = 5.0

Report = Literal["pending", "canceled", "superseded", "lost"]
# The build status each report is for, and the commit state it posts.
BUILD_STATUS: dict[Report, BuildStatus] = {
    "pending": BuildStatus.QUEUED,
    "canceled": BuildStatus.CANCELLED,
    "superseded": BuildStatus.SUPERSEDED,
    "lost": BuildStatus.FAILED,  # WORKER_LOST: its worker died, so the reaper reports it
}
COMMIT_STATE: dict[Report, CommitState] = {
    "pending": "pending",
    "canceled": "canceled",  # GitHub "error", Bitbucket STOPPED / FAILED (the adapters)
    "superseded": "canceled",
    "lost": "failed",
}
# How a build that never ran ended (its status), as a report.
_ENDED: dict[str, Report] = {
    BuildStatus.SUPERSEDED.value: "superseded",
    BuildStatus.CANCELLED.value: "canceled",
}
DESCRIPTIONS: dict[Report, str] = {
    "pending": "Build queued",
    "canceled": "Build cancelled before it started",
    "superseded": "Superseded by a newer build",
    "lost": "Build failed: its worker was lost",
}


def build_page_url(public_url: str, build_id: int) -> str:
    """Where a commit status links: the build's page in the console."""
    return f"{public_url.rstrip('/')}/console/builds/{build_id}"


def not_set_note(state: CommitState, exc: BaseException) -> str:
    """The ``status_note`` for a status the forge did not take."""
    if isinstance(exc, ServiceError):
        why = f"{exc.code}: {exc.detail or exc.message}"
    else:
        why = "the forge did not answer in time"
    return f"commit status '{state}' not set on the forge ({why})"


async def note(sessionmaker: async_sessionmaker[AsyncSession], build_id: int, text: str) -> None:
    await store.note_status(sessionmaker, build_id, text)


@dataclass(frozen=True, slots=True)
class Target:
    """One post: a build's commit, the status's name, what to say."""

    build_id: int
    report: Report
    repository_id: int
    sha: str
    context: str
    source_repository: str
    binding: SourceBinding
    description: str

    @property
    def state(self) -> CommitState:
        return COMMIT_STATE[self.report]


@functools.cache  # built once: constructing it costs ~2 ms, on the event loop
def _wanted() -> ColumnElement[bool]:
    """Builds still as reported: queued, ended before a worker took them, or failed as
    their worker was lost, and not covered by another build of the same commit and
    name (newer, or on its way)."""
    other = aliased(Build)
    covered = (
        select(other.id)
        .where(
            other.repository_id == Build.repository_id,
            other.commit_sha == Build.commit_sha,
            other.status_context.is_not_distinct_from(Build.status_context),
            or_(other.id > Build.id, other.status.in_([s.value for s in UNFINISHED])),
        )
        .exists()
    )
    return or_(
        Build.status == BuildStatus.QUEUED.value,
        and_(Build.status == BuildStatus.CANCELLED.value, Build.fetching_at.is_(None), ~covered),
        and_(Build.status == BuildStatus.SUPERSEDED.value, ~covered),
        and_(Build.status == BuildStatus.FAILED.value, Build.error_code == "WORKER_LOST", ~covered),
    )


@functools.cache  # as _wanted: ~1.5 ms to build
def _superseder() -> ColumnElement[int | None]:
    """For a superseded build: the first newer build of its ref, one of its name first."""
    newer = aliased(Build)

    def first(*same: ColumnElement[bool]) -> ColumnElement[int | None]:
        return (
            select(func.min(newer.id))
            .where(
                newer.repository_id == Build.repository_id,
                newer.ref == Build.ref,
                newer.id > Build.id,
                *same,
            )
            .scalar_subquery()
        )

    named = first(newer.status_context.is_not_distinct_from(Build.status_context))
    return case(
        (Build.status == BuildStatus.SUPERSEDED.value, func.coalesce(named, first())),
        else_=None,
    )


def _description(report: Report, superseder: int | None) -> str:
    if report == "superseded" and superseder is not None:
        return f"Superseded by build {superseder}"
    return DESCRIPTIONS[report]


async def load_targets(
    sessionmaker: async_sessionmaker[AsyncSession], batch: Mapping[int, Report]
) -> list[Target]:
    """The posts a batch of reports needs: per commit and name, its newest build."""
    builds = (
        select(
            Build.id,
            Build.status,
            Build.repository_id,
            Build.commit_sha,
            Build.status_context,
            _superseder(),
        )
        .where(Build.id.in_(sorted(batch)), _wanted())
        .order_by(Build.id.desc())
    )
    newest: dict[tuple[int, str, str], tuple[int, Report, int | None]] = {}
    async with sessionmaker() as session:
        for build_id, status, repository_id, sha, context, superseder in (
            await session.execute(builds)
        ).all():
            report = batch[build_id]
            if status == BUILD_STATUS[report].value:  # else it moved on since reported
                key = (repository_id, sha, context or LEGACY)
                newest.setdefault(key, (build_id, report, superseder))
        if not newest:
            return []
        sources = (
            select(ImageRepository.id, ImageRepository.source_repository, SourceBinding)
            .join(
                SourceBinding,
                and_(
                    SourceBinding.account_id == ImageRepository.account_id,
                    SourceBinding.provider == ImageRepository.provider,
                ),
            )
            .where(
                ImageRepository.id.in_({repository_id for repository_id, _, _ in newest}),
                SourceBinding.status != BROKEN,  # its builds fail at once anyway
            )
        )
        found: dict[int, tuple[str, SourceBinding]] = {
            repository_id: (source_repository, binding)
            for repository_id, source_repository, binding in await session.execute(sources)
            if source_repository is not None  # joined by provider: always linked
        }
    targets = []
    for (repository_id, sha, context), (build_id, report, superseder) in newest.items():
        if repository_id in found:
            source_repository, binding = found[repository_id]
            description = _description(report, superseder)
            targets.append(
                Target(
                    build_id,
                    report,
                    repository_id,
                    sha,
                    context,
                    source_repository,
                    binding,
                    description,
                )
            )
    return targets


async def post(access: SourceAccess, target: Target) -> None:
    """Set one status; a refusal or a bug only notes the build."""
    settings = access.settings
    try:
        client = access.open(target.binding)
        async with asyncio.timeout(settings.source_timeout_seconds * 3):
            await client.set_commit_status(
                target.source_repository,
                target.sha,
                target.state,
                context=target.context,
                target_url=build_page_url(settings.public_url, target.build_id),
                description=target.description,
            )
    except (ServiceError, TimeoutError) as exc:
        try:
            await note(access.sessionmaker, target.build_id, not_set_note(target.state, exc))
        except Exception:
            log.exception("could not note a commit status failure on build %s", target.build_id)
    except Exception:  # best effort by contract: a bug here must not touch a build
        log.exception("commit status of build %s failed", target.build_id)


async def post_now(access: SourceAccess, build_ids: Iterable[int], report: Report) -> None:
    """Unbatched, for workers: the statuses of ``build_ids``, now (await it in the
    background: ``WorkerDeps.spawn``)."""
    try:
        targets = await load_targets(access.sessionmaker, dict.fromkeys(build_ids, report))
    except Exception:  # the database hiccuped: these builds go without
        log.exception("could not load builds for commit statuses")
        return
    await asyncio.gather(*(post(access, target) for target in targets))


class QueuedStatus:
    """Posts the statuses the worker cannot, in the background; one per API process.

    ``report(ids)``: ``pending`` for builds still queued. ``report(ids, "canceled")``:
    for builds cancelled while queued (never started: no worker reports them);
    ``report(ids, "superseded")``: for builds superseded while queued.
    """

    def __init__(self, access: SourceAccess, *, concurrency: int = CONCURRENCY) -> None:
        self._access = access
        self._limit = asyncio.Semaphore(concurrency)
        self._pending: dict[int, Report] = {}
        self._drainer: asyncio.Task[None] | None = None
        # (repository id, commit, name) -> when this process last set it pending.
        self._recent: dict[tuple[int, str, str], float] = {}

    def report(self, build_ids: Iterable[int], report: Report = "pending") -> None:
        for build_id in build_ids:
            self._pending[build_id] = report
        if self._pending and self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def close(self, grace: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Let the posts in flight finish (bounded), then stop."""
        drainer = self._drainer
        if drainer is None:
            return
        _, running = await asyncio.wait({drainer}, timeout=grace)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(BATCH_DELAY_SECONDS)  # gather a burst into one batch
                batch, self._pending = self._pending, {}
                try:
                    targets = await load_targets(self._access.sessionmaker, batch)
                except Exception:  # the database hiccuped: these builds go without
                    log.exception("could not load %d build(s) for commit statuses", len(batch))
                    continue
                targets = self._not_repeated(targets)
                await asyncio.gather(*(self._post(target) for target in targets))
                await self._ended_meanwhile([t.build_id for t in targets if t.report == "pending"])
        finally:
            self._drainer = None

    def _not_repeated(self, targets: list[Target]) -> list[Target]:
        """Without commits set pending moments ago (the same commit pushed again and
        again): the forge shows pending already, the worker reports from running on."""
        now = time.monotonic()
        self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_SECONDS}
        kept = []
        for target in targets:
            if target.report == "pending":
                key = (target.repository_id, target.sha, target.context)
                if key in self._recent:
                    continue
                self._recent[key] = now
            kept.append(target)
        return kept

    async def _post(self, target: Target) -> None:
        async with self._limit:
            await post(self._access, target)

    async def _ended_meanwhile(self, build_ids: list[int]) -> None:
        """Queue the final status of builds that ended while their pending was posted."""
        if not build_ids:
            return
        statement = select(Build.id, Build.status).where(
            Build.id.in_(build_ids), Build.status.in_(_ENDED)
        )
        try:
            async with self._access.sessionmaker() as session:
                rows = (await session.execute(statement)).all()
        except Exception:
            log.exception("could not read back %d build(s) set pending", len(build_ids))
            return
        for build_id, status in rows:
            self._pending.setdefault(build_id, _ENDED[status])
