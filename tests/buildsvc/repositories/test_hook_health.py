"""Hook health on all four forges: ``GET /api/v1/repositories/{id}`` shows the last
delivery and the hook as the forge has it; ``POST .../hook`` re-creates it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildsvc.repositories.hook_health import HOOK_CHECK_SECONDS
from tests.common.forge_env import (
    PROVIDERS,
    ForgeEnv,
    bind,
    call,
    deliveries,
    link,
    make_forge_env,
)
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    served_client,
    served_settings,
)

REDIS_DB = 1
RULES = [{"type": "branch", "pattern": "main", "tag": "latest"}]


@pytest.fixture(params=PROVIDERS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ForgeEnv]:
    with make_forge_env(request.param, tmp_path / "forge") as made:
        yield made


async def read(client: Client, headers: dict[str, str], repo_id: int) -> dict[str, Any]:
    status, body = await call(client, headers, "GET", f"/api/v1/repositories/{repo_id}")
    assert status == 200, body
    return dict(body)


async def pushes_sent(env: ForgeEnv, work: Path) -> int:
    """Push once; how many push deliveries the forge sent for it."""
    before = len(env.forge.admin.deliveries())
    await asyncio.to_thread(env.push, work)
    await asyncio.to_thread(env.forge.admin.wait_idle)
    return len([d for d in env.forge.admin.deliveries()[before:] if d["event"] != "ping"])


async def test_a_hook_deleted_on_the_forge_shows_and_is_recreated(
    client: Client, auth_headers: dict[str, str], env: ForgeEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, env)
    repo = await link(client, auth_headers, env, rules=RULES)
    work = tmp_path / "work"
    assert await pushes_sent(env, work) == 1

    seen = await read(client, auth_headers, repo["id"])
    hook = seen["hook"]
    assert (hook["id"], hook["exists"], hook["enabled"], hook["error"]) == (
        repo["hook"]["id"],
        True,
        True,
        None,
    )
    assert hook["checked_at"] is not None
    last = seen["last_delivery"]
    assert (last["event"], last["ref"], last["outcome"]) == (
        "push",
        "refs/heads/main",
        "queued 1 build",
    )

    await asyncio.to_thread(env.delete_hook, repo["hook"]["id"])
    gone = (await read(client, auth_headers, repo["id"]))["hook"]
    assert (gone["exists"], gone["enabled"]) == (False, False)
    assert gone["error"].startswith("the hook no longer exists on the forge")
    assert await pushes_sent(env, work) == 0

    status, made = await call(
        client, auth_headers, "POST", f"/api/v1/repositories/{repo['id']}/hook"
    )
    assert status == 200, made
    assert (made["hook"]["exists"], made["hook"]["enabled"]) == (True, True)
    assert made["hook"]["id"] != repo["hook"]["id"]
    assert made["hook"]["url"] == repo["hook"]["url"]
    assert (await read(client, auth_headers, repo["id"]))["hook"]["id"] == made["hook"]["id"]
    # Re-creating again replaces the hook: one delivery per push, never two.
    status, again = await call(
        client, auth_headers, "POST", f"/api/v1/repositories/{repo['id']}/hook"
    )
    assert status == 200, again
    assert await pushes_sent(env, work) == 1
    newest = await deliveries(client, auth_headers, repo["id"], 2)
    assert newest[0]["outcome"] == "queued 1 build"  # the secret is still the right one


async def test_an_unbound_source_has_no_hook_until_bound_and_recreated(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES)
        status, _ = await call(client, auth_headers, "DELETE", "/api/v1/sources/gitlab")
        assert status == 200

        hook = (await read(client, auth_headers, repo["id"]))["hook"]
        assert (hook["id"], hook["exists"]) == (None, False)
        assert hook["error"].startswith("no hook is linked")
        path = f"/api/v1/repositories/{repo['id']}/hook"
        status, refused = await call(client, auth_headers, "POST", path)
        assert (status, refused["error"]["code"]) == (404, "SOURCE_NOT_BOUND")

        await bind(client, auth_headers, env)
        status, made = await call(client, auth_headers, "POST", path)
        assert status == 200, made
        assert made["hook"]["exists"] is True
        assert await pushes_sent(env, tmp_path / "work") == 1
        [delivery] = await deliveries(client, auth_headers, repo["id"], 1)
        assert delivery["outcome"] == "queued 1 build"


async def test_a_slow_forge_never_fails_the_read(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES)
        delay = HOOK_CHECK_SECONDS + 1
        env.forge.admin.set_fault(path_regex="/hooks/", delay_ms=int(delay * 1000), times=1)
        started = time.monotonic()
        hook = (await read(client, auth_headers, repo["id"]))["hook"]
        assert time.monotonic() - started < delay
        assert (hook["exists"], hook["enabled"]) == (None, None)
        assert hook["error"] == f"the forge did not answer within {HOOK_CHECK_SECONDS:g} s"
        await asyncio.sleep(1.5)  # the forge call still running in its thread ends first

        env.forge.admin.set_fault(path_regex="/hooks/", status=500, body='{"message": "boom"}')
        hook = (await read(client, auth_headers, repo["id"]))["hook"]
        assert hook["exists"] is None
        assert hook["error"].startswith("SOURCE_ERROR_RESPONSE: GitLab answered 500")
