"""The writes of a replication row while its job runs: copying, done or failed.

Each write names the row's generation: once the tag is planned again (a newer push of
it, a manual run) the older job's writes match nothing, and ``begin`` tells it to stop.
Every attempt leaves one line in the row's log (kept to the last ``LOG_LINES``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.replication.copy import CopyReport
from buildsvc.replication.errors import CopyFailed
from buildsvc.store.models import ImageRepository, ReplicatedBlob, Replication, ReplicationRule

__all__ = ["Attempt", "begin", "fail", "finish", "is_current", "mount_source"]

Sessions = async_sessionmaker[AsyncSession]
LOG_LINES = 50


@dataclass(frozen=True, slots=True)
class Attempt:
    """What a job needs to copy one row, read when its attempt begins."""

    replication_id: int
    generation: int
    number: int
    tag: str
    digest: str
    source_repository: str
    rule: ReplicationRule  # detached: read only
    destination_repository: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(row: Replication, line: str) -> None:
    row.log = [*row.log, f"{_now()} {line}"][-LOG_LINES:]


async def _current(
    session: AsyncSession, replication_id: int, generation: int
) -> Replication | None:
    row = await session.get(Replication, replication_id, with_for_update=True)
    return row if row is not None and row.generation == generation else None


async def begin(sessions: Sessions, replication_id: int, generation: int) -> Attempt | None:
    """Mark the row copying and count the attempt; None when it is no longer this job's."""
    async with sessions.begin() as session:
        row = await _current(session, replication_id, generation)
        if row is None or row.status == "done":
            return None
        rule = await session.get(ReplicationRule, row.rule_id)
        repo = await session.get(ImageRepository, row.repository_id)
        if rule is None or repo is None or not rule.enabled:
            return None
        row.status = "copying"
        row.retry_at = None
        row.attempts += 1
        _log(row, f"attempt {row.attempts}: copying {row.digest} to {row.destination}")
        session.expunge(rule)
        return Attempt(
            replication_id=row.id,
            generation=row.generation,
            number=row.attempts,
            tag=row.tag,
            digest=row.digest,
            source_repository=f"{repo.namespace}/{repo.name}",
            rule=rule,
            destination_repository=row.destination.split("/", 1)[1].rsplit(":", 1)[0],
        )


async def is_current(sessions: Sessions, attempt: Attempt) -> bool:
    async with sessions() as session:
        generation = await session.scalar(
            select(Replication.generation).where(Replication.id == attempt.replication_id)
        )
    return generation == attempt.generation


async def finish(sessions: Sessions, attempt: Attempt, report: CopyReport) -> None:
    async with sessions.begin() as session:
        row = await _current(session, attempt.replication_id, attempt.generation)
        if row is None:
            return
        row.status = "done"
        row.error_code = None
        row.error_detail = None
        _log(
            row,
            f"attempt {attempt.number}: done: {report.uploaded} blobs uploaded "
            f"({report.bytes_uploaded} bytes), {report.mounted} mounted, "
            f"{report.present} already there",
        )
    await _record_blobs(sessions, attempt, report.blobs)


async def fail(
    sessions: Sessions, attempt: Attempt, error: CopyFailed, retry_in: float | None
) -> None:
    async with sessions.begin() as session:
        row = await _current(session, attempt.replication_id, attempt.generation)
        if row is None:
            return
        row.status = "failed"
        row.error_code = error.registry_code
        row.error_detail = error.detail
        if retry_in is not None:
            row.retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_in)
        then = f"retry in {retry_in:.1f} s" if retry_in is not None else "no more retries"
        _log(
            row, f"attempt {attempt.number}: failed: {error.registry_code}: {error.detail}; {then}"
        )


async def _record_blobs(sessions: Sessions, attempt: Attempt, blobs: set[str]) -> None:
    """Remember which blobs the destination repository holds, for later mounts."""
    url = attempt.rule.destination_url
    repository = attempt.destination_repository
    async with sessions() as session:
        known = set(
            await session.scalars(
                select(ReplicatedBlob.digest).where(
                    ReplicatedBlob.destination_url == url,
                    ReplicatedBlob.repository == repository,
                    ReplicatedBlob.digest.in_(blobs),
                )
            )
        )
    for digest in sorted(blobs - known):
        try:
            async with sessions.begin() as session:
                session.add(
                    ReplicatedBlob(destination_url=url, repository=repository, digest=digest)
                )
        except IntegrityError:  # a job copying the same blob recorded it first
            continue


async def mount_source(
    sessions: Sessions, destination_url: str, repository: str, digest: str
) -> str | None:
    """Another repository of the destination we copied ``digest`` to, if any."""
    async with sessions() as session:
        return await session.scalar(
            select(ReplicatedBlob.repository)
            .where(
                ReplicatedBlob.destination_url == destination_url,
                ReplicatedBlob.digest == digest,
                ReplicatedBlob.repository != repository,
            )
            .limit(1)
        )
