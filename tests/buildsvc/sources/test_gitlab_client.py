"""GitLabClient against forgesim (API v4 and v3): pickers, hooks, refs, statuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gitlab
import pytest

from buildsvc.errors import NotFound, SourceErrorResponse
from buildsvc.sources import Binding, Credentials
from buildsvc.sources.gitlab.provider import GitLabClient
from tests.buildsvc.sources.conftest import World, push_history


async def wait_for_deliveries(world: World, hook_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(500):
        found = await asyncio.to_thread(world.forge.admin.deliveries, int(hook_id))
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} deliveries to hook {hook_id}")


async def push_and_settle(
    world: World, client: GitLabClient, work: Path, hook_id: str | None = None
) -> dict[str, str]:
    """Push, then wait until forgesim has processed the push (one delivery per ref).

    forgesim handles a push in background tasks running git; waiting for their
    deliveries keeps the forge from being stopped halfway through them.
    """
    own_hook = hook_id is None
    if hook_id is None:
        hook_id = (await client.create_hook("acme/app", "http://127.0.0.1:9/s", "s")).id
    remote = world.forge.git_url_with_token("acme/app", world.token)
    shas = await asyncio.to_thread(push_history, remote, work)
    await wait_for_deliveries(world, hook_id, 3)
    if own_hook:
        await client.delete_hook("acme/app", hook_id)
    return shas


async def _client(world: World) -> tuple[GitLabClient, Binding, Credentials]:
    binding, credentials = await world.bind()
    return world.provider.client(binding, credentials), binding, credentials


async def test_pickers_follow_pagination_to_the_end(gitlab_world: World) -> None:
    admin = gitlab_world.forge.admin
    admin.create_namespace("big", members={"alice": "developer"})
    names = [f"p{i:04d}" for i in range(1000)]
    await asyncio.to_thread(lambda: [admin.create_repository("big", n) for n in names])
    for i in range(120):  # more groups than one page
        admin.create_namespace(f"team{i:03d}", members={"alice": "reporter"})
    admin.create_repository("alice", "mine")
    client, _, _ = await _client(gitlab_world)

    started = time.monotonic()
    repositories = await client.list_repositories("big")
    elapsed = time.monotonic() - started
    assert sorted(r.name for r in repositories) == names
    assert all(r.full_path == f"big/{r.name}" for r in repositories)
    assert elapsed < 30

    namespaces = await client.list_namespaces()
    assert namespaces[0].path == "alice"
    assert namespaces[0].kind == "user"
    groups = {n.path for n in namespaces if n.kind == "group"}
    assert {"acme", "big"} <= groups
    assert len(groups) == 122

    mine = await client.list_repositories("alice")
    assert [r.full_path for r in mine] == ["alice/mine"]
    with pytest.raises(SourceErrorResponse) as info:
        await client.list_repositories("nobody-here")
    assert info.value.detail == "namespace nobody-here does not exist or the token cannot see it"


async def test_repository_fields(gitlab_world: World) -> None:
    client, _, _ = await _client(gitlab_world)
    repository = await client.get_repository("acme/app")
    assert repository.full_path == "acme/app"
    assert repository.name == "app"
    assert repository.clone_url == gitlab_world.forge.git_url("acme/app")
    assert repository.default_branch == "main"
    assert repository.private is True


async def test_hook_lifecycle(gitlab_world: World, tmp_path: Path) -> None:
    client, _, _ = await _client(gitlab_world)
    url = "http://127.0.0.1:9/webhooks/gitlab/42"
    hook = await client.create_hook("acme/app", url, "per-repo-secret")
    assert hook.url == url
    assert hook.enabled is True
    assert await client.get_hook("acme/app", hook.id) == hook

    def forge_view() -> dict[str, object]:
        gl = gitlab.Gitlab(gitlab_world.forge.url, private_token=gitlab_world.token)
        return dict(gl.projects.get("acme/app").hooks.get(hook.id).attributes)

    attributes = await asyncio.to_thread(forge_view)
    assert attributes["push_events"] is True
    assert attributes["tag_push_events"] is True
    assert attributes["enable_ssl_verification"] is True

    await push_and_settle(gitlab_world, client, tmp_path / "work", hook.id)
    deliveries = await wait_for_deliveries(gitlab_world, hook.id, 3)
    assert len(deliveries) == 3  # main, feature/x, v1
    assert {d["headers"]["X-Gitlab-Token"] for d in deliveries} == {"per-repo-secret"}

    await client.delete_hook("acme/app", hook.id)
    assert await client.get_hook("acme/app", hook.id) is None
    await client.delete_hook("acme/app", hook.id)  # already gone: fine


async def test_hook_needs_maintainer(gitlab_world: World) -> None:
    admin = gitlab_world.forge.admin
    admin.create_user("dev")
    admin.create_namespace("shop", members={"dev": "developer"})
    admin.create_repository("shop", "web")
    token = admin.create_token("dev", ["api"])
    binding, credentials = await gitlab_world.bind(username="dev", token=token)
    client = gitlab_world.provider.client(binding, credentials)
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("shop/web", "http://127.0.0.1:9/h", "s")
    assert info.value.code == "SOURCE_ERROR_RESPONSE"
    assert info.value.detail == (
        "the user may not manage webhooks on shop/web (needs Maintainer role: Settings > Webhooks)"
    )


async def test_resolve_ref_after_a_push(gitlab_world: World, tmp_path: Path) -> None:
    client, _, _ = await _client(gitlab_world)
    shas = await push_and_settle(gitlab_world, client, tmp_path / "work")
    main, feature = shas["main"], shas["feature"]
    assert await client.resolve_ref("acme/app", "main") == main
    assert await client.resolve_ref("acme/app", "refs/heads/main") == main
    assert await client.resolve_ref("acme/app", "feature/x") == feature
    assert await client.resolve_ref("acme/app", "refs/heads/feature/x") == feature
    assert await client.resolve_ref("acme/app", "v1") == main  # annotated tag, peeled
    assert await client.resolve_ref("acme/app", "refs/tags/v1") == main
    assert await client.resolve_ref("acme/app", feature) == feature
    assert await client.resolve_ref("acme/app", feature[:10]) == feature
    for missing in ("nope", "refs/heads/nope", "refs/tags/main"):
        with pytest.raises(NotFound) as info:
            await client.resolve_ref("acme/app", missing)
        assert info.value.code == "REF_NOT_FOUND"


async def test_commit_status(gitlab_world: World, tmp_path: Path) -> None:
    client, _, _ = await _client(gitlab_world)
    shas = await push_and_settle(gitlab_world, client, tmp_path / "work")
    sha = shas["main"]
    for state in ("pending", "running", "success"):
        await client.set_commit_status(
            "acme/app",
            sha,
            state,
            context="buildsvc",
            target_url="http://127.0.0.1:8080/builds/1",
            description=state,
        )

    def statuses() -> list[dict[str, object]]:
        gl = gitlab.Gitlab(gitlab_world.forge.url, private_token=gitlab_world.token)
        commit = gl.projects.get("acme/app").commits.get(sha)
        return [dict(s.attributes) for s in commit.statuses.list(get_all=True)]

    found = await asyncio.to_thread(statuses)
    assert {s["status"] for s in found} >= {"success"}
    assert all(s["name"] == "buildsvc" for s in found)
    assert any(s["target_url"] == "http://127.0.0.1:8080/builds/1" for s in found)


async def test_api_v3_client(make_world: Callable[..., World], tmp_path: Path) -> None:
    world = make_world(gitlab_mode="v3-only")
    admin = world.forge.admin
    names = sorted(f"q{i:03d}" for i in range(230))
    await asyncio.to_thread(lambda: [admin.create_repository("acme", n) for n in names])
    admin.create_repository("alice", "own")
    client, binding, _ = await _client(world)
    assert binding.api_version == "v3"

    namespaces = await client.list_namespaces()
    assert [(n.path, n.kind) for n in namespaces] == [("alice", "user"), ("acme", "group")]
    listed = sorted(r.name for r in await client.list_repositories("acme"))
    assert listed == sorted([*names, "app"])
    assert [r.full_path for r in await client.list_repositories("alice")] == ["alice/own"]
    repository = await client.get_repository("acme/app")
    assert repository.private is True
    assert repository.clone_url == world.forge.git_url("acme/app")

    hook = await client.create_hook("acme/app", "http://127.0.0.1:9/h", "s3")
    assert await client.get_hook("acme/app", hook.id) == hook
    await client.delete_hook("acme/app", hook.id)
    assert await client.get_hook("acme/app", hook.id) is None

    shas = await push_and_settle(world, client, tmp_path / "work")
    assert await client.resolve_ref("acme/app", "refs/tags/v1") == shas["main"]
    assert await client.resolve_ref("acme/app", "feature/x") == shas["feature"]
    await client.set_commit_status(
        "acme/app",
        shas["main"],
        "failed",
        context="buildsvc",
        target_url="http://127.0.0.1/b/2",
        description="no",
    )
