"""Reading builds: for the API, always scoped to one account (another's build is 404);
for the worker, the image a rule pushed last (its registry build cache); for
``buildsvc.metrics``, counts by status and phase histograms over every account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, case, extract, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from buildsvc.builds.states import FINISHED, BuildStatus
from buildsvc.errors import NotFound
from buildsvc.store.models import Build


def _scoped(
    account_id: int,
    repository_id: int | None,
    status: BuildStatus | None,
    branch: str | None = None,
) -> Select[Build]:
    query = select(Build).where(Build.account_id == account_id)
    if repository_id is not None:
        query = query.where(Build.repository_id == repository_id)
    if status is not None:
        query = query.where(Build.status == status.value)
    if branch is not None:
        query = query.where(Build.ref == f"refs/heads/{branch}")
    return query


async def list_builds(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    *,
    repository_id: int | None = None,
    status: BuildStatus | None = None,
    branch: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[Sequence[Build], int]:
    """One page of the account's builds, newest first, and how many match in all."""
    query = _scoped(account_id, repository_id, status, branch)
    async with sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(query.order_by(Build.id.desc()).offset(offset).limit(limit))
        return rows.all(), int(total or 0)


async def last_builds(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, repository_ids: Sequence[int]
) -> dict[int, Build]:
    """The newest build of each of these repositories (those with one)."""
    if not repository_ids:
        return {}
    newest = (
        select(func.max(Build.id))
        .where(Build.account_id == account_id, Build.repository_id.in_(repository_ids))
        .group_by(Build.repository_id)
    )
    async with sessionmaker() as session:
        rows = await session.scalars(select(Build).where(Build.id.in_(newest)))
        return {build.repository_id: build for build in rows.all()}


async def get_build(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, build_id: int
) -> Build:
    async with sessionmaker() as session:
        build = await session.scalar(
            select(Build).where(Build.id == build_id, Build.account_id == account_id)
        )
    if build is None:
        raise NotFound(f"Build {build_id} not found.")
    return build


async def last_pushed(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    repository_id: int,
    rule_id: int | None,
    ref: str,
    before: int,
) -> tuple[str, str] | None:
    """The first tag and the digest of the last succeeded build before build ``before``
    of the same rule (of the same ref, for builds started without a rule); None if none."""
    rule = Build.rule_id.is_(None) if rule_id is None else Build.rule_id == rule_id
    query = select(Build.tags, Build.digest).where(
        Build.repository_id == repository_id,
        rule,
        *([Build.ref == ref] if rule_id is None else []),
        Build.status == BuildStatus.SUCCEEDED.value,
        Build.digest.is_not(None),
        Build.id < before,
    )
    async with sessionmaker() as session:
        found = (await session.execute(query.order_by(Build.id.desc()).limit(1))).one_or_none()
    if found is None or not found.tags or found.digest is None:
        return None
    return str(found.tags[0]), str(found.digest)


# (phase, start column, end columns: the first one set ends the phase)
PHASES: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
    ("queued", Build.queued_at, (Build.fetching_at, Build.finished_at)),
    ("fetching", Build.fetching_at, (Build.building_at, Build.finished_at)),
    ("building", Build.building_at, (Build.pushing_at, Build.finished_at)),
    ("pushing", Build.pushing_at, (Build.finished_at,)),
    ("total", Build.queued_at, (Build.finished_at,)),
)
PHASE_NAMES = tuple(phase for phase, *_ in PHASES)


async def count_by_status(connection: AsyncConnection) -> dict[str, int]:
    """Every account's builds, counted by status (one query)."""
    rows = await connection.execute(select(Build.status, func.count()).group_by(Build.status))
    return {str(status): int(n) for status, n in rows.all()}


async def phase_histograms(connection: AsyncConnection, bounds: Sequence[float]) -> list[Any]:
    """For each phase (``PHASES`` order) of the finished builds: how many took at most each
    bound, how many have the phase, and their total seconds; one flat row (one query)."""
    finished = [status.value for status in FINISHED]
    columns = _phase_columns(connection.dialect.name, bounds)
    statement = select(*columns).where(Build.status.in_(finished))
    return list((await connection.execute(statement)).one())


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(ColumnElement[float], extract("epoch", end - start))


def _phase_columns(dialect: str, bounds: Sequence[float]) -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = []
    for _phase, start, ends in PHASES:
        end = func.coalesce(*ends) if len(ends) > 1 else ends[0]
        seconds = _seconds(dialect, start, end)
        known = start.is_not(None) & end.is_not(None)
        columns += [func.sum(case((known & (seconds <= b), 1), else_=0)) for b in bounds]
        columns.append(func.sum(case((known, 1), else_=0)))
        columns.append(func.sum(case((known, seconds), else_=0.0)))
    return columns
