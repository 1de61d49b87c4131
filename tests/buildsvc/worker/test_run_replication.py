"""A build pushed through buildsvc lands the same digest in two more registries: the
pipeline's push hook plans the copies and a real arq worker makes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from buildsvc.crypto import Cipher
from buildsvc.replication import service
from buildsvc.replication.schemas import ReplicationRuleIn
from buildsvc.sources import AddressPolicy
from tests.buildsvc.worker.run_env import HELLO, RunEnv, run_env_fixture  # noqa: F401
from tests.common.registries import Registry, running_registry
from tests.common.registry_http import registry_image
from tests.common.replication_world import replication_worker, wait_for_rows

pytestmark = pytest.mark.e2e


@pytest.fixture
def region2() -> Iterator[Registry]:
    yield from running_registry()


@pytest.fixture
def region3() -> Iterator[Registry]:
    yield from running_registry(tls=True)


async def test_a_build_lands_its_digest_in_every_region(
    env: RunEnv, region2: Registry, region3: Registry
) -> None:
    policy = AddressPolicy.from_cidrs(env.settings.allowed_source_networks)
    for region in (region2, region3):
        spec = ReplicationRuleIn(
            destination_url=region.url,
            username=region.username,
            password=region.password,
            ca_cert=region.ca_pem,
            destination_namespace="dr",
        )
        await service.create_rule(
            env.sessionmaker,
            Cipher.from_settings(env.settings),
            policy,
            env.account_id,
            env.repository_id,
            spec,
        )
    sha = env.push(HELLO)
    build_id = await env.add_build(sha, tags=[f"{env.image}:latest"])

    assert await env.run(build_id) == "succeeded"
    async with replication_worker(env.settings, env.sessionmaker):
        name = env.image.rsplit("/", 1)[1]
        wanted = {f"{r.host}/dr/{name}:latest": "done" for r in (region2, region3)}
        await wait_for_rows(env.sessionmaker, wanted)

    digest = (await env.build(build_id)).digest
    assert registry_image(env.services, f"{env.image}:latest").digest == digest
    for region in (region2, region3):
        assert region.manifest(f"dr/{name}", "latest")[2] == digest
    text = "\n".join(line for _, line in await env.log(build_id))
    assert f"Queued 2 replications of {digest}" in text
