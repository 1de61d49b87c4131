"""Intake on both stores: SQLite runs its transactions on the event loop through a
synchronous connection, PostgreSQL through asyncpg; both must record the same."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from buildsvc.config import Settings
from buildsvc.store.models import Build, Delivery
from buildsvc.web.keys import SESSIONMAKER
from tests.common.gitlab_env import (  # noqa: F401  (fixtures)
    Client,
    GitLabEnv,
    bind,
    forge_fixture,
    git_push,
    gitlab_fixture,
    link,
    served_client,
)
from tests.common.servers import TEST_REDIS_DB, flush_redis_db, free_port

REDIS_DB = 9


@pytest.fixture(name="settings")
async def database_settings(settings: Settings, database_url: str) -> Settings:
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    assert REDIS_DB != TEST_REDIS_DB
    await flush_redis_db(redis_url)
    return settings.model_copy(
        update={
            "database_url": database_url,
            "redis_url": redis_url,
            "public_url": f"http://127.0.0.1:{free_port()}",
        }
    )


async def test_push_replay_and_supersede(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    rules = [
        {"type": "branch", "pattern": "main", "tag": "latest", "build_args": {"A": "1"}},
        {"type": "tag", "pattern": r"/v(?P<n>\d+)/", "tag": "{n}", "no_cache": True},
    ]
    await link(client, auth_headers, gitlab, name="web", rules=rules)
    work = tmp_path / "work"
    sha = await git_push(gitlab, work, tag="v7")
    await git_push(gitlab, work)
    sent = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 3)
    assert [d["status"] for d in sent] == [202, 202, 202]

    # Replaying the first delivery answers what it answered and builds nothing more.
    first = sent[0]
    path = "/" + first["url"].split("/", 3)[3]
    headers = {k: v for k, v in first["headers"].items() if k.lower() != "content-length"}
    replay = await client.post(path, data=first["body"], headers=headers)
    assert (replay.status, await replay.json()) == (202, json.loads(first["response_body"]))

    async with client.app[SESSIONMAKER]() as session:
        builds = list((await session.execute(select(Build).order_by(Build.id))).scalars())
        deliveries = (await session.execute(select(Delivery))).scalars().all()
    assert len(deliveries) == 3
    # The first push's two deliveries (main, v7) may arrive in either order.
    summary: list[Any] = sorted((b.ref, b.status, b.tags[0].rsplit(":", 1)[1]) for b in builds)
    assert summary == [
        ("refs/heads/main", "queued", "latest"),
        ("refs/heads/main", "superseded", "latest"),
        ("refs/tags/v7", "queued", "7"),
    ]
    [tagged] = [b for b in builds if b.ref_type == "tag"]
    assert (tagged.commit_sha, tagged.no_cache, tagged.build_args) == (sha, True, {})
    superseded, latest = [b for b in builds if b.ref == "refs/heads/main"]
    assert latest.build_args == {"A": "1"}
    assert superseded.finished_at is not None
    assert all(b.enqueued for b in builds if b.status == "queued")
