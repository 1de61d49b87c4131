"""GET /healthz: database round trip; Redis reported but not fatal."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from buildsvc.app import create_app
from buildsvc.config import Settings
from tests.common.servers import free_port


async def test_healthy(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok", "queue": "ok"}


async def test_api_starts_and_stays_healthy_without_redis(
    settings: Settings, aiohttp_client: Any
) -> None:
    unreachable = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = await aiohttp_client(create_app(unreachable))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok", "queue": "unreachable"}
