"""Deliveries sent by a real arq worker to real receivers on loopback: order, signature,
the Slack shape, backoff, disabling after the window, the address policy at delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from standardwebhooks import Webhook

from buildsvc.builds.states import BuildStatus
from buildsvc.builds.store import transition
from buildsvc.notifications import emit, targets
from buildsvc.notifications.events import Event, record_build
from buildsvc.notifications.schemas import NotificationPatch
from buildsvc.store.models import utcnow
from tests.buildsvc.notifications.world import World, world_fixture  # noqa: F401
from tests.common.factories import add_build
from tests.common.receivers import Received, receiving
from tests.common.receivers import notifying as notifying_worker

DIGEST = "sha256:" + "ab" * 32
TAGS = ["127.0.0.1:5000/acme/app:latest", "127.0.0.1:5000/acme/app:v1"]


async def queue_build(world: World) -> int:
    async with world.sessionmaker.begin() as session:
        build = await add_build(session, world.account_id, world.repository_id, tags=TAGS)
        await record_build(session, build.id, Event.BUILD_QUEUED, utcnow())
        return int(build.id)


async def move(world: World, build_id: int, status: BuildStatus, **fields: Any) -> None:
    async with world.sessionmaker.begin() as session:
        assert await transition(session, build_id, status, **fields)


async def succeed(world: World, build_id: int) -> None:
    for status in (BuildStatus.FETCHING, BuildStatus.BUILDING, BuildStatus.PUSHING):
        await move(world, build_id, status)
    await move(world, build_id, BuildStatus.SUCCEEDED, digest=DIGEST)


def types(received: list[Received]) -> list[str]:
    return [json.loads(r.body)["type"] for r in received]


async def test_a_webhook_gets_every_event_of_each_build_signed_and_in_order(world: World) -> None:
    async with receiving() as receiver, notifying_worker(world.notifier):
        made = await world.target("webhook", receiver.url)
        first, second = await queue_build(world), await queue_build(world)
        await move(world, second, BuildStatus.CANCELLED)
        await succeed(world, first)
        logged = await world.settled(made.target.id, 7)

    assert made.secret is not None
    assert made.secret.startswith("whsec_")
    verifier = Webhook(made.secret)
    bodies = [verifier.verify(r.body, r.headers) for r in receiver.received]  # or raises
    seen = [(body["type"], body["data"]["build"]["id"]) for body in bodies]
    assert [event for event, build in seen if build == first] == [
        "build.queued",
        "build.started",
        "image.pushed",
        "image.pushed",
        "build.succeeded",
    ]
    assert [event for event, build in seen if build == second] == [
        "build.queued",
        "build.canceled",
    ]
    pushed = [body["data"] for body in bodies if body["type"] == "image.pushed"]
    assert [(data["tag"], data["digest"]) for data in pushed] == [(t, DIGEST) for t in TAGS]
    done = bodies[-1]["data"]
    assert done["build"]["url"] == f"http://127.0.0.1:8080/console/builds/{first}"
    assert done["build"]["status"] == "succeeded"
    assert done["repository"] == {"id": world.repository_id, "namespace": "acme", "name": "app"}
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(ids)  # one message id per delivery
    assert [(d.state, d.response_status) for d in logged] == [("delivered", 200)] * 7
    assert all(d.response_ms is not None for d in logged)


async def test_a_failed_build_names_its_error_code_and_step(world: World) -> None:
    async with receiving() as receiver, notifying_worker(world.notifier):
        made = await world.target("webhook", receiver.url, events=["build.failed"])
        build_id = await queue_build(world)
        await move(world, build_id, BuildStatus.FETCHING)
        await move(
            world,
            build_id,
            BuildStatus.FAILED,
            notice={"step": "[2/3] RUN false"},
            error_code="BUILD_FAILED",
            error_message="The image build failed.",
        )
        await world.settled(made.target.id, 1)

    assert made.secret is not None
    body = Webhook(made.secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert body["type"] == "build.failed"  # the only event this target asked for
    assert body["data"]["error"] == {
        "code": "BUILD_FAILED",
        "message": "The image build failed.",
        "step": "[2/3] RUN false",
    }


async def test_slack_gets_a_text_linking_the_build_page(world: World) -> None:
    async with receiving() as receiver, notifying_worker(world.notifier):
        made = await world.target("slack", receiver.url, events=["build.succeeded", "build.failed"])
        build_id = await queue_build(world)
        await succeed(world, build_id)
        await receiver.wait_for(lambda got: len(got) == 1)
        await world.settled(made.target.id, 1)

    [received] = receiver.received
    assert received.headers["Content-Type"] == "application/json"
    assert "webhook-signature" not in received.headers
    message = json.loads(received.body)
    assert list(message) == ["text"]
    link = f"<http://127.0.0.1:8080/console/builds/{build_id}|build #{build_id}>"
    assert message["text"].startswith(f"Build #{build_id} of acme/app (main @ ")
    assert message["text"].endswith(f"succeeded {link}")


async def test_a_failing_target_is_retried_with_backoff_and_holds_later_events(
    world: World,
) -> None:
    async with receiving([500, 503, 200]) as receiver, notifying_worker(world.notifier):
        made = await world.target("webhook", receiver.url)
        build_id = await queue_build(world)
        await move(world, build_id, BuildStatus.FETCHING)
        queued, started = await world.settled(made.target.id, 2)

    assert types(receiver.received) == ["build.queued"] * 3 + ["build.started"]
    first, second, third, _ = receiver.received
    assert len({r.headers["webhook-id"] for r in (first, second, third)}) == 1
    assert second.at - first.at >= 0.2  # notification_backoff_seconds
    assert third.at - second.at >= 0.4  # doubled
    assert (queued.state, queued.attempts, queued.response_status) == ("delivered", 3, 200)
    assert (started.state, started.attempts) == ("delivered", 1)
    assert (await world.stored_target(made.target.id)).failing_since is None


async def test_a_target_failing_for_the_whole_window_is_disabled_until_re_enabled(
    world: World,
) -> None:
    async with receiving([503]) as receiver, notifying_worker(world.notifier):
        made = await world.target("webhook", receiver.url)
        build_id = await queue_build(world)
        await move(world, build_id, BuildStatus.FETCHING)
        await receiver.wait_for(lambda got: len(got) == 1)
        world.offset = dt.timedelta(hours=24, seconds=1)  # the clock jumps a day
        for _ in range(200):
            if not (await world.stored_target(made.target.id)).enabled:
                break
            await asyncio.sleep(0.05)
        target = await world.stored_target(made.target.id)
        queued, started = await world.deliveries(made.target.id)
        async with world.sessionmaker.begin() as session:  # a disabled target gets no events
            assert await emit(session, world.repository_id, Event.TAG_DELETED, {}) == 0

        receiver.statuses[:] = [200]
        ids = (world.account_id, world.repository_id, made.target.id)
        await targets.update_target(world.access, *ids, NotificationPatch(enabled=True))
        async with world.sessionmaker.begin() as session:
            data = {"tag": "127.0.0.1:5000/acme/app:old", "digest": DIGEST}
            assert await emit(session, world.repository_id, Event.TAG_DELETED, data) == 1
        *_, deleted = await world.settled(made.target.id, 3)

    assert not target.enabled
    assert target.disabled_at is not None
    assert target.disabled_reason is not None
    assert target.disabled_reason.startswith("failing since ")
    assert target.disabled_reason.endswith("last attempt: answered 503")
    assert (queued.state, queued.attempts, queued.error) == ("failed", 2, "answered 503")
    assert (started.state, started.attempts) == ("abandoned", 0)
    assert types(receiver.received) == ["build.queued"] * 2 + ["tag.deleted"]
    assert (deleted.state, deleted.response_status) == ("delivered", 200)
    again = await world.stored_target(made.target.id)
    assert (again.enabled, again.disabled_reason, again.failing_since) == (True, None, None)


async def test_the_address_policy_is_checked_again_when_sending(world: World) -> None:
    async with receiving() as receiver:
        made = await world.target("webhook", receiver.url)  # loopback allowed at creation
        world.notifier.settings = world.settings.model_copy(update={"allowed_source_networks": []})
        async with notifying_worker(world.notifier):
            await queue_build(world)
            for _ in range(200):
                [delivery] = await world.deliveries(made.target.id)
                if delivery.attempts:
                    break
                await asyncio.sleep(0.05)

    assert receiver.received == []
    assert delivery.state == "pending"  # retried: an administrator may allow the network
    assert delivery.response_status is None
    assert delivery.error == "refused by the address policy: 127.0.0.1 resolves to 127.0.0.1"


async def test_a_test_delivery_is_sent_once_even_to_a_disabled_target(world: World) -> None:
    async with receiving([500]) as receiver, notifying_worker(world.notifier):
        made = await world.target("slack", receiver.url)
        async with world.sessionmaker.begin() as session:
            stored = await session.get(targets.NotificationTarget, made.target.id)
            assert stored is not None
            stored.enabled = False
        ids = (world.account_id, world.repository_id, made.target.id)
        await targets.send_test(world.access, *ids)
        await receiver.wait_for(lambda got: len(got) == 1)
        await asyncio.sleep(0.5)  # time enough for a retry, were there one

    assert json.loads(receiver.received[0].body) == {
        "text": "Test notification from buildsvc for acme/app"
    }
    [delivery] = await world.deliveries(made.target.id)
    assert (delivery.event, delivery.state, delivery.attempts) == ("notification.test", "failed", 1)
    assert (await world.stored_target(made.target.id)).failing_since is None
    assert len(receiver.received) == 1
