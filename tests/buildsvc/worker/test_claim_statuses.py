"""The worker's commit statuses go under the build's own name, and a build it supersedes
at claim time gets a final status on its commit (its pending does not stay forever)."""

from __future__ import annotations

import pytest

from buildsvc.builds.forge_status import post_now
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.buildsvc.worker.status_env import NAME, forge_view, page, settled

pytestmark = pytest.mark.e2e
REDIS_DB = 1
OTHER = "buildsvc/buildsvc-test/app:{branch} (branch /.+/)"


async def test_a_build_superseded_at_claim_ends_its_commits_status(env: RunEnv) -> None:
    first = env.push({"Dockerfile": "FROM scratch\n"})
    second = env.push({"Dockerfile": "FROM scratch\nLABEL v=2\n"})
    older = await env.add_build(first, status_context=NAME)
    newer = await env.add_build(second, status_context=NAME)
    await post_now(env.deps.access, [older], "pending")  # as the API set it when queued
    view = forge_view(env)
    assert view.named_statuses(first) == {NAME: ("pending", "Build queued", page(env, older))}

    assert await env.run(older) == "skipped: a newer build of the same ref is queued"
    assert (await env.build(older)).status == "superseded"
    await settled(env)
    assert view.named_statuses(first) == {
        NAME: ("canceled", f"Superseded by build {newer}", page(env, older))
    }


async def test_statuses_go_under_the_builds_own_name(env: RunEnv) -> None:
    sha = env.push(HELLO)
    # Another rule's build of the same commit (another ref: not superseded by ours).
    other = await env.add_build(sha, ref="refs/heads/release", status_context=OTHER)
    await post_now(env.deps.access, [other], "pending")
    built = await env.add_build(sha, status_context=NAME)
    assert await env.run(built) == "succeeded"
    await settled(env)
    assert forge_view(env).named_statuses(sha) == {
        OTHER: ("pending", "Build queued", page(env, other)),
        NAME: ("success", "Build succeeded", page(env, built)),
    }
