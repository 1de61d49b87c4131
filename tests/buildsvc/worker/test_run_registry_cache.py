"""The registry build cache: a build on an engine that never built the repository takes
its steps from the rule's last image in the registry (a second, cold dockerd)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import docker
import pytest

from buildsvc.worker.registry_cache import NO_PREVIOUS
from tests.buildsvc.worker.run_env import RunEnv, run_env_fixture  # noqa: F401
from tests.common.cold_engine import cold_engine

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cold_url() -> Iterator[str]:
    with cold_engine() as url:
        yield url


def five_steps() -> dict[str, str]:
    """A Dockerfile of four layer steps after FROM, unlike any other test's; step N of
    them prints ``step N ran`` (a line the step's name does not hold)."""
    nonce = secrets.token_hex(6)
    dockerfile = (
        "FROM buildsvc/busybox:latest\n"
        f"RUN echo step $((0+1)) ran {nonce} && echo one > /one\n"
        f"RUN echo step $((1+1)) ran {nonce} && echo two > /two\n"
        "COPY app.txt /app.txt\n"
        f"RUN echo step $((2+1)) ran {nonce} && cat /app.txt\n"
    )
    return {"Dockerfile": dockerfile, "app.txt": "hello\n"}


async def log_text(env: RunEnv, build_id: int) -> str:
    return "\n".join(line for _, line in await env.log(build_id))


async def test_a_cold_engine_takes_the_steps_from_the_rules_last_image(
    env: RunEnv, cold_url: str
) -> None:
    sha = env.push(five_steps())
    first = await env.add_build(sha)
    assert await env.run(first) == "succeeded"
    first_log = await log_text(env, first)
    assert NO_PREVIOUS in first_log
    assert "step 2 ran" in first_log
    previous = f"{env.image}@{(await env.build(first)).digest}"

    main_engine = env.deps.docker
    env.deps.docker = docker.APIClient(base_url=cold_url, version="auto", timeout=120)
    try:
        second = await env.add_build(sha)
        assert await env.run(second) == "succeeded"
        pulled = env.deps.docker.inspect_image(previous)["Id"]
    finally:
        env.deps.docker.close()
        env.deps.docker = main_engine

    text = await log_text(env, second)
    assert f"Pulling cache image {previous}" in text
    assert f"cache: using {previous} from the registry (4 layers cached)" in text
    assert "step 1 ran" not in text  # no step ran: each came from the registry's layers
    assert "step 3 ran" not in text
    assert text.count(" CACHED") >= 4
    built = main_engine.inspect_image(previous)
    assert pulled == built["Id"]


async def test_an_image_the_registry_lost_is_a_miss_not_a_failure(env: RunEnv) -> None:
    sha = env.push(five_steps())
    gone = "sha256:" + "0" * 64
    await env.add_build(sha, status="succeeded", digest=gone)
    build_id = await env.add_build(sha)

    assert await env.run(build_id) == "succeeded"

    text = await log_text(env, build_id)
    assert f"cache: {env.image}@{gone} could not be pulled; building without registry cache" in text
    assert "step 3 ran" in text


async def test_a_build_without_cache_asks_for_no_cache_image(env: RunEnv) -> None:
    sha = env.push(five_steps())
    await env.add_build(sha, status="succeeded", digest="sha256:" + "0" * 64)
    build_id = await env.add_build(sha, no_cache=True)

    assert await env.run(build_id) == "succeeded"

    text = await log_text(env, build_id)
    assert "cache:" not in text
    assert "step 1 ran" in text
