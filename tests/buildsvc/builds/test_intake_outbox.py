"""Redis down: deliveries are still accepted, and their builds reach Redis once it is back.

The service points at a port where no Redis listens yet; after the push, a real
``redis-server`` is started on that port and the application's own outbox sweeper must
enqueue the waiting builds. Also the other way round: Redis goes away after the service
connected, so builds committed as enqueued must be put back in the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio
from sqlalchemy import select

from buildsvc.api.keys import SESSIONMAKER
from buildsvc.builds.queue import job_id, sweep_once
from buildsvc.config import Settings
from buildsvc.queue import LazyArqPool
from buildsvc.store.models import Build
from tests.buildsvc.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    git_push,
    gitlab_fixture,
    link,
    served_client,
)
from tests.servers import free_port


class LateRedis:
    """A redis-server on a port chosen now and started later (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            cwd=self._workdir,
            stdout=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            connection = redis.asyncio.Redis.from_url(self.url)
            try:
                if await connection.ping():
                    return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
            finally:
                await connection.aclose()
            await asyncio.sleep(0.05)

    async def jobs(self) -> set[str]:
        connection = redis.asyncio.Redis.from_url(self.url)
        try:
            return {k.decode().removeprefix("arq:job:") for k in await connection.keys("arq:job:*")}
        finally:
            await connection.aclose()

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await asyncio.wait_for(self._process.wait(), timeout=10)


@pytest.fixture
async def late_redis(tmp_path: Path) -> AsyncIterator[LateRedis]:
    server = LateRedis(tmp_path)  # redis-server runs in tmp_path (no dump: --save "")
    yield server
    await server.stop()


@pytest.fixture(name="settings")
def down_settings(settings: Settings, late_redis: LateRedis) -> Settings:
    public_url = f"http://127.0.0.1:{free_port()}"
    return settings.model_copy(update={"redis_url": late_redis.url, "public_url": public_url})


@pytest.fixture
async def redis_up(late_redis: LateRedis) -> LateRedis:
    """Started before the application (list it first), so that the application connects."""
    await late_redis.start()
    return late_redis


async def queued(client: Client) -> list[Build]:
    async with client.app[SESSIONMAKER]() as session:
        return list((await session.execute(select(Build).order_by(Build.id))).scalars())


async def test_builds_wait_for_redis_and_are_enqueued_once_it_is_back(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
    late_redis: LateRedis,
) -> None:
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work", tag="v1")

    sent = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 2)
    assert [d["status"] for d in sent] == [202, 202]
    builds = await queued(client)
    assert len(builds) == 2
    assert not any(build.enqueued for build in builds)

    await late_redis.start()
    deadline = time.monotonic() + 15
    while not all(build.enqueued for build in await queued(client)):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.1)
    assert await late_redis.jobs() == {job_id(build.id) for build in builds}


async def test_sweeping_twice_enqueues_once(
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
    late_redis: LateRedis,
) -> None:
    """Two API processes sweeping the same outbox: arq's job id keeps one job per build."""
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work")
    await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    await late_redis.start()
    pools = [LazyArqPool(late_redis.url), LazyArqPool(late_redis.url)]
    try:
        sessionmaker = client.app[SESSIONMAKER]
        counts = await asyncio.gather(*(sweep_once(pool, sessionmaker) for pool in pools))
    finally:
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
    redis_up: LateRedis,
    client: Client,
    auth_headers: dict[str, str],
    gitlab: GitLabEnv,
    tmp_path: Path,
) -> None:
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await redis_up.stop()  # after the application connected: it records builds as enqueued
    await git_push(gitlab, tmp_path / "work")

    [sent] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    assert sent["status"] == 202
    [build] = await queued(client)
    assert not build.enqueued  # its job did not reach Redis: unmarked, in the outbox

    await redis_up.start()  # an empty Redis again: it does not know the enqueue script either
    deadline = time.monotonic() + 15
    while not all(build.enqueued for build in await queued(client)):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.1)
    assert await redis_up.jobs() == {job_id(build.id)}
