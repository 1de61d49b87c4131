"""The worker and the forge: commit statuses in order, a broken binding failing builds at
once, and git refusing the token breaking the binding."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from buildsvc.store.models import SourceBinding
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.common.forge_env import ForgeEnv

pytestmark = pytest.mark.e2e
REDIS_DB = 1


def forge_view(env: RunEnv) -> ForgeEnv:
    return ForgeEnv("gitlab", env.forge, "alice", env.token, "acme", "acme/app")


async def settled(env: RunEnv) -> None:
    """Wait for the worker's background reports (commit statuses) to end."""
    if env.deps.background:
        await asyncio.wait(env.deps.background, timeout=15)


async def binding(env: RunEnv) -> SourceBinding:
    async with env.sessionmaker() as session:
        found: SourceBinding = (await session.execute(select(SourceBinding))).scalar_one()
        return found


async def test_statuses_end_with_how_the_build_ended(env: RunEnv) -> None:
    page = env.settings.public_url.rstrip("/") + "/console/builds/{}"
    sha = env.push(HELLO)
    built = await env.add_build(sha)
    assert await env.run(built) == "succeeded"
    await settled(env)
    assert forge_view(env).statuses(sha) == [("success", page.format(built))]

    # Failing within moments: the end still lands after "running", never before it.
    sha = env.push({"README.md": "no Dockerfile here"})
    failed = await env.add_build(sha)
    assert await env.run(failed) == "failed"
    await settled(env)
    assert forge_view(env).statuses(sha) == [("failed", page.format(failed))]


async def test_a_broken_binding_fails_builds_at_once(env: RunEnv) -> None:
    sha = env.push(HELLO)
    reason = "refused while listing namespaces: GitLab answered 401 Unauthorized"
    async with env.sessionmaker.begin() as session:
        await session.execute(update(SourceBinding).values(status="broken", broken_reason=reason))
    build_id = await env.add_build(sha)

    started = time.monotonic()
    assert await env.run(build_id) == "failed"
    assert time.monotonic() - started < 5
    build = await env.build(build_id)
    assert (build.error_code, build.error_detail) == ("SOURCE_BINDING_BROKEN", reason)
    assert str(build.error_message).startswith("The source code repository site refused the token")
    await settled(env)
    assert forge_view(env).statuses(sha) == []  # a refused token is not used again


async def test_git_refusing_the_token_breaks_the_binding(env: RunEnv) -> None:
    sha = env.push(HELLO)
    env.forge.admin.set_fault(path_regex="/statuses/", status=500)  # only git can tell
    env.forge.admin.revoke_token(env.token)
    build_id = await env.add_build(sha)
    assert await env.run(build_id) == "failed"
    assert (await env.build(build_id)).error_code == "SOURCE_AUTH_FAILED"
    await settled(env)
    broken = await binding(env)
    assert broken.status == "broken"
    assert str(broken.broken_reason).startswith("refused on git clone: git ")
    assert env.token not in str(broken.broken_reason)

    build_id = await env.add_build(sha)
    assert await env.run(build_id) == "failed"
    assert (await env.build(build_id)).error_code == "SOURCE_BINDING_BROKEN"
