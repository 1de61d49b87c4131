"""``/webhooks/{provider}/{hook_key}`` for all four forges: real pushes to forgesim, the
deliveries it really sends, and what we record for each (pings, multi-ref pushes,
redeliveries, skip markers (read from the forge when Bitbucket Server's payload has no
commit message), path filters)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from buildsvc.intake.triggers import SKIP_MARKERS
from buildsvc.store.models import Build
from buildsvc.web.keys import SESSIONMAKER
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
MAIN_ONLY = [{"type": "branch", "pattern": "main", "tag": "latest"}]


@pytest.fixture(params=PROVIDERS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ForgeEnv]:
    with make_forge_env(request.param, tmp_path / "forge") as made:
        yield made


async def linked(
    client: Client, headers: dict[str, str], env: ForgeEnv, **fields: Any
) -> dict[str, Any]:
    await bind(client, headers, env)
    return await link(client, headers, env, **fields)


async def build_count(client: Client) -> int:
    async with client.app[SESSIONMAKER]() as session:
        return int(await session.scalar(select(func.count(Build.id))) or 0)


async def push(
    env: ForgeEnv, work: Path, files: dict[str, str] | None = None, **kwargs: Any
) -> str:
    sha = await asyncio.to_thread(env.push, work, files, **kwargs)
    await asyncio.to_thread(env.forge.admin.wait_idle)  # every delivery it caused is in
    return sha


async def test_a_push_is_received_and_answered_202(
    client: Client, auth_headers: dict[str, str], env: ForgeEnv, tmp_path: Path
) -> None:
    repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
    sha = await push(env, tmp_path / "work")

    [delivery] = [d for d in await deliveries(client, auth_headers, repo["id"], 1) if d["ref"]]
    assert (delivery["event"], delivery["ref"], delivery["commit_sha"]) == (
        "push",
        "refs/heads/main",
        sha,
    )
    assert delivery["outcome"] == "queued 1 build"
    sent = [d for d in env.forge.admin.deliveries() if d["url"] == repo["hook"]["url"]]
    assert sent
    assert all(d["status"] == 202 for d in sent), sent


async def test_github_ping_is_acknowledged_and_recorded(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("github", tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env)
        await asyncio.to_thread(env.forge.admin.wait_idle)
        [ping] = env.forge.admin.deliveries()
        assert (ping["event"], ping["status"]) == ("ping", 202)
        [recorded] = await deliveries(client, auth_headers, repo["id"], 1)
        assert (recorded["event"], recorded["outcome"], recorded["build_ids"]) == (
            "ping",
            "ping received",
            [],
        )
        assert recorded["delivery_id"] == ping["headers"]["X-GitHub-Delivery"]


async def test_bitbucket_server_test_connection_is_acknowledged(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("bitbucket-server", tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env)
        key, slug = env.repository.split("/")
        url = f"{env.forge.url}/rest/api/1.0/projects/{key}/repos/{slug}/webhooks/test"
        answer = await asyncio.to_thread(
            requests.post,
            url,
            params={"webhookId": repo["hook"]["id"]},
            headers={"Authorization": f"Bearer {env.token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"]["statusCode"] == 202
        [recorded] = await deliveries(client, auth_headers, repo["id"], 1)
        assert (recorded["event"], recorded["outcome"]) == ("ping", "ping received")


@pytest.mark.parametrize("provider", ["bitbucket", "bitbucket-server"])
async def test_one_delivery_of_several_refs_decides_each(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        rules = [*MAIN_ONLY, {"type": "tag", "pattern": "/v.+/", "tag": "{tag}"}]
        repo = await linked(client, auth_headers, env, rules=rules)
        await push(env, tmp_path / "work", branches=["main", "dev"], tags=["v1"])

        [delivery] = await deliveries(client, auth_headers, repo["id"], 1)
        assert delivery["outcome"] == (
            "refs/heads/dev: no rule matched refs/heads/dev; "
            "refs/heads/main: queued 1 build; refs/tags/v1: queued 1 build"
        )
        assert len(delivery["build_ids"]) == 2
        assert await build_count(client) == 2


async def test_a_redelivery_answers_as_before_and_builds_nothing(
    client: Client, auth_headers: dict[str, str], env: ForgeEnv, tmp_path: Path
) -> None:
    repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
    await push(env, tmp_path / "work", branches=["main", "dev"])
    sent = [d for d in env.forge.admin.deliveries() if d["event"] != "ping"]
    answers = []
    for delivery in sent:
        headers = {k: v for k, v in delivery["headers"].items() if k.lower() != "content-length"}
        path = "/" + delivery["url"].split("/", 3)[3]
        response = await client.post(path, data=delivery["body"], headers=headers)
        assert response.status == 202
        answers.append((await response.json())["build_ids"])

    assert sorted(map(tuple, answers)) == sorted(
        tuple(d["build_ids"])
        for d in await deliveries(client, auth_headers, repo["id"], 1)
        if d["event"] == "push"
    )
    assert await build_count(client) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_skip_markers_in_the_head_commit_skip_the_build(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str
) -> None:
    # Bitbucket Server's refs_changed payload has no commit message: read from the forge.
    with make_forge_env(provider, tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
        messages = ["Fix typo [skip build]", "Docs\n\n[Build Skip]", "[CI SKIP] x", "x [skip ci]"]
        for message in messages:
            await push(env, tmp_path / "work", message=message)
        await push(env, tmp_path / "work", message="skip ci, not a marker")

        found = await deliveries(client, auth_headers, repo["id"], len(messages) + 1)
        outcomes = [d["outcome"] for d in reversed(found) if d["event"] == "push"]
        assert outcomes == [f"skipped: {marker}" for marker in SKIP_MARKERS] + ["queued 1 build"]
        assert await build_count(client) == 1


@pytest.mark.parametrize("provider", ["gitlab", "github"])
async def test_path_filters_name_the_rule_that_filtered(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        rule = {**MAIN_ONLY[0], "include_paths": ["src/**"], "ignore_paths": ["**/*.md"]}
        repo = await linked(client, auth_headers, env, rules=[rule])
        rule_id = repo["rules"][0]["id"]
        work = tmp_path / "work"
        await push(env, work, {"README.md": "hello"})
        await push(env, work, {"src/NOTES.md": "notes"})
        await push(env, work, {"src/app.py": "print(1)"})

        found = await deliveries(client, auth_headers, repo["id"], 3)
        assert [d["outcome"] for d in reversed(found) if d["event"] == "push"] == [
            f"skipped: no changed path matches rule {rule_id}'s include_paths",
            f"skipped: every changed path matching rule {rule_id}'s include_paths "
            "matches its ignore_paths",
            "queued 1 build",
        ]


async def test_bitbucket_sends_no_paths_so_filtered_rules_build(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("bitbucket", tmp_path / "forge") as env:
        rule = {**MAIN_ONLY[0], "include_paths": ["src/**"]}
        repo = await linked(client, auth_headers, env, rules=[rule])
        await push(env, tmp_path / "work", {"README.md": "hello"})
        [delivery] = await deliveries(client, auth_headers, repo["id"], 1)
        assert delivery["outcome"] == "queued 1 build"


# Bitbucket Server: the head commit message, read from the forge -----------------------
COMMIT_READ = "/commits?/[0-9a-f]{40}$"  # every forge's single-commit endpoint, nothing else
FAULTS = {
    "an error": {"status": 500, "body": '{"errors": [{"message": "boom"}]}'},
    "no answer": {"delay_ms": 6000},
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_bitbucket_server_builds_when_the_message_cannot_be_read(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, fault: str
) -> None:
    with make_forge_env("bitbucket-server", tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
        env.forge.admin.set_fault(path_regex=COMMIT_READ, **FAULTS[fault])
        await push(env, tmp_path / "work", message="Docs [skip ci]")  # a push is never lost

        [delivery] = await deliveries(client, auth_headers, repo["id"], 1)
        why = {
            "an error": "Bitbucket Server answered 500",
            "no answer": "no answer within 2 s)",
        }[fault]
        assert delivery["outcome"].startswith("queued 1 build (commit message not checked: ")
        assert why in delivery["outcome"], delivery["outcome"]
        assert await build_count(client) == 1
        [sent] = [d for d in env.forge.admin.deliveries() if d["event"] == "repo:refs_changed"]
        assert sent["status"] == 202
        assert sent["duration_ms"] < 4000  # the lookup's deadline bounds the answer


async def test_bitbucket_server_asks_the_forge_only_for_pushes_that_would_build(
    client: Client, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    with make_forge_env("bitbucket-server", tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
        admin = env.forge.admin
        admin.set_fault(path_regex=COMMIT_READ, method="GET", times=1)  # counts reads only
        work = tmp_path / "work"
        await push(env, work, branches=["dev"])
        url = f"/api/v1/repositories/{repo['id']}"
        status, _ = await call(client, auth_headers, "PATCH", url, {"auto_build": False})
        assert status == 200
        await push(env, work, message="Docs [skip ci]")
        assert [f["times"] for f in admin.faults()] == [1]  # neither push read a commit

        status, _ = await call(client, auth_headers, "PATCH", url, {"auto_build": True})
        assert status == 200
        await push(env, work, message="Docs [skip ci]")
        assert [f["times"] for f in admin.faults()] == [0]
        found = await deliveries(client, auth_headers, repo["id"], 3)
        assert [d["outcome"] for d in reversed(found)] == [
            "no rule matched refs/heads/dev",
            "auto build off",
            "skipped: [skip ci]",
        ]
        assert await build_count(client) == 0


@pytest.mark.parametrize("provider", ["gitlab", "github", "bitbucket"])
async def test_forges_that_send_the_message_are_not_asked_for_it(
    client: Client, auth_headers: dict[str, str], tmp_path: Path, provider: str
) -> None:
    with make_forge_env(provider, tmp_path / "forge") as env:
        repo = await linked(client, auth_headers, env, rules=MAIN_ONLY)
        env.forge.admin.set_fault(path_regex=COMMIT_READ, method="GET", times=1)
        await push(env, tmp_path / "work")
        [delivery] = [d for d in await deliveries(client, auth_headers, repo["id"], 1) if d["ref"]]
        assert delivery["outcome"] == "queued 1 build"
        assert [f["times"] for f in env.forge.admin.faults()] == [1]
