"""GitHubClient against forgesim: binding, pickers, hooks, refs after a real push, statuses."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from buildsvc.errors import InvalidInput, NotFound
from buildsvc.sources import SourceClient
from tests.buildsvc.sources.conftest import ForgeWorld


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("github")


async def test_bind_describes_the_binding(world: ForgeWorld) -> None:
    binding, credentials = await world.bind(username="ALICE", url=world.forge.url + "/")
    assert binding.provider == "github"
    assert binding.url == world.forge.url
    assert binding.api_url == world.forge.api_url
    assert binding.api_version == "v3"
    assert binding.username == "alice"
    assert binding.user_id == "1"
    assert binding.scopes == ("repo", "admin:repo_hook")
    assert binding.expires_at is None
    assert binding.warnings == ()
    assert world.provider.git_credentials(binding, credentials) == ("x-access-token", world.token)


async def test_namespaces_are_the_user_and_their_organizations(world: ForgeWorld) -> None:
    world.forge.admin.create_namespace("other")  # alice is no member: not listed
    client = await world.client()
    namespaces = await client.list_namespaces()
    assert [(n.path, n.name, n.kind) for n in namespaces] == [
        ("alice", "Alice", "user"),
        ("acme", "acme", "organization"),
    ]


async def test_pickers_follow_pagination_to_the_end(world: ForgeWorld) -> None:
    world.forge.admin.create_namespace("big", members={"alice": "admin"})
    for i in range(250):
        world.forge.admin.create_repository("big", f"r{i:03d}")
    world.forge.admin.create_repository("alice", "mine", private=False)
    client = await world.client()
    repos = await client.list_repositories("big")
    assert sorted(r.full_path for r in repos) == [f"big/r{i:03d}" for i in range(250)]
    mine = await client.list_repositories("ALICE")
    assert [(r.full_path, r.private) for r in mine] == [("alice/mine", False)]
    app = await client.get_repository("acme/app")
    assert app.clone_url == world.forge.url + "/acme/app.git"
    assert app.default_branch == "main"
    assert app.private is True


async def test_paths_are_checked_before_they_reach_a_url(world: ForgeWorld) -> None:
    client = await world.client()
    for path in ("acme", "acme/../x", "a/b/c", "acme/app?x=1"):
        with pytest.raises(InvalidInput):
            await client.get_repository(path)
    with pytest.raises(InvalidInput):
        await client.list_repositories("../acme")


async def _deliveries(world: ForgeWorld, hook_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(500):
        found = await asyncio.to_thread(world.forge.admin.deliveries, int(hook_id))
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} deliveries to hook {hook_id}")


async def test_hook_create_get_delete(world: ForgeWorld) -> None:
    client = await world.client()
    hook = await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "s3cret-value")
    assert hook.url == "http://127.0.0.1:9/hook"
    assert hook.enabled is True
    assert await client.get_hook("acme/app", hook.id) == hook
    (ping,) = await _deliveries(world, hook.id, 1)  # GitHub pings a new hook
    assert ping["event"] == "ping"
    digest = hmac.new(b"s3cret-value", ping["body"].encode(), hashlib.sha256).hexdigest()
    assert ping["headers"]["X-Hub-Signature-256"] == f"sha256={digest}"
    await client.delete_hook("acme/app", hook.id)
    assert await client.get_hook("acme/app", hook.id) is None
    await client.delete_hook("acme/app", hook.id)  # already gone: not an error
    assert await client.get_hook("acme/app", "not-a-number") is None


async def _pushed(world: ForgeWorld, client: SourceClient, tmp_path: Path) -> dict[str, str]:
    """Push with the credentials the worker would use; wait until forgesim processed it."""
    hook = await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "s")
    shas = await world.push(tmp_path)
    await _deliveries(world, hook.id, 4)  # the ping, then a push per ref
    return shas


async def test_resolve_ref_after_a_real_push(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    shas = await _pushed(world, client, tmp_path)
    main, feature = shas["main"], shas["feature"]
    assert await client.resolve_ref("acme/app", "main") == main
    assert await client.resolve_ref("acme/app", "refs/heads/feature/x") == feature
    assert await client.resolve_ref("acme/app", "feature/x") == feature
    assert await client.resolve_ref("acme/app", "v1") == main  # annotated tag, peeled
    assert await client.resolve_ref("acme/app", "refs/tags/v1") == main
    assert await client.resolve_ref("acme/app", feature[:12]) == feature
    for missing in ("nope", "refs/tags/nope", "refs/heads/nope", "0" * 40):
        with pytest.raises(NotFound) as info:
            await client.resolve_ref("acme/app", missing)
        assert info.value.code == "REF_NOT_FOUND"


async def test_commit_status_is_seen_on_the_forge(world: ForgeWorld, tmp_path: Path) -> None:
    client = await world.client()
    sha = (await _pushed(world, client, tmp_path))["main"]
    for state in ("pending", "running", "success", "failed", "canceled"):
        await client.set_commit_status(
            "acme/app",
            sha,
            state,
            context="buildsvc",
            target_url="http://ci.example/b/1",
            description=state * 40,
        )
    response = await asyncio.to_thread(
        requests.get,
        f"{world.forge.api_url}/repos/acme/app/commits/{sha}/statuses",
        headers={"Authorization": f"token {world.token}"},
        timeout=5,
    )
    statuses = response.json()
    assert [s["state"] for s in reversed(statuses)] == [
        "pending",
        "pending",
        "success",
        "failure",
        "error",
    ]
    assert {s["context"] for s in statuses} == {"buildsvc"}
    assert statuses[0]["target_url"] == "http://ci.example/b/1"
    assert len(statuses[0]["description"]) == 140
