"""``Writer.run``: group commit, failure isolation and lock waits that never block the loop
(SQLite), and the same results through asyncpg (PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.fastpath.prepared import Prepared, RawConnection
from buildsvc.store.fastpath.writer import Writer
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Account, utcnow

_ADD = Prepared(
    insert(Account).returning(Account.id),
    column_keys=["name", "gitlab_repository_count", "created_at"],
)
_COUNT = Prepared(select(func.count(Account.id)).where(Account.name != bindparam("b_skip")))


async def _sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_database(settings)
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sessions(
    settings: Settings, database_url: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for made in _sessions(settings.model_copy(update={"database_url": database_url})):
        yield made


@pytest.fixture
async def sqlite_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for made in _sessions(settings):  # the default: SQLite under data_dir
        yield made


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> Iterator[Writer]:
    made = Writer.of(sessions)
    yield made
    made.close()


@pytest.fixture
def sqlite_writer(sqlite_sessions: async_sessionmaker[AsyncSession]) -> Iterator[Writer]:
    made = Writer.of(sqlite_sessions)
    yield made
    made.close()


def add(name: str) -> Any:
    def work(raw: RawConnection) -> int:
        row = {"name": name, "gitlab_repository_count": 0, "created_at": utcnow()}
        [(account_id,)] = _ADD.run(raw, row)
        return int(account_id)

    return work


def count(raw: RawConnection) -> int:
    [(total,)] = _COUNT.run(raw, {"b_skip": ""})
    return int(total)


async def test_concurrent_works_commit_and_a_failure_stays_its_own(
    sessions: async_sessionmaker[AsyncSession],
    writer: Writer,
) -> None:
    names = [f"acct-{n}" for n in range(20)] + ["acct-3"]  # the last one collides
    results = await asyncio.gather(
        *(writer.run(add(name)) for name in names), return_exceptions=True
    )
    # Either copy of acct-3 may lose (PostgreSQL runs them truly concurrently).
    failures = [r for r in results if not isinstance(r, int)]
    assert len(failures) == 1
    assert isinstance(failures[0], IntegrityError)
    assert {type(results[3]), type(results[20])} == {int, IntegrityError}
    assert await writer.run(count) == 20
    async with sessions() as session:
        stored = set((await session.execute(select(Account.name))).scalars())
    assert stored == set(names)


async def test_a_raising_work_rolls_back_its_writes(
    sessions: async_sessionmaker[AsyncSession],
    writer: Writer,
) -> None:
    def add_then_fail(raw: RawConnection) -> None:
        add("doomed")(raw)
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await writer.run(add_then_fail)
    assert await writer.run(count) == 0


async def test_waiting_for_the_sqlite_lock_keeps_the_loop_running(
    sqlite_writer: Writer, settings: Settings
) -> None:
    writer = sqlite_writer
    path = settings.resolved_database_url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        writing = asyncio.create_task(writer.run(add("waiting")))
        await asyncio.sleep(0.3)
        assert not writing.done()
        other.execute("COMMIT")
        assert isinstance(await writing, int)
        assert time.monotonic() - started >= 0.3
        assert ticks >= 30  # the loop served others all along
    finally:
        ticking.cancel()
        other.close()
