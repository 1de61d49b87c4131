"""A replication world in process: the database, a repository ``acme/app`` on the
test's own source registry, rules to the regions, and a real arq worker running the
replication job (``ReplicationWorld.worker()``) on the test's Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.config import Settings
from buildsvc.crypto import Cipher
from buildsvc.registry.server import registry_dir
from buildsvc.replication import service
from buildsvc.replication.jobs import DEPS, ReplicationDeps, job_spec
from buildsvc.replication.schemas import ReplicationRuleIn
from buildsvc.sources import AddressPolicy
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Replication, ReplicationRule
from buildsvc.worker.main import arq_function
from buildsvc.worker.supervise import close
from tests.common.factories import add_account, add_build, add_repository
from tests.common.registries import Registry


def replication_settings(settings: Settings, source: Registry) -> Settings:
    """``source`` is token auth (``token_source``): replication signs its reads with the
    key it trusts."""
    assert source.token_settings is not None
    return settings.model_copy(
        update={
            "registry": source.host,
            "registry_key_dir": registry_dir(source.token_settings),
            "registry_username": None,
            "registry_password": None,
            "replication_backoff_seconds": 0.2,
            "replication_backoff_max_seconds": 0.5,
            "replication_attempts": 200,
        }
    )


@dataclass
class ReplicationWorld:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    account_id: int
    repository_id: int

    async def add_rule(self, region: Registry, **fields: Any) -> ReplicationRule:
        spec = ReplicationRuleIn(
            destination_url=region.url,
            username=region.username,
            password=region.password,
            ca_cert=region.ca_pem,
            **fields,
        )
        policy = AddressPolicy.from_cidrs(self.settings.allowed_source_networks)
        return await service.create_rule(
            self.sessions,
            Cipher.from_settings(self.settings),
            policy,
            self.account_id,
            self.repository_id,
            spec,
        )

    async def add_build(self, tags: Sequence[str], digest: str) -> int:
        async with self.sessions.begin() as session:
            build = await add_build(
                session, self.account_id, self.repository_id, tags=list(tags), digest=digest
            )
            return int(build.id)

    async def rows(self) -> list[Replication]:
        return await replication_rows(self.sessions)

    async def wait_for(self, wanted: dict[str, str]) -> list[Replication]:
        return await wait_for_rows(self.sessions, wanted)

    def worker(self) -> contextlib.AbstractAsyncContextManager[Worker]:
        return replication_worker(self.settings, self.sessions)


async def replication_rows(sessions: async_sessionmaker[AsyncSession]) -> list[Replication]:
    async with sessions() as session:
        found = await session.scalars(select(Replication).order_by(Replication.id))
        return list(found.all())


async def wait_for_rows(
    sessions: async_sessionmaker[AsyncSession], wanted: dict[str, str], seconds: float = 60
) -> list[Replication]:
    """The rows once each destination in ``wanted`` has its status (else fail)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = await replication_rows(sessions)
        seen = {row.destination: row.status for row in rows}
        if all(seen.get(dest) == status for dest, status in wanted.items()):
            return rows
        assert time.monotonic() < deadline, f"waited for {wanted}, have {seen}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def replication_worker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Worker]:
    """A real arq worker running replication jobs until the block ends."""
    deps = ReplicationDeps(settings, sessions, Cipher.from_settings(settings))
    worker = Worker(
        functions=[arq_function(job_spec(settings))],
        redis_pool=await create_pool(RedisSettings.from_dsn(settings.redis_url)),
        poll_delay=0.05,
        handle_signals=False,
        ctx={DEPS: deps},
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await close(worker)  # as the worker process closes it


@contextlib.asynccontextmanager
async def replication_world(settings: Settings) -> AsyncIterator[ReplicationWorld]:
    await upgrade_database(settings)
    engine = create_engine(settings)
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        sessions = create_sessionmaker(engine)
        async with sessions.begin() as session:
            account = await add_account(session)
            repo = await add_repository(session, account.id, namespace="acme", name="app")
        yield ReplicationWorld(settings, sessions, redis, account.id, repo.id)
    finally:
        await redis.aclose()
        await engine.dispose()
