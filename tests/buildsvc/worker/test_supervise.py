"""The supervisor keeps an arq worker up through a Redis outage: a real redis-server of
the test's own, stopped and started again (empty, as after a restart)."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker

from buildsvc.outage import Backoff, Outage
from buildsvc.worker.main import connect, supervise_worker
from buildsvc.worker.supervise import close
from tests.common.servers import RedisServer

LOGGER = "tests.supervise"


@pytest.fixture
def kept_redis() -> Iterator[RedisServer]:
    """A Redis that finds its data again after a restart."""
    server = RedisServer(persist=True)
    server.start()
    yield server
    server.close()


async def record(ctx: dict[str, Any], name: str) -> str:
    ctx["started"].append(name)
    gate: asyncio.Event | None = ctx["gates"].get(name)
    if gate is not None:
        await gate.wait()
    ctx["finished"].append(name)
    return name


async def startup(ctx: dict[str, Any]) -> None:
    if ctx.get("broken"):
        raise OSError("no such directory")  # an OSError, as Redis errors can be
    ctx["startups"] += 1


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx["shut down"] = True


def outage() -> Outage:
    return Outage(logging.getLogger(LOGGER), Backoff(0.05, 0.2))


@dataclass
class Supervised:
    worker: Worker
    state: Outage
    supervisor: asyncio.Task[None]
    gate: asyncio.Event  # the job in flight ends once it is set


async def new_worker(url: str, state: Outage, **ctx: Any) -> Worker:
    return Worker(
        functions=[func(record, name="record")],
        redis_pool=await connect(RedisSettings.from_dsn(url), state),
        handle_signals=False,
        poll_delay=0.05,
        on_startup=startup,
        on_shutdown=shutdown,
        ctx={"started": [], "finished": [], "startups": 0, **ctx},
    )


async def supervised(url: str, job: str) -> Supervised:
    """A worker under ``supervise``, running ``job`` (a call of ``record``)."""
    state = outage()
    gate = asyncio.Event()
    worker = await new_worker(url, state, gates={job: gate})
    supervisor = asyncio.create_task(supervise_worker(worker, state))
    await worker.pool.enqueue_job("record", job)
    await until(lambda: job in worker.ctx["started"])
    return Supervised(worker, state, supervisor, gate)


async def until(check: Any) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.name == LOGGER)


async def test_the_worker_runs_jobs_again_once_redis_is_back(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    running = await supervised(own_redis.url, "across")
    worker, supervisor = running.worker, running.supervisor

    own_redis.stop()
    await asyncio.sleep(1.0)  # many polls, all failing
    running.gate.set()  # the job in flight ends during the outage
    await until(lambda: "across" in worker.ctx["finished"])
    await asyncio.sleep(0.5)
    assert not supervisor.done()
    own_redis.start()  # empty
    await until(lambda: lines(caplog, "restored after") == 1)
    await worker.pool.enqueue_job("record", "after")
    await until(lambda: "after" in worker.ctx["finished"])

    assert lines(caplog, "redis connection lost") == 1
    assert worker.ctx["started"] == ["across", "after"]
    assert worker.ctx["startups"] == 1  # not once more for each restart of arq's loop
    supervisor.cancel()  # what SIGTERM does
    with pytest.raises(asyncio.CancelledError):
        await supervisor
    await close(worker)
    assert worker.ctx["shut down"]


async def test_a_worker_started_while_redis_is_down_connects_once_it_is_up(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    own_redis.stop()
    state = outage()
    connecting = asyncio.create_task(connect(RedisSettings.from_dsn(own_redis.url), state))
    await asyncio.sleep(0.5)
    assert not connecting.done()

    own_redis.start()
    pool = await asyncio.wait_for(connecting, 10)

    assert await pool.ping()
    assert (lines(caplog, "redis connection lost"), lines(caplog, "restored after")) == (1, 1)
    await pool.aclose()


async def test_a_worker_stopped_during_an_outage_still_shuts_down(own_redis: RedisServer) -> None:
    running = await supervised(own_redis.url, "held")
    worker, supervisor = running.worker, running.supervisor
    own_redis.stop()
    await until(lambda: running.state.down)

    worker.handle_sig(signal.SIGTERM)  # arq's handler: cancels the job, then calls on_stop
    with pytest.raises(asyncio.CancelledError):
        await supervisor
    await close(worker)

    assert worker.ctx["shut down"]
    assert "held" not in worker.ctx["finished"]  # cancelled, to run again elsewhere


async def test_a_job_whose_end_arq_could_not_record_is_freed_to_run_again(
    kept_redis: RedisServer,
) -> None:
    running = await supervised(kept_redis.url, "across")
    worker = running.worker
    kept_redis.stop()
    running.gate.set()  # it ends during the outage: arq cannot record that
    await until(lambda: "across" in worker.ctx["finished"])

    kept_redis.start()  # with the job and the in-progress marker of its first run

    await until(lambda: worker.ctx["started"] == ["across", "across"])
    running.supervisor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running.supervisor
    await close(worker)


async def test_a_failing_startup_ends_the_worker_rather_than_pass_for_an_outage(
    own_redis: RedisServer,
) -> None:
    state = outage()
    worker = await new_worker(own_redis.url, state, broken=True)

    with pytest.raises(OSError, match="no such directory"):
        await asyncio.wait_for(supervise_worker(worker, state), 10)
    await close(worker)

    assert not state.down
