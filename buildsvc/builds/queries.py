"""Reading builds: for the API, always scoped to one account (another's build is 404);
for the worker, the image a rule pushed last (its registry build cache)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds.states import BuildStatus
from buildsvc.errors import NotFound
from buildsvc.store.models import Build


def _scoped(
    account_id: int, repository_id: int | None, status: BuildStatus | None
) -> Select[Build]:
    query = select(Build).where(Build.account_id == account_id)
    if repository_id is not None:
        query = query.where(Build.repository_id == repository_id)
    if status is not None:
        query = query.where(Build.status == status.value)
    return query


async def list_builds(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    *,
    repository_id: int | None = None,
    status: BuildStatus | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[Sequence[Build], int]:
    """One page of the account's builds, newest first, and how many match in all."""
    query = _scoped(account_id, repository_id, status)
    async with sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(query.order_by(Build.id.desc()).offset(offset).limit(limit))
        return rows.all(), int(total or 0)


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
