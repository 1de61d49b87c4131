"""Commit statuses, the API's half: ``pending`` for builds as they are queued.

The worker reports ``running`` and the end (``buildsvc.worker.commit_status``); every
status links to the build's console page (``build_page_url``). Reporting never stands in
a build's way: ``QueuedStatus.report`` returns at once (the webhook answer does not wait
for the forge), the posts run in the background with a deadline, and a refusal only
leaves a ``status_note`` on the build. A refused token also marks the binding broken
(the client is a ``bindings.watch.WatchedClient``).

Posts are coalesced: builds reported while a batch is in flight go in the next batch, a
build no longer queued by then is left to the worker (its ``running`` must not be
overwritten by a late ``pending``), and one post per commit and repository covers the
builds of several rules. So a burst of pushes costs the forge one call per commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.bindings.access import SourceAccess
from buildsvc.bindings.watch import BROKEN
from buildsvc.builds.states import BuildStatus
from buildsvc.errors import ServiceError
from buildsvc.sources.base import CommitState
from buildsvc.store.models import Build, ImageRepository, SourceBinding

log = logging.getLogger(__name__)

CONCURRENCY = 4
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


class QueuedStatus:
    """Posts ``pending`` for queued builds in the background; one per API process."""

    def __init__(self, access: SourceAccess, *, concurrency: int = CONCURRENCY) -> None:
        self._access = access
        self._limit = asyncio.Semaphore(concurrency)
        self._pending: set[int] = set()
        self._drainer: asyncio.Task[None] | None = None

    def report(self, build_ids: Iterable[int]) -> None:
        self._pending.update(build_ids)
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
                batch, self._pending = self._pending, set()
                try:
                    targets = await self._load(batch)
                except Exception:  # the database hiccuped: these builds go without
                    log.exception("could not load %d build(s) for commit statuses", len(batch))
                    continue
                await asyncio.gather(*(self._post(target) for target in targets))
        finally:
            self._drainer = None

    async def _load(self, build_ids: set[int]) -> list[_Target]:
        statement = (
            select(Build.id, Build.commit_sha, ImageRepository.source_repository, SourceBinding)
            .join(ImageRepository, ImageRepository.id == Build.repository_id)
            .join(
                SourceBinding,
                and_(
                    SourceBinding.account_id == Build.account_id,
                    SourceBinding.provider == ImageRepository.provider,
                ),
            )
            .where(
                Build.id.in_(sorted(build_ids)),
                Build.status == BuildStatus.QUEUED.value,
                SourceBinding.status != BROKEN,  # its builds fail at once anyway
            )
            .order_by(Build.id.desc())
        )
        async with self._access.sessionmaker() as session:
            rows = (await session.execute(statement)).all()
        newest: dict[tuple[str, str], _Target] = {}
        for build_id, sha, source_repository, binding in rows:
            newest.setdefault(
                (source_repository, sha), _Target(build_id, sha, source_repository, binding)
            )
        return list(newest.values())

    async def _post(self, target: _Target) -> None:
        settings = self._access.settings
        async with self._limit:
            try:
                client = self._access.open(target.binding)
                async with asyncio.timeout(settings.source_timeout_seconds * 3):
                    await client.set_commit_status(
                        target.source_repository,
                        target.sha,
                        "pending",
                        target_url=build_page_url(settings.public_url, target.build_id),
                        description="Build queued",
                    )
            except (ServiceError, TimeoutError) as exc:
                await self._note(target.build_id, not_set_note("pending", exc))
            except Exception:  # best effort by contract: a bug here must not touch a build
                log.exception("commit status of build %s failed", target.build_id)

    async def _note(self, build_id: int, text: str) -> None:
        try:
            await note(self._access.sessionmaker, build_id, text)
        except Exception:
            log.exception("could not note a commit status failure on build %s", build_id)
