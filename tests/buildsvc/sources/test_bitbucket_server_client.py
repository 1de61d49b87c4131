"""BitbucketServerClient against forgesim: projects, pickers, webhooks, refs, build statuses."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from buildsvc.errors import InvalidInput, NotFound
from buildsvc.sources import BitbucketServerProvider, CommitState, SourceClient
from buildsvc.sources.bitbucket_server_bind import PERMISSIONS_UNVERIFIED
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    push_history,
    source_settings,
    wait_deliveries,
)


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("bitbucket-server")


async def test_bind_describes_the_binding(world: ForgeWorld) -> None:
    binding, credentials = await world.bind(username="Alice", url=world.forge.url + "/")
    assert binding.provider == "bitbucket-server"
    assert binding.url == world.forge.url
    assert binding.api_url == world.forge.api_url
    assert binding.api_version == "1.0"
    assert binding.username == "alice"
    assert binding.user_id == "1"
    assert binding.warnings == (PERMISSIONS_UNVERIFIED,)
    assert world.provider.git_credentials(binding, credentials) == ("alice", world.token)


async def test_pickers_follow_pagination_to_the_end(world: ForgeWorld) -> None:
    world.forge.admin.create_namespace("big", members={"alice": "admin"})
    for i in range(250):
        world.forge.admin.create_repository("big", f"r{i:03d}")
    client = await world.client()
    assert [(n.path, n.kind) for n in await client.list_namespaces()] == [
        ("ACME", "project"),
        ("BIG", "project"),
    ]
    repos = await client.list_repositories("BIG")
    assert sorted(r.full_path for r in repos) == [f"BIG/r{i:03d}" for i in range(250)]
    app = await client.get_repository("ACME/app")
    assert app.clone_url == world.forge.url + "/scm/acme/app.git"  # no "alice@" in it
    assert app.default_branch is None  # an empty repository has none yet
    assert app.private is True
    with pytest.raises(InvalidInput):
        await client.get_repository("ACME/app/../x")


async def _push(world: ForgeWorld, tmp_path: Path) -> dict[str, str]:
    binding, credentials = await world.bind()
    user, password = world.provider.git_credentials(binding, credentials)
    remote = world.forge.git_url_with_token("ACME/app", password, username=user)
    return await asyncio.to_thread(push_history, remote, tmp_path / "work")


async def test_hook_create_get_delete(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    hook = await client.create_hook("ACME/app", "http://127.0.0.1:9/hook", "s3cret-value")
    assert (hook.url, hook.enabled) == ("http://127.0.0.1:9/hook", True)
    assert await client.get_hook("ACME/app", hook.id) == hook
    await _push(world, tmp_path)
    (delivery,) = await wait_deliveries(world.forge, 1)
    assert delivery["event"] == "repo:refs_changed"
    digest = hmac.new(b"s3cret-value", delivery["body"].encode(), hashlib.sha256).hexdigest()
    assert delivery["headers"]["X-Hub-Signature"] == f"sha256={digest}"
    await client.delete_hook("ACME/app", hook.id)
    assert await client.get_hook("ACME/app", hook.id) is None
    await client.delete_hook("ACME/app", hook.id)  # already gone: not an error


async def _pushed(world: ForgeWorld, client: SourceClient, tmp_path: Path) -> dict[str, str]:
    hook = await client.create_hook("ACME/app", "http://127.0.0.1:9/hook", "s")
    shas = await _push(world, tmp_path)
    await wait_deliveries(world.forge, 1)
    await client.delete_hook("ACME/app", hook.id)
    return shas


async def test_resolve_ref_after_a_real_push(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    shas = await _pushed(world, client, tmp_path)
    main, feature = shas["main"], shas["feature"]
    assert (await client.get_repository("ACME/app")).default_branch == "main"
    assert await client.resolve_ref("ACME/app", "main") == main
    assert await client.resolve_ref("ACME/app", "refs/heads/feature/x") == feature
    assert await client.resolve_ref("ACME/app", "feature/x") == feature
    assert await client.resolve_ref("ACME/app", "v1") == main  # annotated tag, peeled
    assert await client.resolve_ref("ACME/app", "refs/tags/v1") == main
    assert await client.resolve_ref("ACME/app", feature[:12]) == feature
    for missing in ("nope", "ma", "refs/tags/v", "0" * 40):
        with pytest.raises(NotFound):
            await client.resolve_ref("ACME/app", missing)


async def test_build_status_is_seen_on_the_forge(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    sha = (await _pushed(world, client, tmp_path))["main"]
    url = f"{world.forge.api_url}/projects/ACME/repos/app/commits/{sha}/builds"
    expected: dict[CommitState, str] = {
        "pending": "INPROGRESS",
        "running": "INPROGRESS",
        "success": "SUCCESSFUL",
        "failed": "FAILED",
        "canceled": "FAILED",
    }
    for state, shown in expected.items():
        await client.set_commit_status(
            "ACME/app", sha, state, target_url="http://ci.example/b/1", description=state
        )
        answer = await asyncio.to_thread(
            requests.get, url, headers={"Authorization": f"Bearer {world.token}"}, timeout=5
        )
        (status,) = answer.json()["values"]
        assert (status["state"], status["key"], status["url"]) == (
            shown,
            "buildsvc",
            "http://ci.example/b/1",
        )


async def test_every_call_goes_through_the_address_policy(world: ForgeWorld) -> None:
    binding, credentials = await world.bind()
    client = BitbucketServerProvider(source_settings(allowed_source_networks=[])).client(
        binding, credentials
    )
    calls = [
        client.list_namespaces(),
        client.list_repositories("ACME"),
        client.get_repository("ACME/app"),
        client.create_hook("ACME/app", "http://127.0.0.1:9/h", "s"),
        client.get_hook("ACME/app", "1"),
        client.delete_hook("ACME/app", "1"),
        client.resolve_ref("ACME/app", "main"),
        client.set_commit_status("ACME/app", "a" * 40, "success", target_url="", description=""),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as info:
            await call
        assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
