"""Build logs from the worker's writer to a follower: stored, published, gapless, masked."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from buildsvc.builds import logs
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.store.models import utcnow
from buildsvc.worker.logs import MAX_LINES, BuildLog, build_masker
from buildsvc.worker.masking import Masker
from tests.buildsvc.worker.run_env import RunEnv, run_env_fixture  # noqa: F401

pytestmark = pytest.mark.e2e


async def collect(env: RunEnv, build_id: int, after: int = 0) -> list[logs.LogLine | logs.LogEnd]:
    found: list[logs.LogLine | logs.LogEnd] = []
    follower = logs.follow(env.sessionmaker, env.redis, build_id, after=after, poll=0.2)
    async with contextlib.aclosing(follower):
        async for item in follower:
            if not isinstance(item, logs.LogIdle):
                found.append(item)
    return found


async def finish(env: RunEnv, build_id: int, status: BuildStatus) -> None:
    async with env.sessionmaker.begin() as session:
        assert await transition(session, build_id, status)
    await logs.publish_end(env.redis, build_id, status)


async def test_writer_masks_numbers_stores_and_publishes(env: RunEnv) -> None:
    build_id = await env.add_build("1" * 40, status="building")
    masker = build_masker(
        token="tok-" + "a" * 16, git_username="oauth2", registry_password="pw-" + "b" * 12
    )
    pubsub = env.redis.pubsub()
    await pubsub.subscribe(logs.channel(build_id))

    async with BuildLog(env.sessionmaker, env.redis, build_id, masker) as writer:
        writer.write("clone with tok-" + "a" * 16)
        writer.write("two\nlines")
        writer.write("login pw-" + "b" * 12)

    stored = await logs.read(env.sessionmaker, build_id)
    assert [(x.seq, x.line) for x in stored] == [
        (1, "clone with ****"),
        (2, "two"),
        (3, "lines"),
        (4, "login ****"),
    ]
    published: list[logs.LogLine] = []
    async with asyncio.timeout(5):
        while len(published) < 4:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            decoded = logs.decode(message["data"]) if message else None
            published += decoded if isinstance(decoded, list) else []
    assert [x.seq for x in published] == [1, 2, 3, 4]
    await pubsub.aclose()


async def test_follow_sends_stored_then_live_lines_then_the_end(env: RunEnv) -> None:
    build_id = await env.add_build("2" * 40, status="pushing")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
        writer.write("stored 1")
        writer.write("stored 2")
    following = asyncio.create_task(collect(env, build_id))
    await asyncio.sleep(0.3)

    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker(), first_seq=3) as writer:
        for n in range(3, 203):
            writer.write(f"live {n}")
            if n % 50 == 0:
                await asyncio.sleep(0.02)
    await finish(env, build_id, BuildStatus.SUCCEEDED)

    found = await asyncio.wait_for(following, 10)
    lines = [x for x in found if isinstance(x, logs.LogLine)]
    assert [x.seq for x in lines] == list(range(1, 203))
    assert lines[0].line == "stored 1"
    assert lines[-1].line == "live 202"
    assert found[-1] == logs.LogEnd("succeeded")


async def test_follow_resumes_after_a_seq_and_fills_gaps_from_the_store(env: RunEnv) -> None:
    build_id = await env.add_build("3" * 40, status="building")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
        for n in range(1, 6):
            writer.write(f"line {n}")
    following = asyncio.create_task(collect(env, build_id, after=2))
    await asyncio.sleep(0.3)
    # Lines 6-7 stored without a message (lost), then line 8 published: a gap.
    async with env.sessionmaker.begin() as session:
        await logs.store(
            session, build_id, [logs.LogLine(n, utcnow(), f"line {n}") for n in (6, 7)]
        )
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker(), first_seq=8) as writer:
        writer.write("line 8")
    await finish(env, build_id, BuildStatus.FAILED)

    found = await asyncio.wait_for(following, 10)
    assert [x.seq for x in found if isinstance(x, logs.LogLine)] == [3, 4, 5, 6, 7, 8]
    assert found[-1] == logs.LogEnd("failed")


async def test_follow_of_a_finished_build_ends_at_once(env: RunEnv) -> None:
    build_id = await env.add_build("4" * 40, status="succeeded")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
        writer.write("only line")

    found = await asyncio.wait_for(collect(env, build_id), 5)

    assert [type(x) for x in found] == [logs.LogLine, logs.LogEnd]


async def test_a_colliding_batch_is_renumbered_and_a_detached_writer_is_silent(
    env: RunEnv,
) -> None:
    build_id = await env.add_build("5" * 40, status="building")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as owner:
        owner.write("new owner 1")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as stale:
        stale.write("stale writer 1")  # also seq 1: renumbered after the stored line
        await stale.flush()
        stale.detach()
        stale.write("never stored")

    stored = await logs.read(env.sessionmaker, build_id)
    assert [(x.seq, x.line) for x in stored] == [(1, "new owner 1"), (2, "stale writer 1")]


async def test_a_runaway_log_is_truncated(env: RunEnv) -> None:
    build_id = await env.add_build("6" * 40, status="building")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
        writer.write("\n".join(f"l{n}" for n in range(MAX_LINES + 10)))

    assert await logs.count(env.sessionmaker, build_id) == MAX_LINES + 1
    last = await logs.read(env.sessionmaker, build_id, after=MAX_LINES)
    assert last[0].line.startswith("[log truncated")
