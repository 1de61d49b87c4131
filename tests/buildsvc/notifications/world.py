"""A database with one account and image repository, and what notifications need."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.notifications import targets
from buildsvc.notifications.jobs import Notifier
from buildsvc.notifications.schemas import NotificationCreate
from buildsvc.sources import AddressPolicy
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import NotificationDelivery, NotificationTarget, utcnow
from tests.common.factories import add_account, add_repository


@dataclass
class World:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    notifier: Notifier
    account_id: int
    repository_id: int
    offset: dt.timedelta = dt.timedelta()  # added to the notifier's clock

    @property
    def access(self) -> targets.NotificationAccess:
        policy = AddressPolicy.from_cidrs(self.settings.allowed_source_networks)
        return targets.NotificationAccess(self.sessionmaker, self.notifier.cipher, policy)

    async def target(self, kind: str, url: str, **fields: Any) -> targets.Created:
        spec = NotificationCreate(kind=kind, url=url, **fields)  # type: ignore[arg-type]
        return await targets.create(self.access, self.account_id, self.repository_id, spec)

    async def deliveries(self, target_id: int) -> list[NotificationDelivery]:
        async with self.sessionmaker() as session:
            found = await session.scalars(
                select(NotificationDelivery)
                .where(NotificationDelivery.target_id == target_id)
                .order_by(NotificationDelivery.id)
            )
            return list(found.all())

    async def settled(self, target_id: int, count: int) -> list[NotificationDelivery]:
        """The target's deliveries once ``count`` of them are no longer pending."""
        async with asyncio.timeout(30):
            while True:
                found = await self.deliveries(target_id)
                if sum(d.state != "pending" for d in found) >= count:
                    return found
                await asyncio.sleep(0.05)

    async def stored_target(self, target_id: int) -> NotificationTarget:
        async with self.sessionmaker() as session:
            found = await session.get(NotificationTarget, target_id)
            assert found is not None
            return found


@pytest.fixture(name="world")
async def world_fixture(settings: Settings) -> AsyncIterator[World]:
    settings = settings.model_copy(
        update={"notification_backoff_seconds": 0.2, "notification_sweep_seconds": 0.05}
    )
    await upgrade_database(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        account = await add_account(session)
        repository = await add_repository(session, account.id, namespace="acme", name="app")
    notifier = Notifier(sessionmaker, Cipher.from_settings(settings), settings)
    world = World(settings, sessionmaker, notifier, account.id, repository.id)
    notifier.clock = lambda: utcnow() + world.offset
    try:
        yield world
    finally:
        await engine.dispose()
