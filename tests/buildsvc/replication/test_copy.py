"""``copy_image`` between real registries: exact bytes, index children, only missing
blobs, mounts, TLS with a given CA, and the registry's own error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from buildsvc.replication.connect import open_session
from buildsvc.replication.copy import CopyReport, copy_image
from buildsvc.replication.errors import (
    DestinationNotAllowed,
    RegistryRefused,
    RegistryUnreachable,
    Superseded,
)
from buildsvc.replication.registry_api import Endpoint, RegistryClient
from buildsvc.sources import AddressPolicy
from tests.common.registries import (
    Registry,
    layers,
    put_image,
    put_index,
    running_registry,
)
from tests.common.registry_fronts import ServerFactory, serve_token_registry
from tests.common.servers import free_port
from tests.common.services import Services

LOOPBACK = AddressPolicy.from_cidrs(["127.0.0.0/8"])


@pytest.fixture
def source() -> Iterator[Registry]:
    """A source with a login (htpasswd): these tests are about the copy, between any
    registries, not buildsvc's token auth (``test_jobs`` reads a token-auth source)."""
    yield from running_registry()


def endpoint(registry: Registry, password: str | None = None) -> Endpoint:
    return Endpoint(registry.url, registry.username, password or registry.password)


@asynccontextmanager
async def clients(
    src: Registry, dst: Endpoint, *, ca: str | None = None, policy: AddressPolicy = LOOPBACK
) -> AsyncIterator[tuple[RegistryClient, RegistryClient]]:
    async with open_session(None, None) as a, open_session(policy, ca) as b:
        yield RegistryClient(endpoint(src), a), RegistryClient(dst, b)


async def no_mount(digest: str) -> str | None:
    return None


async def copy(
    src: Registry, dst: Registry, digest: str, repo: str, tag: str, **kw: object
) -> CopyReport:
    async with clients(src, endpoint(dst), ca=dst.ca_pem) as (a, b):
        mount = kw.pop("mount", no_mount)
        return await copy_image(a, "acme/app", digest, b, repo, tag, mount)  # type: ignore[arg-type]


async def test_a_manifest_arrives_with_its_exact_bytes_and_digest(
    source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(3, 2048))

    report = await copy(source, region2, image.digest, "mirror/app", "v1")

    status, body, digest = region2.manifest("mirror/app", "v1")
    assert (status, body, digest) == (200, image.raw, image.digest)
    assert (report.uploaded, report.mounted, report.present) == (4, 0, 0)  # config + 3 layers
    for blob in image.layers:
        assert region2.get(f"/v2/mirror/app/blobs/{blob}").status_code == 200


async def test_a_second_image_sharing_layers_moves_only_the_new_one(
    source: Registry, region2: Registry
) -> None:
    shared = layers(4, 4096)
    first = put_image(source, "acme/app", "v1", [*shared, *layers(1, 4096)])
    second = put_image(source, "acme/app", "v2", [*shared, *layers(1, 4096)])
    await copy(source, region2, first.digest, "mirror/app", "v1")

    report = await copy(source, region2, second.digest, "mirror/app", "v2")

    assert (report.uploaded, report.present) == (2, 4)  # its config and its own layer
    assert report.bytes_uploaded == 4096 + len(
        source.get(f"/v2/acme/app/blobs/{second.config}").content
    )
    assert region2.manifest("mirror/app", "v2")[2] == second.digest


async def test_blobs_another_repository_holds_are_mounted(
    source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(2, 1024))
    await copy(source, region2, image.digest, "mirror/one", "v1")
    asked: list[str] = []

    async def from_one(digest: str) -> str | None:
        asked.append(digest)
        return "mirror/one"

    report = await copy(source, region2, image.digest, "mirror/two", "v1", mount=from_one)

    assert (report.mounted, report.uploaded) == (3, 0)
    assert sorted(asked) == sorted([*image.layers, image.config])
    assert region2.manifest("mirror/two", "v1")[2] == image.digest


async def test_an_index_is_copied_after_its_children(source: Registry, region2: Registry) -> None:
    amd = put_image(source, "acme/app", "amd", layers(1, 512))
    arm = put_image(source, "acme/app", "arm", layers(1, 512))
    index = put_index(source, "acme/app", "multi", [amd, arm])

    await copy(source, region2, index, "mirror/app", "multi")

    assert region2.manifest("mirror/app", "multi")[2] == index
    for child in (amd, arm):
        assert region2.manifest("mirror/app", child.digest)[1] == child.raw


async def test_tls_with_the_rules_ca_certificate(source: Registry, region3: Registry) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))

    await copy(source, region3, image.digest, "mirror/app", "v1")

    assert region3.manifest("mirror/app", "v1")[2] == image.digest


async def test_tls_without_the_ca_is_unreachable(source: Registry, region3: Registry) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    async with clients(source, endpoint(region3)) as (a, b):
        with pytest.raises(RegistryUnreachable) as caught:
            await copy_image(a, "acme/app", image.digest, b, "mirror/app", "v1", no_mount)
    assert "certificate" in (caught.value.detail or "").lower()


async def test_wrong_credentials_carry_the_registrys_code(
    source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    async with clients(source, endpoint(region2, "wrong")) as (a, b):
        with pytest.raises(RegistryRefused) as caught:
            await copy_image(a, "acme/app", image.digest, b, "mirror/app", "v1", no_mount)
    assert caught.value.registry_code == "UNAUTHORIZED"
    assert not caught.value.transient


async def test_a_stopped_destination_is_unreachable_and_transient(source: Registry) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    nobody = Endpoint(f"http://127.0.0.1:{free_port()}", "u", "p")
    async with clients(source, nobody) as (a, b):
        with pytest.raises(RegistryUnreachable) as caught:
            await copy_image(a, "acme/app", image.digest, b, "mirror/app", "v1", no_mount)
    assert caught.value.transient
    assert caught.value.registry_code == "UNREACHABLE"


async def test_a_blocked_address_is_refused_at_connect_time(
    source: Registry, region2: Registry
) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    async with clients(source, endpoint(region2), policy=AddressPolicy()) as (a, b):
        with pytest.raises(DestinationNotAllowed):
            await copy_image(a, "acme/app", image.digest, b, "mirror/app", "v1", no_mount)


async def test_a_superseded_copy_does_not_put_the_tag(source: Registry, region2: Registry) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))

    async def no_longer() -> bool:
        return False

    async with clients(source, endpoint(region2)) as (a, b):
        with pytest.raises(Superseded):
            await copy_image(
                a, "acme/app", image.digest, b, "mirror/app", "v1", no_mount, no_longer
            )
    assert region2.manifest("mirror/app", "v1")[0] == 404


async def test_a_source_that_wants_bearer_tokens(
    source: Registry, region2: Registry, aiohttp_server: ServerFactory
) -> None:
    image = put_image(source, "acme/app", "v1", layers(1, 512))
    behind = Services("", source.host, source.username, source.password, "")
    front = await serve_token_registry(behind, aiohttp_server)
    token_source = Endpoint(f"http://127.0.0.1:{front.port}", source.username, source.password)

    async with open_session(None, None) as a, open_session(LOOPBACK, None) as b:
        await copy_image(
            RegistryClient(token_source, a),
            "acme/app",
            image.digest,
            RegistryClient(endpoint(region2), b),
            "mirror/app",
            "v1",
            no_mount,
        )

    assert front.scopes == ["repository:acme/app:pull"]  # one token, for what it reads
    assert region2.manifest("mirror/app", "v1")[2] == image.digest
