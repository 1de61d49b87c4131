"""BitbucketServerClient against forgesim: projects, pickers, webhooks, refs, build statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from buildsvc.errors import InvalidInput, NotFound
from buildsvc.sources import CommitState
from buildsvc.sources.bitbucket.server_bind import PERMISSIONS_UNVERIFIED
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    push_through_a_hook,
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


async def test_resolve_ref_after_a_real_push(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    shas = await push_through_a_hook(world, client, tmp_path)
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
    sha = (await push_through_a_hook(world, client, tmp_path))["main"]
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
            "ACME/app",
            sha,
            state,
            context="buildsvc",
            target_url="http://ci.example/b/1",
            description=state,
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
