"""The worker decrypts secret build args just before it builds, and fails the build with a
stable code when no key decrypts them."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from buildsvc.crypto import Cipher, generate_key
from buildsvc.store.models import Build
from tests.buildsvc.worker.run_env import RunEnv, run_env_fixture  # noqa: F401

pytestmark = pytest.mark.e2e
SECRET = "s3cr3t-" + "k" * 12
# The step fails unless the build got the value in clear.
DOCKERFILE = f"FROM buildsvc/busybox:latest\nARG API_KEY\nRUN test \"$API_KEY\" = '{SECRET}'\n"


async def test_the_build_gets_the_value_in_clear_and_the_log_does_not(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": DOCKERFILE})
    build_id = await env.add_build(
        sha, build_args={"API_KEY": SECRET}, secret_build_args=["API_KEY"], no_cache=True
    )

    assert await env.run(build_id) == "succeeded"
    assert SECRET not in "\n".join(line for _, line in await env.log(build_id))


async def test_a_secret_no_key_decrypts_fails_the_build(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": DOCKERFILE})
    build_id = await env.add_build(
        sha, build_args={"API_KEY": SECRET}, secret_build_args=["API_KEY"]
    )
    foreign = Cipher([generate_key().encode()]).encrypt(SECRET)
    async with env.sessionmaker.begin() as session:
        await session.execute(
            update(Build).where(Build.id == build_id).values(build_args={"API_KEY": foreign})
        )

    assert await env.run(build_id) == "failed"

    build = await env.build(build_id)
    assert build.error_code == "SECRET_UNREADABLE"
    assert build.building_at is None  # it never reached the engine
