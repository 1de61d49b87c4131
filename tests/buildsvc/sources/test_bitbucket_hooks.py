"""Webhooks on both Bitbucket flavours: create, read, deliver signed, delete twice."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import pytest

from buildsvc.sources.base import ProviderName
from tests.buildsvc.sources.conftest import ForgeWorld, wait_deliveries


@pytest.mark.parametrize(
    ("provider", "event"),
    [("bitbucket", "repo:push"), ("bitbucket-server", "repo:refs_changed")],
)
async def test_hook_create_get_delete(
    provider: ProviderName, event: str, make_forge: Callable[..., ForgeWorld], tmp_path: Path
) -> None:
    world = make_forge(provider)
    client = await world.client()
    hook = await client.create_hook(world.repo, "http://127.0.0.1:9/hook", "s3cret-value")
    assert (hook.url, hook.enabled) == ("http://127.0.0.1:9/hook", True)
    assert await client.get_hook(world.repo, hook.id) == hook
    await world.push(tmp_path)
    (delivery,) = await wait_deliveries(world.forge, 1)
    assert delivery["event"] == event
    digest = hmac.new(b"s3cret-value", delivery["body"].encode(), hashlib.sha256).hexdigest()
    assert delivery["headers"]["X-Hub-Signature"] == f"sha256={digest}"
    await client.delete_hook(world.repo, hook.id)
    assert await client.get_hook(world.repo, hook.id) is None
    await client.delete_hook(world.repo, hook.id)  # already gone: not an error
