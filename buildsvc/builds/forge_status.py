"""Commit statuses, the API's half: ``pending`` for builds as they are queued, and
``canceled`` for builds cancelled before a worker took them.

The worker reports ``running`` and the end (``buildsvc.worker.commit_status``); every
status links to the build's console page (``build_page_url``). Reporting never stands in
a build's way: ``QueuedStatus.report`` returns at once (the webhook answer does not wait
for the forge), the posts run in the background with a deadline, and a refusal only
leaves a ``status_note`` on the build. A refused token also marks the binding broken
(the client is a ``bindings.watch.WatchedClient``).

Posts are coalesced: builds reported within ``BATCH_DELAY_SECONDS`` (and while a batch
is in flight) go in one batch, a build no longer queued by then is left to the worker
(its ``running`` must not be overwritten by a late ``pending``), and one post per commit
and repository covers the builds of several rules. So a burst of pushes costs the forge
a few calls a second, and the webhook path one set insertion per delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from buildsvc.bindings.access import SourceAccess
from buildsvc.bindings.watch import BROKEN
from buildsvc.builds.states import UNFINISHED, BuildStatus
from buildsvc.errors import ServiceError
from buildsvc.sources.base import CommitState
from buildsvc.store.models import Build, ImageRepository, SourceBinding

log = logging.getLogger(__name__)

CONCURRENCY = 4
# Batches start at most this often: a burst of deliveries (or a benchmark) costs the
# forge, the database and this process a few calls a second, not one per delivery.
BATCH_DELAY_SECONDS = 0.25
REPEAT_SECONDS = 2.0  # a commit set pending is not set pending again this soon
CLOSE_TIMEOUT_SECONDS = 5.0


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
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Build)
            .where(Build.id == build_id)
            .values(status_note=text[:1000])
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class _Target:
    build_id: int
    sha: str
    source_repository: str
    binding: SourceBinding
    state: CommitState


DESCRIPTIONS: dict[CommitState, str] = {
    "pending": "Build queued",
    "canceled": "Build cancelled before it started",
}


class QueuedStatus:
    """Posts the statuses the worker cannot, in the background; one per API process.

    ``report(ids)``: ``pending`` for builds still queued. ``report(ids, "canceled")``:
    for builds cancelled while queued (never started: no worker reports them), unless
    another build of the same commit is still on its way (its status must stay).
    """

    def __init__(self, access: SourceAccess, *, concurrency: int = CONCURRENCY) -> None:
        self._access = access
        self._limit = asyncio.Semaphore(concurrency)
        self._pending: dict[int, CommitState] = {}
        self._drainer: asyncio.Task[None] | None = None
        # (repository id, commit) -> when this process last set it pending.
        self._recent: dict[tuple[int, str], float] = {}

    def report(self, build_ids: Iterable[int], state: CommitState = "pending") -> None:
        self._pending.update(dict.fromkeys(build_ids, state))
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
                    targets = await self._load(batch)
                except Exception:  # the database hiccuped: these builds go without
                    log.exception("could not load %d build(s) for commit statuses", len(batch))
                    continue
                await asyncio.gather(*(self._post(target) for target in targets))
        finally:
            self._drainer = None

    async def _load(self, batch: dict[int, CommitState]) -> list[_Target]:
        other = aliased(Build)
        on_its_way = (
            select(other.id)
            .where(
                other.repository_id == Build.repository_id,
                other.commit_sha == Build.commit_sha,
                other.status.in_([s.value for s in UNFINISHED]),
            )
            .exists()
        )
        wanted = or_(
            Build.status == BuildStatus.QUEUED.value,
            and_(
                Build.status == BuildStatus.CANCELLED.value,
                Build.fetching_at.is_(None),
                ~on_its_way,
            ),
        )
        builds = (
            select(Build.id, Build.status, Build.repository_id, Build.commit_sha)
            .where(Build.id.in_(sorted(batch)), wanted)
            .order_by(Build.id.desc())
        )
        async with self._access.sessionmaker() as session:
            newest: dict[tuple[int, str], tuple[int, CommitState]] = {}
            for build_id, status, repository_id, sha in (await session.execute(builds)).all():
                state = batch[build_id]
                if (state == "pending") == (status == BuildStatus.QUEUED.value):
                    newest.setdefault((repository_id, sha), (build_id, state))
                # else it moved on since it was reported: not this status any more
            newest = self._not_repeated(newest)
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
                    ImageRepository.id.in_({repository_id for repository_id, _ in newest}),
                    SourceBinding.status != BROKEN,  # its builds fail at once anyway
                )
            )
            found: dict[int, tuple[str, SourceBinding]] = {
                repository_id: (source_repository, binding)
                for repository_id, source_repository, binding in await session.execute(sources)
            }
        targets = []
        for (repository_id, sha), (build_id, state) in newest.items():
            if repository_id in found:
                source_repository, binding = found[repository_id]
                targets.append(_Target(build_id, sha, source_repository, binding, state))
        return targets

    def _not_repeated(
        self, newest: dict[tuple[int, str], tuple[int, CommitState]]
    ) -> dict[tuple[int, str], tuple[int, CommitState]]:
        """Without commits set pending moments ago (the same commit pushed again and
        again): the forge shows pending already, the worker reports from running on."""
        now = time.monotonic()
        self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_SECONDS}
        kept = {}
        for key, (build_id, state) in newest.items():
            if state == "pending":
                if key in self._recent:
                    continue
                self._recent[key] = now
            kept[key] = (build_id, state)
        return kept

    async def _post(self, target: _Target) -> None:
        settings = self._access.settings
        async with self._limit:
            try:
                client = self._access.open(target.binding)
                async with asyncio.timeout(settings.source_timeout_seconds * 3):
                    await client.set_commit_status(
                        target.source_repository,
                        target.sha,
                        target.state,
                        target_url=build_page_url(settings.public_url, target.build_id),
                        description=DESCRIPTIONS[target.state],
                    )
            except (ServiceError, TimeoutError) as exc:
                await self._note(target.build_id, not_set_note(target.state, exc))
            except Exception:  # best effort by contract: a bug here must not touch a build
                log.exception("commit status of build %s failed", target.build_id)

    async def _note(self, build_id: int, text: str) -> None:
        try:
            await note(self._access.sessionmaker, build_id, text)
        except Exception:
            log.exception("could not note a commit status failure on build %s", build_id)
