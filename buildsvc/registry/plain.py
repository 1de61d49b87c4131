"""Plain image repositories: no source, no rules, images reach them by ``docker push``.

Created through the API, or by the token server when an account (or its robot) that
may push to a namespace pushes to a name that does not exist yet: that repository is
created private, owned by the namespace's account.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.registry import namespaces
from buildsvc.registry.names import is_component
from buildsvc.repositories.errors import InvalidRepositoryName, RepositoryExists
from buildsvc.store.models import ImageRepository

Visibility = Literal["private", "public"]


def check_repository_name(name: str) -> None:
    if not is_component(name):
        raise InvalidRepositoryName(
            detail="name: lowercase letters and digits, separated by single '.', '_', '__' or '-'",
        )


async def create(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    namespace: str,
    name: str,
    visibility: Visibility = "private",
) -> ImageRepository:
    check_repository_name(name)
    try:
        async with sessionmaker.begin() as session:
            await namespaces.claim(session, account_id, namespace)
            repository = _new(account_id, namespace, name, visibility)
            session.add(repository)
            await session.flush()
    except IntegrityError as exc:
        raise RepositoryExists(detail=f"{namespace}/{name}") from exc
    return repository


def _new(account_id: int, namespace: str, name: str, visibility: Visibility) -> ImageRepository:
    return ImageRepository(
        account_id=account_id,
        namespace=namespace,
        name=name,
        visibility=visibility,
        auto_build=False,
        rules=[],
    )


async def find_owned(
    session: AsyncSession, owner_id: int, namespace: str, name: str
) -> ImageRepository | None:
    """The namespace owner's repository of that name (others' legacy rows do not count)."""
    statement = select(ImageRepository).where(
        ImageRepository.account_id == owner_id,
        ImageRepository.namespace == namespace,
        ImageRepository.name == name,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def ensure_for_push(
    sessionmaker: async_sessionmaker[AsyncSession], owner_id: int, namespace: str, name: str
) -> None:
    """The repository a push to a new name creates (private); nothing if it exists."""
    async with sessionmaker() as session:  # a read first: most pushes go to existing ones
        if await find_owned(session, owner_id, namespace, name) is not None:
            return
    try:
        async with sessionmaker.begin() as session:
            if await find_owned(session, owner_id, namespace, name) is None:
                session.add(_new(owner_id, namespace, name, "private"))
    except IntegrityError:
        return  # created concurrently: what we wanted
