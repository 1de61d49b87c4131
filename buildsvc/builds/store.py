"""The builds table's one owner: every write of a Build row, and the worker's reads.

Writes: the guarded status move (``transition``: claim, finish, cancel, requeue, reap,
supersede), intake's inserts and supersedes on the raw fast path (``insert_build``,
``supersede_queued``: prepared statements run by ``store.fastpath.writer``), the outbox
mark (``set_enqueued``, ``mark_enqueued``), the heartbeat, the commit status note and
manual builds (``add_builds``). The state machine itself (which moves are allowed) is
``builds.states``; the API's reads are ``builds.queries``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.states import (
    PHASE_TIMESTAMP,
    PREDECESSORS,
    RUNNING,
    BuildStatus,
    can_transition,
)
from buildsvc.notifications.events import NOTIFIED_STATUSES, on_transition
from buildsvc.store.fastpath.prepared import Prepared, RawConnection
from buildsvc.store.models import Build, utcnow

Sessions = async_sessionmaker[AsyncSession]
_COLUMNS = frozenset(Build.__table__.columns.keys())
_QUEUED = BuildStatus.QUEUED.value
_RUNNING = [status.value for status in RUNNING]


async def transition(
    session: AsyncSession,
    build_id: int,
    to: BuildStatus | str,
    *,
    only_from: Iterable[BuildStatus | str] | None = None,
    now: dt.datetime | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    notice: Mapping[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move a build to ``to`` if its current status allows it; True if it moved.

    ``only_from`` narrows the allowed predecessors further (cancel a build only while
    queued, say). ``where`` adds conditions to the same statement (a worker moves only a
    build it still owns: ``Build.worker_id == me``). ``fields`` are other columns to set
    in the same statement (``digest``, ``error_code`` ...). ``notice`` is what the move's
    notification says beyond the row (a failed build's ``step``). Runs in the caller's
    transaction; the caller commits.
    """
    target = BuildStatus(to)
    allowed = PREDECESSORS[target]
    if only_from is not None:
        allowed = allowed & {BuildStatus(status) for status in only_from}
    unknown = set(fields) - _COLUMNS
    if unknown:
        raise TypeError(f"builds has no column(s) {sorted(unknown)}")
    if not allowed:
        return False
    values: dict[str, Any] = {"status": target.value, **fields}
    now = now or utcnow()
    if target in PHASE_TIMESTAMP:
        values.setdefault(PHASE_TIMESTAMP[target], now)
    statement = (
        update(Build)
        .where(Build.id == build_id, Build.status.in_([status.value for status in allowed]))
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    moved = bool(getattr(result, "rowcount", 0) == 1)
    if moved and target.value in NOTIFIED_STATUSES:
        await on_transition(session, build_id, target.value, now, notice or {})
    return moved


def owned(worker_id: str, attempt: int) -> list[ColumnElement[bool]]:
    """Conditions under which a build is still this worker's attempt (for ``transition``)."""
    return [Build.worker_id == worker_id, Build.attempt == attempt]


def same_lane(repository_id: int, ref: str, rule_id: int | None) -> list[ColumnElement[bool]]:
    """Builds of the same repository, ref and rule: they run one at a time, newest wins."""
    rule = Build.rule_id.is_(None) if rule_id is None else Build.rule_id == rule_id
    return [Build.repository_id == repository_id, Build.ref == ref, rule]


# --- intake's fast path: plain functions of a RawConnection, one prepared statement each

INSERT_COLUMNS = (
    "account_id",
    "repository_id",
    "rule_id",
    "trigger",
    "ref",
    "ref_type",
    "ref_name",
    "commit_sha",
    "commit_message",
    "status_context",
    "dockerfile",
    "context",
    "build_args",
    "secret_build_args",
    "no_cache",
    "tags",
    "status",
    "enqueued",
    "cancel_requested",
    "attempt",
    "queued_at",
    "finished_at",  # set when inserted superseded
)
_INSERT = Prepared(insert(Build).returning(Build.id), column_keys=INSERT_COLUMNS)
# queued -> superseded, as ``transition`` would allow it, for every older build of a ref.
assert can_transition(BuildStatus.QUEUED, BuildStatus.SUPERSEDED)
_SUPERSEDE = Prepared(
    update(Build)
    .where(
        Build.repository_id == bindparam("b_repository_id"),
        Build.ref == bindparam("b_ref"),
        Build.status == _QUEUED,
        Build.id < bindparam("b_newest"),
    )
    .values(status=BuildStatus.SUPERSEDED.value, finished_at=bindparam("b_now"))
    .returning(Build.id)  # their commits' statuses are finalised (builds.forge_status)
)
_MARK = Prepared(
    update(Build).where(Build.id == bindparam("b_id")).values(enqueued=bindparam("b_enqueued"))
)


def insert_build(connection: RawConnection, row: Mapping[str, Any]) -> int:
    """Insert one build (``INSERT_COLUMNS``); its id."""
    [(build_id,)] = _INSERT.run(connection, row)
    return int(build_id)


def supersede_queued(
    connection: RawConnection, repository_id: int, ref: str, newest: int, now: dt.datetime
) -> list[int]:
    """The ref's queued builds older than ``newest``, now superseded."""
    params = {"b_repository_id": repository_id, "b_ref": ref, "b_newest": newest, "b_now": now}
    return [int(row[0]) for row in _SUPERSEDE.run(connection, params)]


def set_enqueued(build_ids: Sequence[int], enqueued: bool, connection: RawConnection) -> None:
    for build_id in build_ids:
        _MARK.run(connection, {"b_id": build_id, "b_enqueued": enqueued})


# --- session writes


async def add_builds(session: AsyncSession, builds: Sequence[Build]) -> None:
    """Insert new (queued) builds in the caller's transaction; their ids are set after."""
    session.add_all(builds)
    await session.flush()


async def _set(
    sessions: Sessions, build_id: int, *where: ColumnElement[bool], **values: Any
) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(Build)
            .where(Build.id == build_id, *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def mark_enqueued(sessions: Sessions, build_id: int, enqueued: bool) -> None:
    await _set(sessions, build_id, enqueued=enqueued)


async def note_status(sessions: Sessions, build_id: int, text: str) -> None:
    """Why the build's commit status did not reach the forge (``status_note``)."""
    await _set(sessions, build_id, status_note=text[:1000])


async def heartbeat(sessions: Sessions, build_id: int, worker_id: str, attempt: int) -> None:
    """The worker running this attempt is alive (only while it still runs it)."""
    conditions = [*owned(worker_id, attempt), Build.status.in_(_RUNNING)]
    await _set(sessions, build_id, *conditions, heartbeat_at=utcnow())


async def supersede_older(
    session: AsyncSession, repository_id: int, ref: str, newest: int, now: dt.datetime
) -> list[int]:
    """As for a push, in the caller's transaction: the ref's queued builds older than
    ``newest`` are pointless now (their ids, each moved by ``transition``)."""
    waiting = await session.scalars(
        select(Build.id).where(
            Build.repository_id == repository_id,
            Build.ref == ref,
            Build.status == _QUEUED,
            Build.id < newest,
        )
    )
    return [
        build_id
        for build_id in waiting.all()
        if await transition(session, build_id, BuildStatus.SUPERSEDED, now=now)
    ]


# --- the worker's reads


async def control_row(
    sessions: Sessions, build_id: int
) -> tuple[str, bool, str | None, int] | None:
    """Status, cancel request, worker and attempt: what a running build's watcher needs."""
    statement = select(Build.status, Build.cancel_requested, Build.worker_id, Build.attempt)
    async with sessions() as session:
        row = (await session.execute(statement.where(Build.id == build_id))).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def queued_in_lane(
    sessions: Sessions, repository_id: int, ref: str, rule_id: int | None
) -> list[tuple[int, int]]:
    """(id, attempt) of the lane's queued builds."""
    lane = same_lane(repository_id, ref, rule_id)
    statement = select(Build.id, Build.attempt).where(*lane, Build.status == _QUEUED)
    async with sessions() as session:
        return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


def _last_sign() -> ColumnElement[Any]:
    return func.coalesce(Build.heartbeat_at, Build.fetching_at, Build.queued_at)


async def silent_running(
    sessions: Sessions, cutoff: dt.datetime
) -> list[tuple[int, int, str | None]]:
    """(id, attempt, worker) of running builds with no sign of life since ``cutoff``."""
    statement = select(Build.id, Build.attempt, Build.worker_id).where(
        Build.status.in_(_RUNNING), _last_sign() < cutoff
    )
    async with sessions() as session:
        return [(row[0], row[1], row[2]) for row in (await session.execute(statement)).all()]


def still_silent(attempt: int, cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    """``transition``'s guard for reaping: same attempt, and still no sign of life."""
    return [Build.attempt == attempt, or_(Build.heartbeat_at.is_(None), _last_sign() < cutoff)]


async def orphan_candidates(
    sessions: Sessions, cutoff: dt.datetime, left_since: dt.datetime
) -> list[tuple[int, int]]:
    """(id, attempt) of queued builds whose job may be missing: marked enqueued before
    ``cutoff``, or in the outbox since before ``left_since``."""
    statement = select(Build.id, Build.attempt).where(
        Build.status == _QUEUED,
        or_(
            and_(Build.enqueued.is_(True), Build.queued_at < cutoff),
            and_(Build.enqueued.is_(False), Build.queued_at < left_since),
        ),
    )
    async with sessions() as session:
        return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


async def outbox_batch(sessions: Sessions, batch: int) -> list[tuple[int, int]]:
    """(id, attempt) of queued builds whose job is not known to be in Redis."""
    statement = (
        select(Build.id, Build.attempt)
        .where(Build.status == _QUEUED, Build.enqueued.is_(False))
        .order_by(Build.id)
        .limit(batch)
    )
    async with sessions() as session:
        return [(row[0], row[1]) for row in (await session.execute(statement)).all()]


# --- claim's questions, in the claiming transaction


async def first_in_lane(
    session: AsyncSession, lane: list[ColumnElement[bool]], *conditions: ColumnElement[bool]
) -> int | None:
    return await session.scalar(select(Build.id).where(*lane, *conditions).limit(1))


async def newer_queued(session: AsyncSession, build: Build) -> int | None:
    lane = same_lane(build.repository_id, build.ref, build.rule_id)
    return await first_in_lane(session, lane, Build.status == _QUEUED, Build.id > build.id)


async def older_queued(session: AsyncSession, build: Build) -> list[int]:
    lane = same_lane(build.repository_id, build.ref, build.rule_id)
    statement = select(Build.id).where(*lane, Build.status == _QUEUED, Build.id < build.id)
    return list((await session.scalars(statement)).all())


async def running_in_lane(session: AsyncSession, build: Build) -> int | None:
    lane = same_lane(build.repository_id, build.ref, build.rule_id)
    return await first_in_lane(session, lane, Build.status.in_(_RUNNING), Build.id != build.id)


async def last_superseded(session: AsyncSession, build: Build) -> dt.datetime | None:
    """When the lane's last superseded build was superseded."""
    lane = same_lane(build.repository_id, build.ref, build.rule_id)
    superseded = Build.status == BuildStatus.SUPERSEDED.value
    return await session.scalar(select(func.max(Build.finished_at)).where(*lane, superseded))


async def last_started(session: AsyncSession, build: Build) -> dt.datetime | None:
    """When the lane's last build started fetching."""
    lane = same_lane(build.repository_id, build.ref, build.rule_id)
    return await session.scalar(select(func.max(Build.fetching_at)).where(*lane))
