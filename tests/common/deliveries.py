"""Webhook deliveries as the REST API lists them, waited for."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.common.gitlab_env import Client


async def deliveries(client: Client, headers: dict[str, str], repo_id: int) -> list[Any]:
    response = await client.get(f"/api/v1/repositories/{repo_id}/deliveries", headers=headers)
    assert response.status == 200
    items: list[Any] = (await response.json())["items"]
    return items


async def wait_deliveries(
    client: Client, headers: dict[str, str], repo_id: int, count: int
) -> list[Any]:
    deadline = time.monotonic() + 15
    while True:
        found = await deliveries(client, headers, repo_id)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, found
            return found
        await asyncio.sleep(0.05)
