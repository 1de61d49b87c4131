"""``pending`` commit statuses as builds are queued (webhook and manual), on all four
forges; a refusal only notes the build (and a refused token breaks the binding)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from buildsvc.api.keys import COMMIT_STATUS, SESSIONMAKER, SETTINGS
from tests.buildsvc.factories import AccountInfo, add_build
from tests.buildsvc.forge_env import (
    PROVIDERS,
    ForgeEnv,
    bind,
    call,
    deliveries,
    link,
    make_forge_env,
)
from tests.buildsvc.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    served_client,
    served_settings,
)

REDIS_DB = 1
PENDING = {"gitlab": "pending", "github": "pending", "bitbucket": "INPROGRESS"}
RULES = [
    {"type": "branch", "pattern": "main", "tag": "latest"},
    {"type": "branch", "pattern": "/ma.+/", "tag": "{branch}-{short_sha}"},
]


async def eventually(probe: Callable[[], Any], seconds: float = 10) -> Any:
    """``probe()``'s first truthy answer (it runs in a thread: it may block)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await asyncio.to_thread(probe)
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def build(client: Client, headers: dict[str, str], build_id: int) -> dict[str, Any]:
    status, body = await call(client, headers, "GET", f"/api/v1/builds/{build_id}")
    assert status == 200, body
    return dict(body)


async def pushed(
    client: Client, headers: dict[str, str], env: ForgeEnv, work: Path
) -> tuple[dict[str, Any], str, list[int]]:
    await bind(client, headers, env)
    repo = await link(client, headers, env, rules=RULES)
    sha = await asyncio.to_thread(env.push, work)
    await asyncio.to_thread(env.forge.admin.wait_idle)
    found = await deliveries(client, headers, repo["id"], 1)
    [delivery] = [d for d in found if d["event"] == "push"]
    return repo, sha, delivery["build_ids"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_push_sets_pending_linking_the_build(
    client: Client,
    auth_headers: dict[str, str],
    public_url: str,
    tmp_path: Path,
    provider: str,
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        _, sha, build_ids = await pushed(client, auth_headers, env, tmp_path / "work")
        assert len(build_ids) == 2
        statuses = await eventually(lambda: env.statuses(sha))
        # One status per commit: the builds of both rules share it, linking the newest.
        assert statuses == [
            (PENDING.get(provider, "INPROGRESS"), f"{public_url}/console/builds/{max(build_ids)}")
        ]


async def test_a_manual_build_sets_pending(
    client: Client, auth_headers: dict[str, str], public_url: str, tmp_path: Path
) -> None:
    with make_forge_env("github", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        sha = await asyncio.to_thread(env.push, tmp_path / "work")
        await deliveries(client, auth_headers, repo["id"], 2)
        path = f"/api/v1/repositories/{repo['id']}/builds"
        status, started = await call(client, auth_headers, "POST", path, {"ref": "main"})
        assert status == 201, started
        [manual] = started["builds"]
        url = f"{public_url}/console/builds/{manual['id']}"
        found = await eventually(lambda: ("pending", url) in env.statuses(sha))
        assert found, env.statuses(sha)


async def test_a_refused_status_is_noted_on_the_build(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        env.forge.admin.set_fault(path_regex="/statuses/", status=500, body='{"message": "boom"}')
        _, _, build_ids = await pushed(client, auth_headers, env, tmp_path / "work")

        async def noted() -> Any:
            for _ in range(200):
                found = await build(client, auth_headers, max(build_ids))
                if found["status_note"]:
                    return found
                await asyncio.sleep(0.05)
            return found

        found = await noted()
        assert found["status"] == "queued"  # never in the build's way
        assert found["status_note"].startswith(
            "commit status 'pending' not set on the forge "
            "(SOURCE_ERROR_RESPONSE: GitLab answered 500"
        )


async def test_a_refused_token_breaks_the_binding(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("bitbucket", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        env.forge.admin.revoke_token(env.token)
        pusher = env.new_token()  # pushing still works with another token
        await asyncio.to_thread(
            ForgeEnv(env.provider, env.forge, "alice", pusher, env.namespace, env.repository).push,
            tmp_path / "work",
        )
        [delivery] = await deliveries(client, auth_headers, repo["id"], 1)

        async def broken() -> dict[str, Any]:
            for _ in range(200):
                _, sources = await call(client, auth_headers, "GET", "/api/v1/sources")
                if sources["items"][0]["status"] == "broken":
                    break
                await asyncio.sleep(0.05)
            return dict(sources["items"][0])

        found = await broken()
        assert found["status"] == "broken"
        assert found["broken_reason"].startswith(
            "refused while setting a commit status on acme/app: Bitbucket answered 401"
        )
        noted = await build(client, auth_headers, delivery["build_ids"][0])
        assert noted["status_note"].startswith("commit status 'pending' not set on the forge")


async def test_builds_no_longer_queued_are_left_to_the_worker(
    client: Client, auth_headers: dict[str, str], account: AccountInfo, tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=[{"type": "tag", "pattern": "v1"}])
        sha = await asyncio.to_thread(env.push, tmp_path / "work")  # builds nothing
        await deliveries(client, auth_headers, repo["id"], 1)
        async with client.app[SESSIONMAKER].begin() as session:
            running = await add_build(session, account.id, repo["id"], commit_sha=sha)
            running.status = "building"
        reporter = client.app[COMMIT_STATUS]
        reporter.report([running.id])
        await reporter.close()
        assert await asyncio.to_thread(env.statuses, sha) == []

        async with client.app[SESSIONMAKER].begin() as session:
            queued = await add_build(session, account.id, repo["id"], commit_sha=sha)
        reporter.report([queued.id])
        await reporter.close()
        assert [state for state, _ in await asyncio.to_thread(env.statuses, sha)] == ["pending"]


@pytest.fixture
def public_url(client: Client) -> str:
    return str(client.app[SETTINGS].public_url)


async def test_a_build_cancelled_while_queued_reports_canceled(
    client: Client, auth_headers: dict[str, str], public_url: str, tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        _, sha, build_ids = await pushed(client, auth_headers, env, tmp_path / "work")
        newest = max(build_ids)
        assert await eventually(lambda: env.statuses(sha))
        reporter = client.app[COMMIT_STATUS]

        # The other rule's build of the same commit still waits: its pending stays.
        status, _ = await call(client, auth_headers, "POST", f"/api/v1/builds/{newest}/cancel")
        assert status == 200
        await reporter.close()
        assert [state for state, _ in env.statuses(sha)] == ["pending"]

        status, _ = await call(
            client, auth_headers, "POST", f"/api/v1/builds/{min(build_ids)}/cancel"
        )
        assert status == 200
        await reporter.close()
        url = f"{public_url}/console/builds/{min(build_ids)}"
        assert await asyncio.to_thread(env.statuses, sha) == [("canceled", url)]
