"""``GET /api/v1/builds/{id}/logs``: pages of stored lines, and the live server-sent stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse
from redis.asyncio import Redis

from buildsvc.builds import logs
from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.config import Settings
from buildsvc.web.keys import SESSIONMAKER, STOPPING
from buildsvc.worker.logs import BuildLog
from buildsvc.worker.masking import Masker
from tests.buildsvc.api.build_logs_env import new_build
from tests.common.factories import AccountInfo
from tests.common.gitlab_env import Client, served_client, served_settings  # noqa: F401

REDIS_DB = 14
Headers = dict[str, str]


async def events(response: ClientResponse) -> list[tuple[str, str | None, Any]]:
    """(event, id, data) of each server-sent event until the stream closes."""
    found: list[tuple[str, str | None, Any]] = []
    event, event_id = "message", None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            found.append((event, event_id, json.loads(line[6:])))
        elif not line:
            event, event_id = "message", None
    return found


async def test_pages_of_stored_lines(
    client: Client, auth_headers: Headers, account: AccountInfo
) -> None:
    build_id = await new_build(client, account, "building", 5)

    response = await client.get(
        f"/api/v1/builds/{build_id}/logs?after=2&limit=2", headers=auth_headers
    )

    body = await response.json()
    assert response.status == 200
    assert [(x["seq"], x["line"]) for x in body["items"]] == [(3, "line 3"), (4, "line 4")]
    assert (body["total"], body["status"], body["next_after"]) == (5, "building", 4)
    assert body["items"][0]["ts"].endswith("Z")


async def test_follow_streams_stored_then_live_lines_and_ends(
    client: Client, auth_headers: Headers, account: AccountInfo, settings: Settings
) -> None:
    build_id = await new_build(client, account, "pushing", 3)
    redis = Redis.from_url(settings.redis_url)
    response = await client.get(f"/api/v1/builds/{build_id}/logs?follow=true", headers=auth_headers)
    assert response.headers["Content-Type"] == "text/event-stream"
    reading = asyncio.create_task(events(response))
    await asyncio.sleep(0.3)

    sessionmaker = client.app[SESSIONMAKER]
    async with BuildLog(sessionmaker, redis, build_id, Masker(), first_seq=4) as writer:
        writer.write("line 4")
        writer.write("line 5")
    async with sessionmaker.begin() as session:
        await transition(
            session, build_id, BuildStatus.FAILED, error_code="BUILD_FAILED", error_message="x"
        )
    await logs.publish_end(redis, build_id, BuildStatus.FAILED)

    found = await asyncio.wait_for(reading, 10)
    assert [(e, i, d["line"]) for e, i, d in found[:-1]] == [
        ("message", str(n), f"line {n}") for n in range(1, 6)
    ]
    event, _, end = found[-1]
    assert (event, end["status"], end["error"]["code"]) == ("end", "failed", "BUILD_FAILED")
    await redis.aclose()


async def test_follow_resumes_after_last_event_id(
    client: Client, auth_headers: Headers, account: AccountInfo
) -> None:
    build_id = await new_build(client, account, "succeeded", 6)

    response = await client.get(
        f"/api/v1/builds/{build_id}/logs?follow=true",
        headers={**auth_headers, "Last-Event-ID": "4"},
    )

    found = await asyncio.wait_for(events(response), 10)
    assert [i for _, i, _ in found] == ["5", "6", None]
    assert found[-1][2] == {"status": "succeeded", "error": None}


async def test_unknown_build_and_bad_last_event_id(
    client: Client, auth_headers: Headers, account: AccountInfo
) -> None:
    response = await client.get("/api/v1/builds/999/logs?follow=true", headers=auth_headers)
    assert response.status == 404
    build_id = await new_build(client, account, "queued", 0)
    response = await client.get(
        f"/api/v1/builds/{build_id}/logs", headers={**auth_headers, "Last-Event-ID": "x"}
    )
    assert response.status == 400


async def test_a_stopping_process_ends_the_stream_with_reconnect_after_the_last_line(
    client: Client, auth_headers: Headers, account: AccountInfo
) -> None:
    build_id = await new_build(client, account, "building", 3)
    response = await client.get(f"/api/v1/builds/{build_id}/logs?follow=true", headers=auth_headers)
    reading = asyncio.create_task(events(response))
    await asyncio.sleep(0.3)  # the stored lines are sent; the stream waits for more

    client.app[STOPPING].set()  # what on_shutdown does on SIGTERM
    found = await asyncio.wait_for(reading, 10)

    assert [(event, data.get("line")) for event, _, data in found[:3]] == [
        ("message", f"line {n}") for n in (1, 2, 3)
    ]
    assert found[3:] == [("reconnect", None, {"after": 3})]
