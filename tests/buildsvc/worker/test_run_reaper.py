"""The reaper: builds whose worker went silent are requeued once, then fail WORKER_LOST."""

from __future__ import annotations

import datetime as dt

import pytest
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix

from buildsvc.builds import outbox
from buildsvc.builds.states import BuildStatus
from buildsvc.store.models import utcnow
from buildsvc.worker.reaper import reap_once
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.buildsvc.worker.status_env import NAME, forge_view, page, settled

pytestmark = pytest.mark.e2e


def ago(seconds: float) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=seconds)


async def job_queued(env: RunEnv, job: str) -> bool:
    in_queue = await env.redis.zscore(default_queue_name, job) is not None
    return in_queue and bool(await env.redis.exists(job_key_prefix + job))


async def test_a_silent_build_is_requeued_then_runs_to_the_end(env: RunEnv) -> None:
    sha = env.push(HELLO)
    build_id = await env.add_build(
        sha, status="building", worker_id="dead:1:x", heartbeat_at=ago(60), fetching_at=ago(70)
    )
    healthy = await env.add_build(
        "1" * 40, ref="refs/heads/dev", status="building", worker_id="w", heartbeat_at=utcnow()
    )

    assert await reap_once(env.deps) == [build_id]

    build = await env.build(build_id)
    assert (build.status, build.attempt, build.worker_id) == (BuildStatus.QUEUED, 1, None)
    assert build.fetching_at is None
    assert await job_queued(env, outbox.job_id(build_id, 1))
    assert "the build is queued again" in (await env.log(build_id))[-1][1]
    assert (await env.build(healthy)).status == BuildStatus.BUILDING

    assert await env.run(build_id) == "succeeded"
    log = await env.log(build_id)
    assert [seq for seq, _ in log] == list(range(1, len(log) + 1))  # one log, both attempts
    assert any("(attempt 2)" in line for _, line in log)


async def test_a_build_lost_again_fails_with_worker_lost(env: RunEnv) -> None:
    build_id = await env.add_build(
        "2" * 40, status="pushing", worker_id="dead:2:y", attempt=1, heartbeat_at=ago(60)
    )

    assert await reap_once(env.deps) == [build_id]

    build = await env.build(build_id)
    assert (build.status, build.error_code) == (BuildStatus.FAILED, "WORKER_LOST")
    assert "dead:2:y" in str(build.error_detail)
    assert build.finished_at is not None
    assert "WORKER_LOST" in (await env.log(build_id))[-1][1]


async def test_a_build_failed_as_worker_lost_ends_its_commit_status(env: RunEnv) -> None:
    sha = env.push(HELLO)
    build_id = await env.add_build(
        sha,
        status="building",
        worker_id="dead:3:z",
        attempt=env.settings.worker_lost_retries,
        heartbeat_at=ago(60),
        status_context=NAME,
    )
    assert await reap_once(env.deps) == [build_id]

    await settled(env)
    assert forge_view(env).named_statuses(sha) == {
        NAME: ("failed", "Build failed: its worker was lost", page(env, build_id))
    }


async def test_a_fresh_heartbeat_is_not_reaped(env: RunEnv) -> None:
    build_id = await env.add_build(
        "3" * 40, status="fetching", worker_id="alive", heartbeat_at=ago(2)
    )

    assert await reap_once(env.deps) == []
    assert (await env.build(build_id)).status == BuildStatus.FETCHING


async def test_queued_builds_whose_job_is_not_in_redis_are_enqueued(env: RunEnv) -> None:
    vanished = await env.add_build("4" * 40, queued_at=ago(60), enqueued=True)
    in_redis = await env.add_build("5" * 40, ref="refs/heads/x", queued_at=ago(60), enqueued=True)
    await env.redis.enqueue_job("run_build", in_redis, _job_id=outbox.job_id(in_redis))
    in_outbox = await env.add_build("6" * 40, ref="refs/heads/y", queued_at=ago(6), enqueued=False)
    just_queued = await env.add_build("7" * 40, ref="refs/heads/z", enqueued=False)

    await reap_once(env.deps)

    assert await job_queued(env, outbox.job_id(vanished))
    assert await job_queued(env, outbox.job_id(in_outbox))
    assert (await env.build(in_outbox)).enqueued
    assert not await job_queued(env, outbox.job_id(just_queued))  # intake is still on it
    assert await env.redis.zcard(default_queue_name) == 3


async def test_a_job_redis_still_holds_is_not_enqueued_again(env: RunEnv) -> None:
    # Sent by the outbox, but the mark did not make it; a worker has just started it.
    started = await env.add_build("8" * 40, queued_at=ago(60), enqueued=False)
    await env.redis.enqueue_job("run_build", started, _job_id=outbox.job_id(started))
    await env.redis.set(in_progress_key_prefix + outbox.job_id(started), b"1")
    # Lost with a Redis restart: enqueued once, however often the sweep runs.
    lost = await env.add_build("9" * 40, ref="refs/heads/lost", queued_at=ago(60))

    await reap_once(env.deps)
    first = await env.redis.get(job_key_prefix + outbox.job_id(lost))
    await reap_once(env.deps)

    assert await env.redis.exists(in_progress_key_prefix + outbox.job_id(started))
    assert first is not None
    assert await env.redis.get(job_key_prefix + outbox.job_id(lost)) == first
    assert await env.redis.zcard(default_queue_name) == 2
