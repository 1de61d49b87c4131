"""``pending`` commit statuses as builds are queued (webhook and manual), one per rule, on
all four forges; a refusal only notes the build (and a refused token breaks the binding);
builds cancelled or superseded while queued end their commit's status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from buildsvc.bindings.access import SourceAccess
from buildsvc.builds.forge_status import post_now
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.web import keys
from buildsvc.web.keys import CIPHER, COMMIT_STATUS, SESSIONMAKER, SETTINGS
from tests.common.factories import AccountInfo, add_build
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


def names(repo: dict[str, Any]) -> list[str]:
    """The status names of RULES' builds (builds.status_context)."""
    image = f"buildsvc/{repo['namespace']}/{repo['name']}"
    return [f"{image}:latest (branch main)", f"{image}:{{branch}}-{{short_sha}} (branch /ma.+/)"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_push_sets_pending_per_rule_linking_each_build(
    client: Client,
    auth_headers: dict[str, str],
    public_url: str,
    tmp_path: Path,
    provider: str,
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        repo, sha, build_ids = await pushed(client, auth_headers, env, tmp_path / "work")
        assert len(build_ids) == 2
        named = await eventually(lambda: len(env.named_statuses(sha)) == 2)
        assert named, env.named_statuses(sha)
        # One status per rule, under a name of its own (GitHub branch protection can
        # require it), each linking its own build.
        rules = [rule["id"] for rule in repo["rules"]]
        by_rule = {(await build(client, auth_headers, i))["rule_id"]: i for i in build_ids}
        pending = PENDING.get(provider, "INPROGRESS")
        assert env.named_statuses(sha) == {
            name: (pending, "Build queued", f"{public_url}/console/builds/{by_rule[rule]}")
            for name, rule in zip(names(repo), rules, strict=True)
        }


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
        repo, sha, build_ids = await pushed(client, auth_headers, env, tmp_path / "work")
        first, second = sorted(build_ids)
        assert await eventually(lambda: len(env.named_statuses(sha)) == 2)
        reporter = client.app[COMMIT_STATUS]
        page = f"{public_url}/console/builds/{{}}"
        ended = ("canceled", "Build cancelled before it started")

        # Each rule's status is its own: the other rule's build still waits, pending.
        status, _ = await call(client, auth_headers, "POST", f"/api/v1/builds/{second}/cancel")
        assert status == 200
        await reporter.close()
        latest, templated = names(repo)
        assert await asyncio.to_thread(env.named_statuses, sha) == {
            latest: ("pending", "Build queued", page.format(first)),
            templated: (*ended, page.format(second)),
        }

        status, _ = await call(client, auth_headers, "POST", f"/api/v1/builds/{first}/cancel")
        assert status == 200
        await reporter.close()
        assert await asyncio.to_thread(env.named_statuses, sha) == {
            latest: (*ended, page.format(first)),
            templated: (*ended, page.format(second)),
        }


# Superseded builds ----------------------------------------------------------------------
# A superseded build's commit no longer shows pending: each forge's nearest to "canceled".
SUPERSEDED = {
    "gitlab": "canceled",
    "github": "error",
    "bitbucket": "STOPPED",
    "bitbucket-server": "FAILED",
}


async def push_builds(
    client: Client, headers: dict[str, str], env: ForgeEnv, repo: dict[str, Any], work: Path
) -> tuple[str, int]:
    """Push to main; the sha and the build it queued (once its delivery is recorded)."""
    before = {d["delivery_id"] for d in await deliveries(client, headers, repo["id"], 0)}
    sha = await asyncio.to_thread(env.push, work)
    await asyncio.to_thread(env.forge.admin.wait_idle)
    found = await deliveries(client, headers, repo["id"], len(before) + 1)
    [build_id] = [
        i
        for d in found
        if d["delivery_id"] not in before and d["event"] == "push"
        for i in d["build_ids"]
    ]
    return sha, build_id


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_build_superseded_by_a_newer_push_ends_its_commits_status(
    client: Client, auth_headers: dict[str, str], public_url: str, tmp_path: Path, provider: str
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        [name, _] = names(repo)
        reporter = client.app[COMMIT_STATUS]
        first, older = await push_builds(client, auth_headers, env, repo, tmp_path / "work")
        await reporter.close()  # its pending is on the forge
        pending = PENDING.get(provider, "INPROGRESS")
        page = f"{public_url}/console/builds/{{}}"
        assert await asyncio.to_thread(env.named_statuses, first) == {
            name: (pending, "Build queued", page.format(older))
        }

        second, newer = await push_builds(client, auth_headers, env, repo, tmp_path / "work")
        await reporter.close()
        assert (await build(client, auth_headers, older))["status"] == "superseded"
        assert await asyncio.to_thread(env.named_statuses, first) == {
            name: (SUPERSEDED[provider], f"Superseded by build {newer}", page.format(older))
        }
        assert await asyncio.to_thread(env.named_statuses, second) == {
            name: (pending, "Build queued", page.format(newer))
        }


async def test_a_build_superseded_on_the_same_commit_leaves_it_to_the_new_build(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        reporter = client.app[COMMIT_STATUS]
        sha, older = await push_builds(client, auth_headers, env, repo, tmp_path / "work")
        path = f"/api/v1/repositories/{repo['id']}/builds"
        status, started = await call(client, auth_headers, "POST", path, {"ref": "main"})
        assert status == 201, started
        [rebuilt] = started["builds"]
        assert rebuilt["commit_sha"] == sha
        await reporter.close()
        assert (await build(client, auth_headers, older))["status"] == "superseded"
        # The rebuild's own statuses cover the commit: no "superseded" over its pending.
        [(state, description, _)] = (await asyncio.to_thread(env.named_statuses, sha)).values()
        assert (state, description) == ("pending", "Build queued")


async def test_a_manual_build_superseding_a_queued_one_ends_its_commits_status(
    client: Client, auth_headers: dict[str, str], public_url: str, tmp_path: Path
) -> None:
    with make_forge_env("github", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        [name, _] = names(repo)
        reporter = client.app[COMMIT_STATUS]
        work = tmp_path / "work"
        first, older = await push_builds(client, auth_headers, env, repo, work)
        url = f"/api/v1/repositories/{repo['id']}"
        status, _ = await call(client, auth_headers, "PATCH", url, {"auto_build": False})
        assert status == 200
        second = await asyncio.to_thread(env.push, work)  # builds nothing: auto build is off
        await asyncio.to_thread(env.forge.admin.wait_idle)

        status, started = await call(client, auth_headers, "POST", url + "/builds", {})
        assert status == 201, started
        [newer] = started["builds"]
        assert newer["commit_sha"] == second
        await reporter.close()
        page = f"{public_url}/console/builds/{{}}"
        assert await asyncio.to_thread(env.named_statuses, first) == {
            name: ("error", f"Superseded by build {newer['id']}", page.format(older))
        }
        assert await asyncio.to_thread(env.named_statuses, second) == {
            name: ("pending", "Build queued", page.format(newer["id"]))
        }


async def test_a_pending_still_on_its_way_never_lands_after_superseded(
    client: Client,
    auth_headers: dict[str, str],
    account: AccountInfo,
    public_url: str,
    tmp_path: Path,
) -> None:
    with make_forge_env("gitlab", tmp_path / "forge") as env:
        await bind(client, auth_headers, env)
        repo = await link(client, auth_headers, env, rules=RULES[:1])
        [name, _] = names(repo)
        admin = env.forge.admin
        admin.set_fault(path_regex="/statuses/", method="POST", delay_ms=1500, times=1)
        sha, older = await push_builds(client, auth_headers, env, repo, tmp_path / "work")
        # Its pending has reached the forge, which holds it a while.
        assert await eventually(lambda: admin.faults()[0]["times"] == 0)

        # Meanwhile another process (a worker's claim, another API process) supersedes
        # the build and posts its end, which lands first.
        app = client.app
        async with app[SESSIONMAKER].begin() as session:
            newer = await add_build(session, account.id, repo["id"], status_context=name)
            assert await transition(session, older, BuildStatus.SUPERSEDED)
        access = SourceAccess(app[SESSIONMAKER], app[CIPHER], app[keys.PROVIDERS], app[SETTINGS])
        await post_now(access, [older], "superseded")
        ended = (
            "canceled",
            f"Superseded by build {newer.id}",
            f"{public_url}/console/builds/{older}",
        )
        assert (await asyncio.to_thread(env.named_statuses, sha))[name] == ended

        # The late pending lands, then this process sees the build ended and says so again.
        await app[COMMIT_STATUS].close()
        assert await asyncio.to_thread(env.named_statuses, sha) == {name: ended}
