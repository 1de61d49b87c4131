"""``POST /registry/events``: only the registry (its secret) may deliver; manifests are
recorded once, blobs not at all."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from buildsvc.registry.config import events_secret
from buildsvc.store.models import NotificationDelivery, NotificationTarget
from buildsvc.web.keys import CIPHER, SESSIONMAKER, SETTINGS
from tests.common.factories import AccountInfo

Client = TestClient[Any, Any]
MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DIGEST = "sha256:" + "a" * 64


def event(event_id: str, action: str, media_type: str, tag: str | None = "v1") -> dict[str, Any]:
    return {
        "id": event_id,
        "timestamp": "2026-12-07T15:00:00Z",
        "action": action,
        "target": {
            "mediaType": media_type,
            "digest": DIGEST,
            "size": 528,
            "repository": "alpha/app",
            "tag": tag,
        },
        "request": {"addr": "10.1.2.3:51234", "method": "PUT"},
        "actor": {"name": "alpha"},
    }


async def deliver(client: Client, events: list[dict[str, Any]], secret: str) -> Any:
    return await client.post(
        "/registry/events",
        data=json.dumps({"events": events}),
        headers={"Content-Type": MEDIA_TYPE, "Authorization": f"Bearer {secret}"},
    )


async def test_only_the_registry_secret_is_accepted(client: Client) -> None:
    answer = await deliver(client, [], "guessed")
    assert answer.status == 401


async def test_manifest_events_are_recorded_once(client: Client, account: AccountInfo) -> None:
    headers = {"Authorization": f"Bearer {account.token}"}
    created = await client.post(
        "/api/v1/repositories", json={"namespace": "alpha", "name": "app"}, headers=headers
    )
    repository = await created.json()
    secret = events_secret(client.app[SETTINGS])
    batch = [
        event("e1", "push", MANIFEST),
        event("e2", "push", "application/vnd.docker.image.rootfs.diff.tar.gzip", tag=None),
        event("e3", "pull", MANIFEST),
    ]
    first = await (await deliver(client, batch, secret)).json()
    again = await (await deliver(client, batch, secret)).json()
    assert (first, again) == ({"received": 3, "recorded": 2}, {"received": 3, "recorded": 0})

    events = await (
        await client.get(f"/api/v1/repositories/{repository['id']}/events", headers=headers)
    ).json()
    assert [(e["action"], e["actor"], e["client_addr"], e["tag"]) for e in events["items"]] == [
        ("pull", "alpha", "10.1.2.3", "v1"),
        ("push", "alpha", "10.1.2.3", "v1"),
    ]


async def test_a_malformed_envelope_is_refused(client: Client) -> None:
    secret = events_secret(client.app[SETTINGS])
    answer = await client.post(
        "/registry/events", data=b"{}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status == 400


async def test_pushes_by_people_and_deleted_tags_reach_notification_targets(
    client: Client, account: AccountInfo
) -> None:
    headers = {"Authorization": f"Bearer {account.token}"}
    created = await client.post(
        "/api/v1/repositories", json={"namespace": "alpha", "name": "app"}, headers=headers
    )
    repository = await created.json()
    async with client.app[SESSIONMAKER].begin() as session:
        session.add(
            NotificationTarget(
                repository_id=repository["id"],
                kind="webhook",
                url_encrypted=client.app[CIPHER].encrypt("http://127.0.0.1:9/hook"),
                url_display="http://127.0.0.1:9/hook",
                secret_encrypted=None,
                events=["image.pushed", "tag.deleted"],
            )
        )
    secret = events_secret(client.app[SETTINGS])
    by_build = {**event("b1", "push", MANIFEST, tag="v0"), "actor": {"name": "$build+7"}}
    batch = [by_build, event("e1", "push", MANIFEST), event("e2", "delete", MANIFEST, tag=None)]
    assert (await deliver(client, batch, secret)).status == 200

    async with client.app[SESSIONMAKER]() as session:
        rows = (
            await session.execute(
                select(NotificationDelivery.event, NotificationDelivery.payload).order_by(
                    NotificationDelivery.id
                )
            )
        ).all()
    # The build announces its own push; the registry's event of it adds nothing.
    assert [name for name, _ in rows] == ["image.pushed", "tag.deleted", "tag.deleted"]
    pushed = rows[0][1]["data"]
    assert pushed["tag"] == "v1"
    assert pushed["digest"] == DIGEST
    assert pushed["repository"] == {"id": repository["id"], "namespace": "alpha", "name": "app"}
    assert sorted(payload["data"]["tag"] for _, payload in rows[1:]) == ["v0", "v1"]
