"""The worker decrypts secret build args just before it builds: after a key rotation with
the old key gone, and failing the build with a stable code when no key decrypts them."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import update

from buildsvc.crypto import KEY_FILE_NAME, Cipher, generate_key, load_or_create_key_file
from buildsvc.store.models import Build, ImageRepository
from buildsvc.store.rotation import rotate_stored_secrets
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


async def test_after_rotation_the_worker_decrypts_with_the_new_key_alone(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": DOCKERFILE})
    build_id = await env.add_build(
        sha, build_args={"API_KEY": SECRET}, secret_build_args=["API_KEY"], no_cache=True
    )
    old = load_or_create_key_file(env.settings.data_dir / KEY_FILE_NAME)
    new = generate_key().encode()
    async with env.sessionmaker.begin() as session:  # the factory's hook secret is no token
        hook_secret = Cipher([old]).encrypt("hook-secret")
        await session.execute(update(ImageRepository).values(hook_secret_encrypted=hook_secret))
    # The forge token, the hook secret, the build's API_KEY.
    assert await rotate_stored_secrets(env.sessionmaker, Cipher([new, old])) == 3

    # The worker restarted with only the new key.
    env.deps.access = dataclasses.replace(env.deps.access, cipher=Cipher([new]))
    assert await env.run(build_id) == "succeeded"
    text = "\n".join(line for _, line in await env.log(build_id))
    assert SECRET not in text


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
