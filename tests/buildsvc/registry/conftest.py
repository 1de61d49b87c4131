"""``registry_stack``: the API on a real port, and a real registry started with the config
``buildsvc admin registry-config`` prints for it (see ``registry_env``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from buildsvc.app import create_app
from buildsvc.config import Settings
from tests.buildsvc.registry.registry_env import RegistryStack, registry_config
from tests.common.servers import free_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Revocations (a finished build's login) must show at once in these tests.
    return settings.model_copy(update={"registry_token_cache_seconds": 0})


@pytest.fixture
async def registry_stack(
    settings: Settings,
    tmp_path: Path,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[RegistryStack]:
    api_port, registry_port = free_port(), free_port()
    registry = f"127.0.0.1:{registry_port}"
    settings = settings.model_copy(
        update={"public_url": f"http://127.0.0.1:{api_port}", "registry": registry}
    )
    app: web.Application = create_app(settings)
    await aiohttp_server(app, port=api_port)
    stack = RegistryStack(app, settings, registry, tmp_path)
    config = await asyncio.to_thread(
        registry_config, settings, registry, tmp_path / "storage", tmp_path
    )
    try:
        await asyncio.to_thread(stack.start_registry, config)
        yield stack
    finally:
        await asyncio.to_thread(stack.stop)
