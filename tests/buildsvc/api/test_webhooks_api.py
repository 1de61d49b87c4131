"""``POST /webhooks/gitlab/{hook_key}``: replaying a real forgesim delivery, and every
way a delivery can be refused or ignored."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from buildsvc.store.models import Build, Delivery
from buildsvc.web.keys import SESSIONMAKER, SETTINGS
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

REDIS_DB = 6


class Recorded:
    """A delivery forgesim sent to us: its path, headers and body, to replay."""

    def __init__(self, sent: dict[str, Any]) -> None:
        self.path = "/" + sent["url"].split("/", 3)[3]
        self.headers = {k: v for k, v in sent["headers"].items() if k.lower() != "content-length"}
        self.body: str = sent["body"]


@pytest.fixture
async def recorded(
    client: Client, auth_headers: dict[str, str], gitlab: GitLabEnv, tmp_path: Path
) -> Recorded:
    await bind(client, auth_headers, gitlab)
    await link(client, auth_headers, gitlab, name="web")
    await git_push(gitlab, tmp_path / "work")
    [sent] = await asyncio.to_thread(gitlab.forge.admin.wait_for_deliveries, 1)
    assert sent["status"] == 202, sent
    return Recorded(sent)


async def counts(client: Client) -> tuple[int, int]:
    async with client.app[SESSIONMAKER]() as session:
        builds = await session.scalar(select(func.count(Build.id)))
        deliveries = await session.scalar(select(func.count(Delivery.id)))
    return int(builds or 0), int(deliveries or 0)


async def post(
    client: Client, recorded: Recorded, body: str | bytes | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    merged = {**recorded.headers, **headers}
    data = recorded.body if body is None else body
    response = await client.post(recorded.path, data=data, headers=merged)
    return response.status, await response.json()


async def test_a_repeated_delivery_answers_the_same_and_builds_nothing(
    client: Client, recorded: Recorded
) -> None:
    before = await counts(client)
    answers = await asyncio.gather(*(post(client, recorded) for _ in range(8)))
    first_status, first_body = answers[0]
    assert first_status == 202
    assert first_body["outcome"] == "queued 1 build"
    assert all(answer == answers[0] for answer in answers)
    assert await counts(client) == before == (1, 1)


async def test_new_delivery_ids_build_again(client: Client, recorded: Recorded) -> None:
    status, body = await post(client, recorded, **{"Idempotency-Key": "another-one"})
    assert (status, body["delivery"], body["outcome"]) == (202, "another-one", "queued 1 build")
    assert await counts(client) == (2, 2)
    # Copies of one new delivery arriving together: one build, the same answer for all.
    answers = await asyncio.gather(
        *(post(client, recorded, **{"Idempotency-Key": "race"}) for _ in range(8))
    )
    assert all(answer == answers[0] for answer in answers)
    assert len(answers[0][1]["build_ids"]) == 1
    assert await counts(client) == (3, 3)


@pytest.mark.parametrize("token", ["wrong-secret", ""])
async def test_wrong_or_missing_secret_is_401(
    client: Client, recorded: Recorded, token: str
) -> None:
    headers = dict(recorded.headers)
    headers.pop("X-Gitlab-Token")
    if token:
        headers["X-Gitlab-Token"] = token
    response = await client.post(
        recorded.path, data=recorded.body, headers={**headers, "Idempotency-Key": "x-1"}
    )
    body = await response.json()
    assert response.status == 401
    assert body["error"]["code"] == "WEBHOOK_SIGNATURE_INVALID"
    assert await counts(client) == (1, 1)


async def test_unknown_hook_is_404(client: Client, recorded: Recorded) -> None:
    response = await client.post(
        "/webhooks/gitlab/no-such-hook", data=recorded.body, headers=recorded.headers
    )
    assert response.status == 404
    wrong_provider = recorded.path.replace("/gitlab/", "/github/")
    response = await client.post(wrong_provider, data=recorded.body, headers=recorded.headers)
    assert response.status == 404


async def test_oversized_body_is_413(client: Client, recorded: Recorded) -> None:
    limit = client.app[SETTINGS].webhook_max_body_bytes
    assert limit == 25 * 1024 * 1024
    response = await client.post(
        recorded.path,
        data=io.BytesIO(b" " * (limit + 1)),
        headers={**recorded.headers, "Idempotency-Key": "big"},
    )
    assert (response.status, (await response.json())["error"]["code"]) == (
        413,
        "PAYLOAD_TOO_LARGE",
    )

    async def chunks() -> Any:  # no Content-Length: the reader stops once over the limit
        for _ in range(26):
            yield b" " * (1024 * 1024)

    response = await client.post(recorded.path, data=chunks(), headers=recorded.headers)
    assert response.status == 413
    assert await counts(client) == (1, 1)


async def test_malformed_payload_is_400(client: Client, recorded: Recorded) -> None:
    status, body = await post(client, recorded, "{not json", **{"Idempotency-Key": "bad"})
    assert (status, body["error"]["code"]) == (400, "WEBHOOK_PAYLOAD_INVALID")
    payload = json.loads(recorded.body)
    del payload["ref"]
    status, body = await post(client, recorded, json.dumps(payload), **{"Idempotency-Key": "b2"})
    assert status == 400
    assert await counts(client) == (1, 1)


async def test_other_events_are_accepted_and_ignored(
    client: Client, recorded: Recorded, auth_headers: dict[str, str]
) -> None:
    status, body = await post(
        client,
        recorded,
        json.dumps({"object_kind": "merge_request"}),
        **{"X-Gitlab-Event": "Merge Request Hook", "Idempotency-Key": "mr-1"},
    )
    assert status == 202
    assert body == {
        "delivery": "mr-1",
        "outcome": "ignored: Merge Request Hook event",
        "build_ids": [],
    }
    repo_id = (await (await client.get("/api/v1/repositories", headers=auth_headers)).json())[
        "items"
    ][0]["id"]
    listed = await client.get(f"/api/v1/repositories/{repo_id}/deliveries", headers=auth_headers)
    newest = (await listed.json())["items"][0]
    assert (newest["event"], newest["outcome"]) == (
        "Merge Request Hook",
        "ignored: Merge Request Hook event",
    )
    assert await counts(client) == (1, 2)


async def test_after_unbinding_a_leftover_hook_builds_nothing(
    client: Client, recorded: Recorded, auth_headers: dict[str, str]
) -> None:
    response = await client.delete("/api/v1/sources/gitlab", headers=auth_headers)
    assert response.status == 200
    status, body = await post(client, recorded, **{"Idempotency-Key": "late"})
    assert (status, body["outcome"], body["build_ids"]) == (
        202,
        "not built: the code source was unbound",
        [],
    )
    assert await counts(client) == (1, 2)
