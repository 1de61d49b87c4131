"""How a build's log ends: last lines and status in one transaction, and an end that
names the last line lets a follower holding it finish without reading the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from buildsvc.builds import logs
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.store.engine import create_engine, create_sessionmaker
from buildsvc.store.models import utcnow
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.masking import Masker
from tests.buildsvc.worker.run_env import RunEnv, run_env_fixture  # noqa: F401

pytestmark = pytest.mark.e2e

Item = logs.LogLine | logs.LogEnd | logs.LogIdle


@contextlib.asynccontextmanager
async def counted_store(
    env: RunEnv,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], list[str]]]:
    """A sessionmaker of its own engine on the build database, and every SQL it runs."""
    engine = create_engine(env.settings)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield create_sessionmaker(engine), statements
    finally:
        await engine.dispose()


async def first_item(
    follower: AsyncGenerator[Item, None], statements: list[str]
) -> asyncio.Task[Item]:
    """The follower's first item, pending; returns once the follower has read the store
    and the (unfinished) status, so everything published from now on reaches it live."""
    task = asyncio.create_task(anext_item(follower))
    deadline = time.monotonic() + 5
    while not any("FROM builds" in x for x in statements):
        assert time.monotonic() < deadline, statements
        await asyncio.sleep(0.01)
    return task


async def anext_item(follower: AsyncGenerator[Item, None]) -> Item:
    return await anext(follower)


async def lines_until(follower: AsyncGenerator[Item, None], first: Item, seq: int) -> list[str]:
    """Texts of the lines from ``first`` up to line ``seq``."""
    found: list[str] = []
    item = first
    while True:
        assert isinstance(item, logs.LogLine), item
        found.append(item.line)
        if item.seq == seq:
            return found
        item = await asyncio.wait_for(anext(follower), 5)


async def test_an_end_naming_the_last_seen_line_ends_the_follower_without_reads(
    env: RunEnv,
) -> None:
    build_id = await env.add_build("a" * 40, status="pushing")
    async with counted_store(env) as (sessionmaker, statements):
        follower = logs.follow(sessionmaker, env.redis, build_id, poll=30)
        async with contextlib.aclosing(follower):
            first = await first_item(follower, statements)
            writer = BuildLog(env.sessionmaker, env.redis, build_id, Masker())
            writer.write("step 1\nstep 2\nBuild succeeded: x@sha256:0")
            moved, last = await writer.flush_with(
                lambda s: transition(s, build_id, BuildStatus.SUCCEEDED)
            )
            assert (moved, last) == (True, 3)
            await logs.publish_end(env.redis, build_id, BuildStatus.SUCCEEDED, last=last)

            seen = await lines_until(follower, await asyncio.wait_for(first, 5), 3)
            statements.clear()
            end = await asyncio.wait_for(anext(follower), 5)

    assert seen == ["step 1", "step 2", "Build succeeded: x@sha256:0"]
    assert end == logs.LogEnd("succeeded")
    assert statements == []


async def test_an_end_without_last_still_reads_the_store_and_the_status(env: RunEnv) -> None:
    build_id = await env.add_build("b" * 40, status="pushing")
    async with counted_store(env) as (sessionmaker, statements):
        follower = logs.follow(sessionmaker, env.redis, build_id, poll=30)
        async with contextlib.aclosing(follower):
            first = await first_item(follower, statements)
            async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
                writer.write("only line")
            await lines_until(follower, await asyncio.wait_for(first, 5), 1)
            async with env.sessionmaker.begin() as session:
                assert await transition(session, build_id, BuildStatus.FAILED)
            statements.clear()
            # Said "succeeded", but without ``last`` the stored status is what counts.
            await logs.publish_end(env.redis, build_id, BuildStatus.SUCCEEDED)
            end = await asyncio.wait_for(anext(follower), 5)

    assert end == logs.LogEnd("failed")
    assert sum("FROM build_log_lines" in x for x in statements) == 2
    assert sum("FROM builds" in x for x in statements) == 1


async def test_an_end_naming_a_line_not_seen_sends_the_follower_to_the_store(
    env: RunEnv,
) -> None:
    build_id = await env.add_build("c" * 40, status="pushing")
    async with counted_store(env) as (sessionmaker, statements):
        follower = logs.follow(sessionmaker, env.redis, build_id, poll=30)
        async with contextlib.aclosing(follower):
            first = await first_item(follower, statements)
            async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as writer:
                writer.write("line 1")
            await lines_until(follower, await asyncio.wait_for(first, 5), 1)
            # Line 2 stored with the status, its message lost.
            async with env.sessionmaker.begin() as session:
                await logs.store(session, build_id, [logs.LogLine(2, utcnow(), "line 2")])
                assert await transition(session, build_id, BuildStatus.SUCCEEDED)
            await logs.publish_end(env.redis, build_id, BuildStatus.SUCCEEDED, last=2)
            rest = [await asyncio.wait_for(anext(follower), 5) for _ in range(2)]

    assert [type(x) for x in rest] == [logs.LogLine, logs.LogEnd]
    assert rest[0] == logs.LogLine(2, rest[0].ts, "line 2")  # type: ignore[union-attr]
    assert rest[1] == logs.LogEnd("succeeded")


async def test_lines_and_step_share_one_transaction(env: RunEnv) -> None:
    build_id = await env.add_build("d" * 40, status="pushing")

    async def fail_after_the_transition(session: AsyncSession) -> bool:
        assert await transition(session, build_id, BuildStatus.SUCCEEDED)
        # The same transaction holds the lines just inserted.
        assert await logs.next_seq(session, build_id) == 3
        raise RuntimeError("step failed")

    writer = BuildLog(env.sessionmaker, env.redis, build_id, Masker())  # no flusher task
    writer.write("line 1\nBuild succeeded: x@sha256:0")
    with pytest.raises(RuntimeError, match="step failed"):
        await writer.flush_with(fail_after_the_transition)
    # Rolled back together: neither the lines nor the status were stored.
    assert await env.log(build_id) == []
    assert (await env.build(build_id)).status == BuildStatus.PUSHING
    # Still pending, not lost.
    await writer.flush()
    assert await env.log(build_id) == [(1, "line 1"), (2, "Build succeeded: x@sha256:0")]


async def test_lines_are_stored_when_the_status_does_not_move(env: RunEnv) -> None:
    build_id = await env.add_build("e" * 40, status="cancelled")
    writer = BuildLog(env.sessionmaker, env.redis, build_id, Masker())
    writer.write("Build succeeded: x@sha256:0")
    moved, last = await writer.flush_with(lambda s: transition(s, build_id, BuildStatus.SUCCEEDED))

    assert (moved, last) == (False, 1)
    assert await env.log(build_id) == [(1, "Build succeeded: x@sha256:0")]
    assert (await env.build(build_id)).status == BuildStatus.CANCELLED


async def test_a_colliding_batch_is_renumbered_then_the_step_runs_apart(env: RunEnv) -> None:
    build_id = await env.add_build("f" * 40, status="pushing")
    async with BuildLog(env.sessionmaker, env.redis, build_id, Masker()) as owner:
        owner.write("new owner 1")
    stale = BuildLog(env.sessionmaker, env.redis, build_id, Masker())
    stale.write("stale summary")  # also seq 1
    moved, last = await stale.flush_with(lambda s: transition(s, build_id, BuildStatus.SUCCEEDED))

    assert (moved, last) == (True, None)  # stored apart: followers take the reading path
    assert await env.log(build_id) == [(1, "new owner 1"), (2, "stale summary")]


async def test_a_database_error_in_the_shared_transaction_loses_no_line(env: RunEnv) -> None:
    build_id = await env.add_build("0" * 40, status="pushing")
    calls = 0

    async def broken_once(session: AsyncSession) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            await session.execute(text("SELECT * FROM no_such_table"))
        return await transition(session, build_id, BuildStatus.SUCCEEDED)

    writer = BuildLog(env.sessionmaker, env.redis, build_id, Masker())
    writer.write("Build succeeded: x@sha256:0")
    moved, last = await writer.flush_with(broken_once)

    assert (moved, last, calls) == (True, None, 2)
    assert await env.log(build_id) == [(1, "Build succeeded: x@sha256:0")]
    assert (await env.build(build_id)).status == BuildStatus.SUCCEEDED


async def test_a_finished_build_run_by_the_worker_is_followed_to_its_end_without_reads(
    env: RunEnv,
) -> None:
    from sqlalchemy import delete

    from buildsvc.store.models import SourceBinding

    async with env.sessionmaker.begin() as session:
        await session.execute(delete(SourceBinding))  # fails at once, without Docker
    build_id = await env.add_build("1" * 40)
    async with counted_store(env) as (sessionmaker, statements):
        follower = logs.follow(sessionmaker, env.redis, build_id, poll=30)
        async with contextlib.aclosing(follower):
            first = await first_item(follower, statements)
            assert await env.run(build_id) == "failed"
            stored = await env.log(build_id)
            seen = await lines_until(follower, await asyncio.wait_for(first, 5), stored[-1][0])
            statements.clear()
            end = await asyncio.wait_for(anext(follower), 5)

    assert seen == [line for _, line in stored]
    assert seen[-1].startswith("Build failed: SOURCE_NOT_BOUND")
    assert end == logs.LogEnd("failed")
    assert statements == []
