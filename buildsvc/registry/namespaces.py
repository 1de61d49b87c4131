"""Owned namespaces: the first component of every image name, one account each.

A namespace is globally unique, so no account can write where another's images live.
``claim`` runs inside the caller's transaction: it takes a free namespace for the account
or confirms the account holds it; a race between two accounts claiming one name is
decided by the unique index (the loser sees ``NamespaceTaken``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.registry.errors import (
    InvalidNamespace,
    InvalidNetwork,
    NamespaceExists,
    NamespaceNotEmpty,
    NamespaceNotFound,
    NamespaceTaken,
)
from buildsvc.registry.names import is_component
from buildsvc.store.models import ImageRepository, Namespace

MAX_NETWORKS = 50


def check_name(name: str) -> None:
    if not is_component(name):
        raise InvalidNamespace(
            detail="lowercase letters and digits, separated by single '.', '_', '__' or '-'"
        )


def normalise_networks(networks: Sequence[str]) -> list[str]:
    if len(networks) > MAX_NETWORKS:
        raise InvalidNetwork(detail=f"at most {MAX_NETWORKS} networks")
    normal = []
    for index, value in enumerate(networks):
        try:
            normal.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise InvalidNetwork(detail=f"allowed_networks[{index}]: {exc}") from exc
    return normal


async def find(session: AsyncSession, name: str) -> Namespace | None:
    return (
        await session.execute(select(Namespace).where(Namespace.name == name))
    ).scalar_one_or_none()


async def claim(session: AsyncSession, account_id: int, name: str) -> Namespace:
    """The namespace ``name`` held by the account, taking it if nobody holds it."""
    check_name(name)
    held = await find(session, name)
    if held is None:
        try:
            async with session.begin_nested():
                held = Namespace(name=name, account_id=account_id, allowed_networks=[])
                session.add(held)
        except IntegrityError:  # claimed concurrently
            held = await find(session, name)
            if held is None:
                raise
    if held.account_id != account_id:
        raise NamespaceTaken(detail=name)
    return held


async def create(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    name: str,
    allowed_networks: Sequence[str] = (),
) -> Namespace:
    check_name(name)
    networks = normalise_networks(allowed_networks)
    async with sessionmaker.begin() as session:
        held = await find(session, name)
        if held is not None:
            if held.account_id == account_id:
                raise NamespaceExists(detail=name)
            raise NamespaceTaken(detail=name)
        namespace = await claim(session, account_id, name)
        namespace.allowed_networks = networks
    return namespace


async def list_owned(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int
) -> list[tuple[Namespace, int]]:
    """The account's namespaces with how many image repositories each holds."""
    count = (
        select(func.count(ImageRepository.id))
        .where(ImageRepository.namespace == Namespace.name)
        .where(ImageRepository.account_id == Namespace.account_id)
        .scalar_subquery()
    )
    statement = (
        select(Namespace, count).where(Namespace.account_id == account_id).order_by(Namespace.name)
    )
    async with sessionmaker() as session:
        return [(row[0], int(row[1])) for row in (await session.execute(statement)).all()]


async def owned(session: AsyncSession, account_id: int, name: str) -> Namespace:
    held = await find(session, name)
    if held is None or held.account_id != account_id:
        raise NamespaceNotFound(detail=name)  # another's namespace is not found either
    return held


async def update_networks(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    name: str,
    allowed_networks: Sequence[str],
) -> Namespace:
    networks = normalise_networks(allowed_networks)
    async with sessionmaker.begin() as session:
        namespace = await owned(session, account_id, name)
        namespace.allowed_networks = networks
    return namespace


async def delete(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: int, name: str
) -> None:
    """Give the name up; only while no image repository (of any account) is in it."""
    async with sessionmaker.begin() as session:
        namespace = await owned(session, account_id, name)
        used = await session.scalar(
            select(func.count(ImageRepository.id)).where(ImageRepository.namespace == name)
        )
        if used:
            raise NamespaceNotEmpty(detail=f"{name} holds {used} image repositories")
        await session.delete(namespace)
