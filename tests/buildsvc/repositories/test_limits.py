"""The per-account GitLab limit holds under concurrency, on SQLite and PostgreSQL.

One source project may back several image repositories, so 150 creates link the same
forgesim project 150 times (each with its own hook).
"""

from __future__ import annotations

import asyncio
from typing import Any

import gitlab as python_gitlab
import pytest
from sqlalchemy import func, select

from buildsvc.config import Settings
from buildsvc.store.models import Account, ImageRepository
from buildsvc.web.keys import SESSIONMAKER
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    gitlab_fixture,
)
from tests.conftest import TestAccount as Tenant

MESSAGE = "Each account can have a maximum of 100 GitLab source code repositories."


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


async def test_150_concurrent_creates_yield_exactly_100(
    client: Client, account: Tenant, auth_headers: dict[str, str], gitlab: GitLabEnv
) -> None:
    await bind(client, auth_headers, gitlab)

    async def create(number: int) -> tuple[int, dict[str, Any]]:
        spec = {
            "namespace": "team",
            "name": f"app-{number:03d}",
            "source": {"provider": "gitlab", "repository": gitlab.project},
        }
        response = await client.post("/api/v1/repositories", json=spec, headers=auth_headers)
        return response.status, await response.json()

    answers = await asyncio.gather(*(create(n) for n in range(150)))

    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 100
    refused = [body["error"] for status, body in answers if status != 201]
    assert len(refused) == 50
    assert all(e["code"] == "LIMIT_EXCEEDED" and e["message"] == MESSAGE for e in refused)
    async with client.app[SESSIONMAKER]() as session:
        stored = await session.scalar(select(func.count(ImageRepository.id)))
        counter = (await session.get(Account, account.id)).gitlab_repository_count  # type: ignore[union-attr]
    assert (stored, counter) == (100, 100)
    api = python_gitlab.Gitlab(gitlab.forge.url, private_token=gitlab.token)
    assert len(api.projects.get(gitlab.project).hooks.list(get_all=True)) == 100

    # A deletion frees exactly one slot.
    first = next(body for status, body in answers if status == 201)
    deleted = await client.delete(f"/api/v1/repositories/{first['id']}", headers=auth_headers)
    assert deleted.status == 200
    status, _ = await create(500)
    assert status == 201
    status, body = await create(501)
    assert (status, body["error"]["code"]) == (409, "LIMIT_EXCEEDED")


async def test_the_limit_is_a_setting(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, settings: Settings
) -> None:
    await bind(client, auth_headers, gitlab)
    settings.gitlab_repository_limit = 2  # the very object the application holds
    codes = []
    for number in range(3):
        spec = {
            "namespace": "team",
            "name": f"small-{number}",
            "source": {"provider": "gitlab", "repository": gitlab.project},
        }
        response = await client.post("/api/v1/repositories", json=spec, headers=auth_headers)
        codes.append((response.status, (await response.json()).get("error", {}).get("message")))
    assert codes[:2] == [(201, None), (201, None)]
    assert codes[2] == (409, MESSAGE.replace("100", "2"))
