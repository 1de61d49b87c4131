"""A real build, queued through the API's service and run by a real in-process arq worker
(``create_worker``: builds and notifications), reported to a webhook receiver on loopback:
every event, signed, in order."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from buildsvc.builds.forge_status import QueuedStatus
from buildsvc.builds.manual import ManualBuild, start_build
from buildsvc.builds.outbox import LazyArqPool, Outbox
from buildsvc.notifications import targets
from buildsvc.notifications.schemas import NotificationCreate
from buildsvc.sources import AddressPolicy
from buildsvc.store.fastpath.writer import Writer
from buildsvc.store.models import BuildRule, NotificationDelivery
from buildsvc.worker.main import create_worker
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.common.receivers import receiving, stop

pytestmark = pytest.mark.e2e
REDIS_DB = 3
ENDS = {"build.succeeded", "build.failed", "build.canceled"}


async def test_a_built_image_is_notified_in_order_of_occurrence(env: RunEnv) -> None:
    env.push(HELLO)
    async with env.sessionmaker.begin() as session:
        session.add(
            BuildRule(repository_id=env.repository_id, type="branch", pattern="main", tag="latest")
        )
    policy = AddressPolicy.from_cidrs(env.settings.allowed_source_networks)
    access = targets.NotificationAccess(env.sessionmaker, env.deps.access.cipher, policy)
    pool = LazyArqPool(env.settings.redis_url)
    writer = Writer.of(env.sessionmaker)
    outbox = Outbox(pool, env.sessionmaker, writer)
    statuses = QueuedStatus(env.deps.access)
    worker = create_worker(env.settings, poll_delay=0.1, handle_signals=False)
    async with receiving() as receiver:
        spec = NotificationCreate(kind="webhook", url=receiver.url)
        made = await targets.create(access, env.account_id, env.repository_id, spec)
        running = asyncio.create_task(worker.async_run())
        try:
            [build] = await start_build(
                env.deps.access,
                outbox,
                env.account_id,
                env.repository_id,
                ManualBuild(ref="main"),
                statuses,
            )
            await receiver.wait_for(
                lambda got: any(f'"type":"{end}"'.encode() in r.body for r in got for end in ENDS),
                seconds=300,
            )
        finally:
            await stop(worker, running)
            await statuses.close()
            await outbox.close()
            writer.close()
            await pool.close()

    assert made.secret is not None
    bodies = [Webhook(made.secret).verify(r.body, r.headers) for r in receiver.received]
    assert [body["type"] for body in bodies] == [
        "build.queued",
        "build.started",
        "image.pushed",
        "build.succeeded",
    ]
    stored = await env.build(build.id)
    pushed = bodies[2]["data"]
    assert (pushed["tag"], pushed["digest"]) == (f"{env.image}:latest", stored.digest)
    assert {body["data"]["build"]["id"] for body in bodies} == {build.id}


async def test_a_failed_step_is_named_in_build_failed(env: RunEnv) -> None:
    sha = env.push({"Dockerfile": "FROM buildsvc/busybox:latest\nRUN exit 3\n"})
    policy = AddressPolicy.from_cidrs(env.settings.allowed_source_networks)
    access = targets.NotificationAccess(env.sessionmaker, env.deps.access.cipher, policy)
    spec = NotificationCreate(kind="webhook", url="http://127.0.0.1:9/hook")
    made = await targets.create(access, env.account_id, env.repository_id, spec)
    build_id = await env.add_build(sha)

    assert await env.run(build_id) == "failed"

    async with env.sessionmaker() as session:
        rows = await session.scalars(
            select(NotificationDelivery)
            .where(NotificationDelivery.target_id == made.target.id)
            .order_by(NotificationDelivery.id)
        )
        recorded = [(d.event, d.payload["data"]) for d in rows.all()]
    assert [event for event, _ in recorded] == ["build.started", "build.failed"]
    error = recorded[1][1]["error"]
    assert error["code"] == "BUILD_FAILED"
    assert error["step"] == "[2/2] RUN exit 3"
