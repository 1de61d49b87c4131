"""Builds queued by a real push (forgesim → webhook → intake's raw transaction) record
``build.queued``, and a newer push's supersede ``build.canceled``, in that order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from buildsvc.store.models import Build, NotificationDelivery
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
    served_settings,
)

REDIS_DB = 12


async def recorded(client: Client) -> list[tuple[int, str, int | None, str]]:
    async with client.app[SESSIONMAKER]() as session:
        rows = await session.execute(
            select(
                NotificationDelivery.target_id,
                NotificationDelivery.event,
                NotificationDelivery.build_id,
                NotificationDelivery.payload,
            ).order_by(NotificationDelivery.id)
        )
        return [(t, e, b, p["data"]["build"]["status"]) for t, e, b, p in rows.all()]


async def test_pushes_record_queued_then_canceled_for_the_superseded(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> None:
    await bind(client, auth_headers, gitlab)
    repository = await link(client, auth_headers, gitlab)
    quiet = await link(client, auth_headers, gitlab)  # no targets: records nothing
    created = await client.post(
        f"/api/v1/repositories/{repository['id']}/notifications",
        json={"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
        headers=auth_headers,
    )
    target = (await created.json())["id"]

    for _ in range(2):  # no worker runs: the second push supersedes the first build
        await git_push(gitlab, tmp_path / "work")
    sent = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 4)

    assert {d["status"] for d in sent} == {202}
    async with client.app[SESSIONMAKER]() as session:
        ids = await session.execute(select(Build.repository_id, Build.id).order_by(Build.id))
        by_repository = [(r, b) for r, b in ids.all()]
    first, second = [b for r, b in by_repository if r == repository["id"]]
    assert len([b for r, b in by_repository if r == quiet["id"]]) == 2
    assert await recorded(client) == [
        (target, "build.queued", first, "queued"),
        (target, "build.canceled", first, "superseded"),
        (target, "build.queued", second, "queued"),
    ]
