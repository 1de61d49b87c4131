"""Redis down: deliveries are still accepted, and their builds reach Redis once it is back.

The service points at a port where no Redis listens yet; after the push, a real
``redis-server`` is started on that port and the application's own outbox sweeper must
enqueue the waiting builds. Also the other way round: Redis goes away after the service
connected, so builds committed as enqueued must be put back in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import select

from buildsvc.builds.outbox import LazyArqPool, Outbox, job_id
from buildsvc.config import Settings
from buildsvc.store.models import Build
from buildsvc.web.keys import SESSIONMAKER, WRITER
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    git_push,
    gitlab_fixture,
    link,
    served_client,
)
from tests.common.servers import RedisServer, free_port


async def jobs_in(url: str) -> set[str]:
    connection = redis.asyncio.Redis.from_url(url)
    try:
        return {k.decode().removeprefix("arq:job:") for k in await connection.keys("arq:job:*")}
    finally:
        await connection.aclose()


@pytest.fixture
def late_redis() -> Iterator[RedisServer]:
    server = RedisServer()  # started by the test, or by ``redis_up``
    yield server
    server.close()


@pytest.fixture(name="settings")
def down_settings(settings: Settings, late_redis: RedisServer) -> Settings:
    public_url = f"http://127.0.0.1:{free_port()}"
    return settings.model_copy(update={"redis_url": late_redis.url, "public_url": public_url})


@pytest.fixture
async def redis_up(late_redis: RedisServer) -> RedisServer:
    """Started before the application (list it first), so that the application connects."""
    await asyncio.to_thread(late_redis.start)
    return late_redis


async def queued(client: Client) -> list[Build]:
    async with client.app[SESSIONMAKER]() as session:
        return list((await session.execute(select(Build).order_by(Build.id))).scalars())


async def test_builds_wait_for_redis_and_are_enqueued_once_it_is_back(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
    late_redis: RedisServer,
) -> None:
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work", tag="v1")

    sent = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 2)
    assert [d["status"] for d in sent] == [202, 202]
    builds = await queued(client)
    assert len(builds) == 2
    assert not any(build.enqueued for build in builds)

    await asyncio.to_thread(late_redis.start)
    deadline = time.monotonic() + 15
    while not all(build.enqueued for build in await queued(client)):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.1)
    assert await jobs_in(late_redis.url) == {job_id(build.id) for build in builds}


async def test_sweeping_twice_enqueues_once(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
    late_redis: RedisServer,
) -> None:
    """Two API processes sweeping the same outbox: arq's job id keeps one job per build."""
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work")
    await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    await asyncio.to_thread(late_redis.start)
    pools = [LazyArqPool(late_redis.url), LazyArqPool(late_redis.url)]
    try:
        app = client.app
        outboxes = [Outbox(pool, app[SESSIONMAKER], app[WRITER]) for pool in pools]
        counts = await asyncio.gather(*(outbox.sweep_once() for outbox in outboxes))
    finally:
        for outbox in outboxes:
            await outbox.close()
        for pool in pools:
            await pool.close()
    [build] = await queued(client)
    assert sum(counts) >= 1
    assert build.enqueued
    connection = redis.asyncio.Redis.from_url(late_redis.url)
    try:
        assert await connection.zrange("arq:queue", 0, -1) == [job_id(build.id).encode()]
    finally:
        await connection.aclose()


async def test_builds_whose_job_does_not_make_it_go_back_to_the_outbox(
    redis_up: RedisServer,
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "buildsvc.builds.outbox")
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    # After the application connected: it records builds as enqueued.
    await asyncio.to_thread(redis_up.stop)
    await git_push(gitlab, tmp_path / "work")

    [sent] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    assert sent["status"] == 202
    [build] = await queued(client)
    assert not build.enqueued  # its job did not reach Redis: unmarked, in the outbox
    await asyncio.sleep(1.0)  # sweeps that fail too

    # An empty Redis again: it does not know the enqueue script either.
    await asyncio.to_thread(redis_up.start)
    deadline = time.monotonic() + 15
    while not all(build.enqueued for build in await queued(client)):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.1)
    assert await jobs_in(redis_up.url) == {job_id(build.id)}
    said = [r.getMessage() for r in caplog.records if r.name == "buildsvc.builds.outbox"]
    assert sum("redis connection lost" in line for line in said) == 1, said
    assert sum("redis connection restored" in line for line in said) == 1, said
