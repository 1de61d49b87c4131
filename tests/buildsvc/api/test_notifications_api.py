"""/api/v1/repositories/{id}/notifications: targets, the secret shown once, the address
policy at creation, re-enabling, the test action and the delivery log, tenancy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from standardwebhooks import Webhook

from buildsvc.notifications.jobs import Notifier
from buildsvc.store.models import NotificationTarget
from buildsvc.web.keys import CIPHER, SESSIONMAKER, SETTINGS
from tests.common.factories import AccountInfo, add_repository
from tests.common.receivers import notifying, receiving

Client = TestClient[Any, Any]


@pytest.fixture
async def base(client: Client, account: AccountInfo) -> str:
    async with client.app[SESSIONMAKER].begin() as session:
        repository = await add_repository(session, account.id, namespace="acme", name="app")
    return f"/api/v1/repositories/{repository.id}/notifications"


async def test_create_read_change_delete(
    client: Client, base: str, auth_headers: dict[str, str]
) -> None:
    url = "http://localhost:9/services/T000/B000/very-secret-token"
    created = await client.post(
        base, json={"kind": "slack", "url": url, "events": ["build.failed"]}, headers=auth_headers
    )
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["secret"] is None  # Slack signs nothing: its URL is the secret
    assert body["url"] == "http://localhost:9/services/T0…"
    assert (body["kind"], body["events"], body["enabled"]) == ("slack", ["build.failed"], True)
    one = f"{base}/{body['id']}"

    listed = await (await client.get(base, headers=auth_headers)).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    assert "very-secret-token" not in str(listed)

    patch = {"events": ["build.succeeded", "build.failed"], "description": "team room"}
    changed = await client.patch(one, json=patch, headers=auth_headers)
    assert changed.status == 200
    assert (await changed.json())["events"] == ["build.failed", "build.succeeded"]

    deleted = await client.delete(one, headers=auth_headers)
    assert await deleted.json() == {"id": body["id"], "deleted": True}
    gone = await client.get(one, headers=auth_headers)
    assert gone.status == 404
    assert (await gone.json())["error"]["code"] == "NOTIFICATION_NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://169.254.169.254/latest/meta-data", "NOTIFICATION_URL_NOT_ALLOWED"),
        ("http://10.1.2.3/hook", "NOTIFICATION_URL_NOT_ALLOWED"),
        ("file:///etc/passwd", "NOTIFICATION_URL_INVALID"),
        ("http://no-such-host.invalid/hook", "NOTIFICATION_URL_INVALID"),
    ],
)
async def test_a_target_url_obeys_the_address_policy(
    client: Client, base: str, auth_headers: dict[str, str], url: str, code: str
) -> None:
    answer = await client.post(base, json={"kind": "webhook", "url": url}, headers=auth_headers)

    assert answer.status == 400
    assert (await answer.json())["error"]["code"] == code
    assert (await (await client.get(base, headers=auth_headers)).json())["items"] == []


async def test_send_test_is_signed_and_logged_with_its_response(
    client: Client, base: str, auth_headers: dict[str, str]
) -> None:
    app = client.app
    notifier = Notifier(app[SESSIONMAKER], app[CIPHER], app[SETTINGS])
    async with receiving([202]) as receiver, notifying(notifier):
        created = await client.post(
            base, json={"kind": "webhook", "url": receiver.url}, headers=auth_headers
        )
        target = await created.json()
        tested = await client.post(f"{base}/{target['id']}/test", headers=auth_headers)
        assert tested.status == 202
        assert (await tested.json())["state"] == "pending"
        await receiver.wait_for(lambda got: len(got) == 1)
        log = f"{base}/{target['id']}/deliveries"
        for _ in range(200):  # the job records the attempt after the answer
            page = await (await client.get(log, headers=auth_headers)).json()
            if page["items"][0]["state"] != "pending":
                break
            await asyncio.sleep(0.05)

    received = receiver.received[0]
    body = Webhook(target["secret"]).verify(received.body, received.headers)
    assert body["type"] == "notification.test"
    assert page["total"] == 1
    [delivery] = page["items"]
    assert (delivery["state"], delivery["response_status"]) == ("delivered", 202)
    assert delivery["attempts"] == 1
    assert delivery["response_ms"] >= 0


async def test_a_disabled_target_shows_why_and_is_re_enabled_by_patch(
    client: Client, base: str, auth_headers: dict[str, str]
) -> None:
    created = await client.post(
        base, json={"kind": "webhook", "url": "http://127.0.0.1:9/hook"}, headers=auth_headers
    )
    one = f"{base}/{(await created.json())['id']}"
    async with client.app[SESSIONMAKER].begin() as session:  # as the job leaves it
        target = await session.get(NotificationTarget, (await created.json())["id"])
        assert target is not None
        target.enabled = False
        target.disabled_reason = "failing since 2026-01-01T00:00:00Z; last attempt: answered 500"

    shown = await (await client.get(one, headers=auth_headers)).json()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].endswith("answered 500")

    again = await (await client.patch(one, json={"enabled": True}, headers=auth_headers)).json()
    assert (again["enabled"], again["disabled_reason"], again["disabled_at"]) == (True, None, None)


async def test_another_accounts_repository_is_not_found(
    client: Client,
    base: str,
    make_account: Callable[..., Awaitable[AccountInfo]],
) -> None:
    other = await make_account("mallory")
    headers = {"Authorization": f"Bearer {other.token}"}

    listed = await client.get(base, headers=headers)
    created = await client.post(
        base, json={"kind": "webhook", "url": "http://127.0.0.1:9/"}, headers=headers
    )

    assert (listed.status, created.status) == (404, 404)
    assert (await created.json())["error"]["code"] == "REPOSITORY_NOT_FOUND"
