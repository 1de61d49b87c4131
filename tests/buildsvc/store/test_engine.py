"""Engine settings that matter under concurrency, and UTC datetimes on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker, reading
from buildsvc.store.migrate import upgrade_database
from buildsvc.store.models import Account, ApiToken
from tests.common.factories import add_account


@asynccontextmanager
async def migrated(
    settings: Settings,
) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """An engine on the migrated database of ``settings``, and its sessions."""
    await upgrade_database(settings)
    engine = create_engine(settings)
    try:
        yield engine, create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_sqlite_pragmas(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            journal = await connection.scalar(text("PRAGMA journal_mode"))
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
            busy = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert (journal, foreign_keys) == ("wal", 1)
    assert busy is not None
    assert busy >= 5000


async def test_concurrent_read_modify_write_transactions_all_succeed(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    # A deferred SQLite transaction that reads then writes fails with "database is
    # locked" when another commits in between; BEGIN IMMEDIATE makes them queue instead.
    async with migrated(settings_for(database_url)) as (engine, sessionmaker):
        async with sessionmaker.begin() as session:
            account_id = (await add_account(session, "counter")).id

        async def increment() -> None:
            async with sessionmaker.begin() as session:
                current = await session.scalar(
                    select(Account.gitlab_repository_count).where(Account.id == account_id)
                )
                await asyncio.sleep(0)
                await session.execute(
                    update(Account)
                    .where(Account.id == account_id)
                    .values(gitlab_repository_count=(current or 0) + 1)
                )

        if engine.dialect.name == "sqlite":
            await asyncio.gather(*(increment() for _ in range(30)))
            async with sessionmaker() as session:
                count = await session.scalar(
                    select(Account.gitlab_repository_count).where(Account.id == account_id)
                )
            assert count == 30  # serialised: no lost update, no "database is locked"
        else:
            await increment()


async def test_datetimes_come_back_aware_utc(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    settings = settings_for(database_url)
    await upgrade_database(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    plus_two = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2024, 5, 1, 14, 30, tzinfo=plus_two)
    try:
        async with sessionmaker.begin() as session:
            account = await add_account(session)
            session.add(
                ApiToken(
                    account_id=account.id, token_hash="0" * 64, last4="abcd", last_used_at=moment
                )
            )
        async with sessionmaker() as session:
            stored = await session.scalar(select(ApiToken.last_used_at))
            created = await session.scalar(select(Account.created_at))
            # Comparisons in SQL use the same conversion.
            later = await session.scalar(
                select(ApiToken.id).where(ApiToken.last_used_at > moment - dt.timedelta(minutes=1))
            )
    finally:
        await engine.dispose()
    assert stored == moment
    assert stored is not None
    assert stored.utcoffset() == dt.timedelta(0)
    assert created is not None
    assert created.tzinfo is not None
    assert later is not None


async def test_a_reading_session_neither_waits_for_nor_takes_the_write_lock(
    database_url: str, settings_for: Callable[[str], Settings]
) -> None:
    async with migrated(settings_for(database_url)) as (engine, sessionmaker):
        async with sessionmaker.begin() as session:
            await add_account(session, "reader")
        async with sessionmaker.begin() as writer:  # holds the write lock throughout
            await writer.execute(update(Account).values(gitlab_repository_count=1))
            async with reading(sessionmaker) as session:
                # With BEGIN IMMEDIATE this would wait for the writer: for ever here.
                names = await asyncio.wait_for(session.scalars(select(Account.name)), timeout=5)
                assert list(names) == ["reader"]
            if engine.dialect.name == "sqlite":  # PostgreSQL: reads never wait anyway
                with pytest.raises(DBAPIError):  # deferred: it cannot write past the lock
                    async with reading(sessionmaker) as session:
                        await session.execute(update(Account).values(gitlab_repository_count=2))
