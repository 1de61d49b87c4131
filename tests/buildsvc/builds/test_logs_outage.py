"""Log followers outlive Redis: a Redis of the test's own is stopped and started again.

The line published after the outage is never stored, so only the live channel can
bring it: a follower that got it is subscribed again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import logs
from buildsvc.builds.logs import LogEnd, LogIdle, LogLine
from buildsvc.config import Settings
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.migrate import upgrade_database
from tests.common.factories import add_account, add_build, add_repository
from tests.common.servers import RedisServer

Followed = list[LogLine | LogEnd]


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_database(settings)
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def building(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """A running build with one stored line."""
    async with sessionmaker.begin() as session:
        account = await add_account(session)
        repository = await add_repository(session, account.id)
        build = await add_build(session, account.id, repository.id, status="building")
        await logs.store(session, build.id, [LogLine(1, dt.datetime.now(dt.UTC), "stored")])
    return int(build.id)


async def collect(follower: AsyncIterator[LogLine | LogEnd | LogIdle], into: Followed) -> None:
    async for item in follower:
        if not isinstance(item, LogIdle):
            into.append(item)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 10
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def following(
    sessionmaker: async_sessionmaker[AsyncSession], redis: Redis, build_id: int
) -> tuple[asyncio.Task[None], Followed]:
    """A follower reading in a task, once it has sent the stored line."""
    followed: Followed = []
    follower = logs.follow(sessionmaker, redis, build_id, poll=0.2)
    reading = asyncio.create_task(collect(follower, followed))

    async def started() -> bool:
        return bool(followed)

    await until(started)
    return reading, followed


async def live_after_the_outage(url: str, redis: Redis, build_id: int) -> None:
    """Once the follower is subscribed again: a line only the channel has, then the end."""
    probe = Redis.from_url(url)

    async def subscribed() -> bool:
        [(_, count)] = await probe.pubsub_numsub(logs.channel(build_id))
        return bool(count)

    await until(subscribed)
    await probe.aclose()
    line = LogLine(2, dt.datetime.now(dt.UTC), "live only")
    await logs.publish(redis, build_id, logs.encode_lines([line]))
    await logs.publish_end(redis, build_id, "succeeded", last=2)


def shape(followed: Followed) -> list[object]:
    return [x.line if isinstance(x, LogLine) else x for x in followed]


async def test_a_follower_from_before_an_outage_is_live_again_after_it(
    own_redis: RedisServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    build_id = await building(sessionmaker)
    redis = Redis.from_url(own_redis.url)
    reading, followed = await following(sessionmaker, redis, build_id)

    own_redis.stop()
    await asyncio.sleep(1.0)  # the follower reads the store meanwhile
    own_redis.start()
    await live_after_the_outage(own_redis.url, redis, build_id)

    await asyncio.wait_for(reading, 10)
    assert shape(followed) == ["stored", "live only", LogEnd("succeeded")]
    await redis.aclose()


async def test_a_follower_started_during_an_outage_goes_live_once_redis_is_back(
    own_redis: RedisServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    build_id = await building(sessionmaker)
    redis = Redis.from_url(own_redis.url)  # the API's pool, from before the outage
    own_redis.stop()
    reading, followed = await following(sessionmaker, redis, build_id)  # from the store

    own_redis.start()
    await live_after_the_outage(own_redis.url, redis, build_id)

    await asyncio.wait_for(reading, 10)
    assert shape(followed) == ["stored", "live only", LogEnd("succeeded")]
    await redis.aclose()
