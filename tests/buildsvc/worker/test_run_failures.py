"""How builds end when something goes wrong: step errors, registry, timeout, cancel, shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr

from buildsvc.builds.cancel import cancel_build
from buildsvc.builds.outbox import LazyArqPool
from buildsvc.builds.states import BuildStatus
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.common.build_steps import running_steps

pytestmark = pytest.mark.e2e
BASE = "FROM buildsvc/busybox:latest\n"
SLOW_STEP = "echo slow-step-started && sleep 60 && echo slow-step-done"
SLOW = BASE + f"RUN {SLOW_STEP}\n"


async def wait_for(env: RunEnv, build_id: int, needle: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not any(needle in line for _, line in await env.log(build_id)):
        assert time.monotonic() < deadline, await env.log(build_id)
        await asyncio.sleep(0.05)


async def wait_no_sleepers(env: RunEnv, within: float = 5) -> None:
    """Wait until the slow step no longer runs in the engine (a stopped build)."""
    deadline = time.monotonic() + within
    while running_steps(SLOW_STEP):
        assert time.monotonic() < deadline, "the build step is still running"
        await asyncio.sleep(0.1)


async def test_a_failing_step_is_named_and_secrets_are_masked(env: RunEnv) -> None:
    secret = "s3cr3t-" + "x" * 12
    sha = env.push(
        {"Dockerfile": BASE + "ARG API_KEY\nRUN echo key=$API_KEY\nRUN echo oops && exit 3\n"}
    )
    build_id = await env.add_build(
        sha, build_args={"API_KEY": secret}, secret_build_args=["API_KEY"], no_cache=True
    )

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "BUILD_FAILED"
    assert str(build.error_detail).startswith("[3/3] RUN echo oops && exit 3: ")
    assert "oops" in str(build.error_detail)
    text = "\n".join(line for _, line in await env.log(build_id))
    assert "key=****" in text
    assert secret not in text
    assert secret not in str(build.error_detail)


async def test_a_missing_dockerfile_is_named(env: RunEnv) -> None:
    sha = env.push(HELLO)
    build_id = await env.add_build(sha, dockerfile="docker/Dockerfile.prod")

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "DOCKERFILE_NOT_FOUND"
    assert "docker/Dockerfile.prod" in str(build.error_detail)


async def test_a_clone_url_outside_the_allowed_networks_fails_the_build(env: RunEnv) -> None:
    # forgesim listens on 127.0.0.1; this worker may reach 127.0.0.2 only.
    env.deps.settings = env.settings.model_copy(
        update={"allowed_source_networks": ["127.0.0.2/32"]}
    )
    sha = env.push(HELLO)
    build_id = await env.add_build(sha)

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "SOURCE_URL_NOT_ALLOWED"
    assert "resolves to 127.0.0.1, a loopback address" in str(build.error_detail)


async def test_a_wrong_registry_password_is_unauthorized(env: RunEnv) -> None:
    env.deps.settings = env.settings.model_copy(
        # A configured login (as for an htpasswd registry) that the token server refuses.
        update={
            "registry_username": env.services.registry_username,
            "registry_password": SecretStr("not-the-password"),
        }
    )
    sha = env.push(HELLO)
    build_id = await env.add_build(sha)

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "REGISTRY_UNAUTHORIZED"
    assert build.pushing_at is not None


async def test_timeout_stops_the_build(env: RunEnv) -> None:
    env.deps.settings = env.settings.model_copy(update={"build_timeout_seconds": 3})
    sha = env.push({"Dockerfile": SLOW})
    build_id = await env.add_build(sha)
    started = time.monotonic()

    assert await env.run(build_id) == "timed_out"

    assert time.monotonic() - started < 10
    build = await env.build(build_id)
    assert (build.status, build.error_code) == (BuildStatus.TIMED_OUT, "BUILD_TIMEOUT")
    assert "within 3 s" in str(build.error_detail)
    await wait_no_sleepers(env)


async def test_cancel_while_building_ends_within_two_seconds(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": SLOW})
    build_id = await env.add_build(sha)
    run = asyncio.create_task(env.run(build_id))
    await wait_for(env, build_id, "slow-step-started")
    pool = LazyArqPool(env.settings.redis_url)
    started = time.monotonic()

    cancelled = await cancel_build(env.sessionmaker, pool, env.account_id, build_id, by="the test")

    assert cancelled.status == BuildStatus.CANCELLED
    assert await asyncio.wait_for(run, 2) == "cancelled"
    assert time.monotonic() - started < 2
    await pool.close()
    await wait_no_sleepers(env)
    build = await env.build(build_id)
    assert (build.status, build.error_code) == (BuildStatus.CANCELLED, "BUILD_CANCELLED")
    assert (await env.log(build_id))[-1][1] == "Build cancelled."


async def test_cancel_while_queued_skips_the_job(env: RunEnv) -> None:
    build_id = await env.add_build("5" * 40)
    pool = LazyArqPool(env.settings.redis_url)

    assert (
        await cancel_build(env.sessionmaker, pool, env.account_id, build_id, by="the test")
    ).status == (BuildStatus.CANCELLED)
    await pool.close()

    assert await env.run(build_id) == "skipped: the build is already cancelled"


async def test_worker_shutdown_puts_the_build_back_in_the_queue(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": SLOW})
    build_id = await env.add_build(sha)
    run = asyncio.create_task(env.run(build_id))
    await wait_for(env, build_id, "slow-step-started")

    run.cancel()  # what arq does to running jobs on SIGTERM
    with pytest.raises(asyncio.CancelledError):
        await run

    build = await env.build(build_id)
    assert (build.status, build.worker_id, build.building_at) == (BuildStatus.QUEUED, None, None)
    assert "shutting down" in (await env.log(build_id))[-1][1]
    await wait_no_sleepers(env)
