"""Reading image repositories and their deliveries, always scoped to one account.

Another account's repository is "not found", never "forbidden": ids do not leak.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.repositories.errors import RepositoryNotFound
from buildsvc.store.models import Delivery, ImageRepository


def not_found(repository_id: int) -> RepositoryNotFound:
    return RepositoryNotFound(f"Image repository {repository_id} not found.")


async def load(session: AsyncSession, account_id: int, repository_id: int) -> ImageRepository:
    statement = select(ImageRepository).where(
        ImageRepository.id == repository_id, ImageRepository.account_id == account_id
    )
    repository = (await session.execute(statement)).scalar_one_or_none()
    if repository is None:
        raise not_found(repository_id)
    return repository


async def get_repository(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, repository_id: int
) -> ImageRepository:
    async with sessionmaker() as session:
        return await load(session, account_id, repository_id)


def _search(text: str) -> ColumnElement[bool]:
    """Image name (namespace/name) or source repository containing ``text``, any case."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    image = func.lower(ImageRepository.namespace + "/" + ImageRepository.name)
    source = func.lower(ImageRepository.source_repository)
    return or_(image.like(pattern, escape="\\"), source.like(pattern, escape="\\"))


async def list_repositories(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    *,
    offset: int,
    limit: int,
    search: str = "",
) -> tuple[Sequence[ImageRepository], int]:
    """One page of the account's repositories, oldest first; ``search`` narrows them."""
    where = [ImageRepository.account_id == account_id]
    if search.strip():
        where.append(_search(search.strip()))
    async with sessionmaker() as session:
        total = await session.scalar(select(func.count(ImageRepository.id)).where(*where))
        statement = (
            select(ImageRepository)
            .where(*where)
            .order_by(ImageRepository.id)
            .offset(offset)
            .limit(limit)
        )
        items = (await session.execute(statement)).scalars().all()
    return items, int(total or 0)


async def repository_names(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int
) -> dict[int, str]:
    """Every repository of the account as ``namespace/name``, by id, in name order."""
    statement = (
        select(ImageRepository.id, ImageRepository.namespace, ImageRepository.name)
        .where(ImageRepository.account_id == account_id)
        .order_by(ImageRepository.namespace, ImageRepository.name)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    return {row.id: f"{row.namespace}/{row.name}" for row in rows}


async def list_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    repository_id: int,
    *,
    offset: int,
    limit: int,
) -> tuple[Sequence[Delivery], int]:
    """Newest first: what a user checks when a push did not build."""
    async with sessionmaker() as session:
        await load(session, account_id, repository_id)
        total = await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.repository_id == repository_id)
        )
        statement = (
            select(Delivery)
            .where(Delivery.repository_id == repository_id)
            .order_by(Delivery.id.desc())
            .offset(offset)
            .limit(limit)
        )
        items = (await session.execute(statement)).scalars().all()
    return items, int(total or 0)
