"""BitbucketClient (Cloud) against forgesim: credentials, pickers, hooks, refs, statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from buildsvc.errors import InvalidInput, NotFound
from buildsvc.sources import CommitState
from buildsvc.sources.bitbucket.cloud_bind import SCOPE_UNVERIFIED
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    push_through_a_hook,
)


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("bitbucket")


async def test_app_password_binding(world: ForgeWorld) -> None:
    binding, credentials = await world.bind(username="ALICE", url=world.forge.url + "/")
    assert binding.provider == "bitbucket"
    assert binding.url == world.forge.url
    assert binding.api_url == world.forge.url + "/2.0"
    assert binding.api_version == "2.0"  # HTTP Basic
    assert binding.username == "alice"
    assert binding.user_id.startswith("{")
    assert binding.scopes == ()
    assert binding.warnings == (SCOPE_UNVERIFIED,)  # forgesim sends no X-OAuth-Scopes
    assert world.provider.git_credentials(binding, credentials) == ("alice", world.token)


async def test_access_token_binding(world: ForgeWorld) -> None:
    binding, credentials = await world.bind(username="x-token-auth")
    assert binding.api_version == "2.0-bearer"
    assert binding.username == "alice"
    assert world.provider.git_credentials(binding, credentials) == ("x-token-auth", world.token)
    client = world.provider.client(binding, credentials)
    assert (await client.get_repository("acme/app")).full_path == "acme/app"


async def test_api_token_bound_with_the_email_address(world: ForgeWorld) -> None:
    binding, credentials = await world.bind(username="alice@example.invalid")
    assert binding.api_version == "2.0"
    assert binding.username == "alice@example.invalid"  # later Basic calls need it
    git_user, _ = world.provider.git_credentials(binding, credentials)
    assert git_user == "x-bitbucket-api-token-auth"


async def test_namespaces_are_workspaces(world: ForgeWorld) -> None:
    client = await world.client()
    namespaces = await client.list_namespaces()
    assert [(n.path, n.kind) for n in namespaces] == [("acme", "workspace"), ("alice", "workspace")]


async def test_pickers_follow_pagination_to_the_end(world: ForgeWorld) -> None:
    world.forge.admin.create_namespace("big", members={"alice": "admin"})
    for i in range(250):
        world.forge.admin.create_repository("big", f"r{i:03d}")
    client = await world.client()
    repos = await client.list_repositories("big")
    assert sorted(r.full_path for r in repos) == [f"big/r{i:03d}" for i in range(250)]
    app = await client.get_repository("acme/app")
    assert app.clone_url == world.forge.url + "/acme/app.git"  # no "alice@" in it
    assert app.default_branch == "main"
    assert app.private is True
    with pytest.raises(InvalidInput):
        await client.get_repository("acme/../app")


async def test_resolve_ref_after_a_real_push(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    shas = await push_through_a_hook(world, client, tmp_path)
    main, feature = shas["main"], shas["feature"]
    assert await client.resolve_ref("acme/app", "main") == main
    assert await client.resolve_ref("acme/app", "refs/heads/feature/x") == feature
    assert await client.resolve_ref("acme/app", "feature/x") == feature
    assert await client.resolve_ref("acme/app", "v1") == main
    assert await client.resolve_ref("acme/app", "refs/tags/v1") == main
    assert await client.resolve_ref("acme/app", feature[:12]) == feature
    for missing in ("nope", "refs/tags/nope", "0" * 40):
        with pytest.raises(NotFound):
            await client.resolve_ref("acme/app", missing)


async def test_commit_status_is_seen_on_the_forge(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    sha = (await push_through_a_hook(world, client, tmp_path))["main"]
    url = f"{world.forge.url}/2.0/repositories/acme/app/commit/{sha}/statuses/build/buildsvc"
    expected: dict[CommitState, str] = {
        "pending": "INPROGRESS",
        "running": "INPROGRESS",
        "success": "SUCCESSFUL",
        "failed": "FAILED",
        "canceled": "STOPPED",
    }
    for state, shown in expected.items():
        await client.set_commit_status(
            "acme/app",
            sha,
            state,
            context="buildsvc",
            target_url="http://ci.example/b/1",
            description=state,
        )
        answer = await asyncio.to_thread(
            requests.get, url, headers={"Authorization": f"Bearer {world.token}"}, timeout=5
        )
        status = answer.json()
        assert (status["state"], status["key"], status["url"]) == (
            shown,
            "buildsvc",
            "http://ci.example/b/1",
        )
