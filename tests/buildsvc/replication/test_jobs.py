"""Replication jobs on a real arq worker: a push lands the same digest in every region;
a region that is down fails its copies, then gets them all once it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from buildsvc.config import Settings
from buildsvc.replication import service
from buildsvc.replication.jobs import JOB_FUNCTION, after_push, has_push_rules
from buildsvc.replication.sweep import requeue_lost, sweep_cron
from buildsvc.worker.main import worker_options
from tests.common.registries import Registry, layers, put_image
from tests.common.replication_world import (
    ReplicationWorld,
    replication_settings,
    replication_world,
)


@pytest.fixture
async def world(settings: Settings, source: Registry) -> AsyncIterator[ReplicationWorld]:
    async with replication_world(replication_settings(settings, source)) as made:
        yield made


def test_the_build_worker_runs_replication_jobs_and_their_sweep(settings: Settings) -> None:
    options = worker_options(settings)
    assert JOB_FUNCTION in [f.name for f in options["functions"]]
    assert [c.name for c in options["cron_jobs"]] == [sweep_cron().name]


async def test_a_push_lands_the_same_digest_in_all_three_registries(
    world: ReplicationWorld, source: Registry, region2: Registry, region3: Registry
) -> None:
    await world.add_rule(region2, destination_namespace="eu")
    await world.add_rule(region3, name_template="{namespace}-{name}", tag_filter="/v\\d+/")
    image = put_image(source, "acme/app", "v1", layers(3, 4096))
    put_image(source, "acme/app", "dev", layers(1, 512))
    tags = [f"{source.host}/acme/app:v1", f"{source.host}/acme/app:dev"]
    build_id = await world.add_build(tags, image.digest)

    async with world.worker():
        queued = await after_push(
            world.sessions, world.redis, world.repository_id, tags, image.digest, build_id
        )
        rows = await world.wait_for(
            {
                f"{region2.host}/eu/app:v1": "done",
                f"{region2.host}/eu/app:dev": "done",
                f"{region3.host}/acme-app:v1": "done",
            }
        )

    assert queued == 3  # region3's filter leaves "dev" out
    assert region2.manifest("eu/app", "v1")[1:] == (image.raw, image.digest)
    assert region3.manifest("acme-app", "v1")[1:] == (image.raw, image.digest)
    assert source.manifest("acme/app", "v1")[2] == image.digest
    assert {row.build_id for row in rows} == {build_id}
    done = next(row for row in rows if row.destination.endswith("acme-app:v1"))
    assert done.attempts == 1
    assert "attempt 1: done: 4 blobs uploaded" in done.log[-1]


async def test_a_stopped_region_fails_then_gets_every_copy_once_back(
    world: ReplicationWorld, source: Registry, region2: Registry, region3: Registry
) -> None:
    await world.add_rule(region2)
    await world.add_rule(region3)
    images = {tag: put_image(source, "acme/app", tag, layers(2, 2048)) for tag in ("v1", "v2")}
    region2.stop()

    async with world.worker():
        for tag, image in images.items():
            tags = [f"{source.host}/acme/app:{tag}"]
            build_id = await world.add_build(tags, image.digest)
            await after_push(
                world.sessions, world.redis, world.repository_id, tags, image.digest, build_id
            )
        down = {f"{region2.host}/app:{tag}": "failed" for tag in images}
        up = {f"{region3.host}/app:{tag}": "done" for tag in images}
        rows = await world.wait_for({**down, **up})
        failed = [row for row in rows if row.destination.startswith(region2.host)]
        assert {row.error_code for row in failed} == {"UNREACHABLE"}

        region2.start()
        rows = await world.wait_for({dest: "done" for dest in down})

    for tag, image in images.items():
        assert region2.manifest("app", tag)[2] == image.digest
    back = [row for row in rows if row.destination.startswith(region2.host)]
    for row in back:
        assert row.attempts >= 2
        assert row.error_code is None
        lines = [line for line in row.log if " attempt " in line]
        assert any("failed: UNREACHABLE" in line and "retry in" in line for line in lines)
        assert lines[-1].split(" ", 1)[1].startswith(f"attempt {row.attempts}: done")


async def test_a_rule_made_again_after_a_delete_gets_its_copies(
    world: ReplicationWorld, source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    tags = [f"{source.host}/acme/app:v1"]
    async with world.worker():
        for namespace in ("first", "second"):  # SQLite hands the deleted row's id out again
            rule = await world.add_rule(region2, destination_namespace=namespace)
            queued = await after_push(
                world.sessions, world.redis, world.repository_id, tags, image.digest, None
            )
            assert queued == 1
            await world.wait_for({f"{region2.host}/{namespace}/app:v1": "done"})
            await service.delete_rule(
                world.sessions, world.account_id, world.repository_id, rule.id
            )

    assert region2.manifest("second/app", "v1")[2] == image.digest


async def test_copies_planned_while_redis_was_down_are_queued_by_the_sweep(
    world: ReplicationWorld, source: Registry, region2: Registry
) -> None:
    await world.add_rule(region2)
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    tags = [f"{source.host}/acme/app:v1"]
    assert (
        await after_push(world.sessions, None, world.repository_id, tags, image.digest, None) == 0
    )
    assert [row.status for row in await world.rows()] == ["pending"]
    assert await requeue_lost(world.sessions, world.redis) == 0  # not quiet for long yet

    async with world.worker():
        assert await requeue_lost(world.sessions, world.redis, lost_after=0) == 1
        await world.wait_for({f"{region2.host}/app:v1": "done"})
        assert await requeue_lost(world.sessions, world.redis, lost_after=0) == 0

    assert region2.manifest("app", "v1")[2] == image.digest


async def test_a_push_asks_for_rules_without_the_write_lock_and_plans_none_without_them(
    world: ReplicationWorld, source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    tags = [f"{source.host}/acme/app:v1"]
    assert not await has_push_rules(world.sessions, world.repository_id)
    await world.add_rule(region2)
    assert await has_push_rules(world.sessions, world.repository_id)
    # Rules found none when the push started: nothing is planned, whatever came since.
    args = (world.sessions, None, world.repository_id, tags, image.digest, None)
    assert await after_push(*args, has_rules=False) == 0
    assert await world.rows() == []
    await after_push(*args, has_rules=True)
    assert [row.status for row in await world.rows()] == ["pending"]
