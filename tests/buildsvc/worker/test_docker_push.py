"""docker_push against the real engine and the real registry (htpasswd auth)."""

from __future__ import annotations

import time

import docker
import pytest
from aiohttp import web

from buildsvc.worker.docker_push import classify_push_error, push_image
from buildsvc.worker.errors import (
    RegistryDenied,
    RegistryError,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from tests.common.registry_fronts import FlakyRegistry, ServerFactory, tag_base
from tests.common.registry_http import registry_image
from tests.common.services import Services

pytestmark = pytest.mark.e2e


async def test_pushes_every_tag_and_returns_registry_digest(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    tags = tag_base(docker_api, registry_repo, "1.0", "latest")
    lines: list[str] = []

    digest = await push_image(
        docker_api,
        tags,
        username=services.registry_username,
        password=services.registry_password,
        on_line=lines.append,
    )

    assert digest.startswith("sha256:")
    assert registry_image(services, f"{registry_repo}:1.0").digest == digest
    assert registry_image(services, f"{registry_repo}:latest").digest == digest
    assert any("digest: " + digest in line for line in lines)
    assert not any(services.registry_password in line for line in lines)


async def test_wrong_password_is_unauthorized_and_not_retried(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    tags = tag_base(docker_api, registry_repo, "1")
    lines: list[str] = []
    with pytest.raises(RegistryUnauthorized) as caught:
        await push_image(
            docker_api, tags, username="buildsvc", password="wrong-password", on_line=lines.append
        )
    assert caught.value.code == "REGISTRY_UNAUTHORIZED"
    assert "unauthorized: authentication required" in str(caught.value.detail)
    assert not any("retry" in line for line in lines)


async def test_missing_credentials_are_denied(
    docker_api: docker.APIClient, registry_repo: str
) -> None:
    # Token auth: anonymous gets a token that grants nothing, so the registry says denied.
    tags = tag_base(docker_api, registry_repo, "1")
    with pytest.raises(RegistryDenied):
        await push_image(docker_api, tags)


async def test_unreachable_registry_is_retried_then_unavailable(
    docker_api: docker.APIClient, unused_tcp_port: int
) -> None:
    repository = f"127.0.0.1:{unused_tcp_port}/buildsvc-test/unreachable"
    tags = tag_base(docker_api, repository, "1")
    lines: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises(RegistryUnavailable) as caught:
            await push_image(
                docker_api,
                tags,
                username="u",
                password="p",
                on_line=lines.append,
                attempts=3,
                base_delay=0.1,
            )
    finally:
        docker_api.remove_image(tags[0])
    assert caught.value.code == "REGISTRY_UNAVAILABLE"
    assert "connection refused" in str(caught.value.detail)
    assert len([line for line in lines if "retry in" in line]) == 2
    assert time.monotonic() - started >= 0.3  # 0.1 s, then 0.2 s of backoff


async def test_transient_5xx_is_retried_until_it_succeeds(
    docker_api: docker.APIClient, services: Services, aiohttp_server: ServerFactory
) -> None:
    flaky = FlakyRegistry(services.registry, failures=1)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{path:.*}", flaky.handle)
    server = await aiohttp_server(app)
    repository = f"127.0.0.1:{server.port}/buildsvc-test/flaky"
    tags = tag_base(docker_api, repository, "1")
    lines: list[str] = []
    try:
        digest = await push_image(
            docker_api,
            tags,
            username=services.registry_username,
            password=services.registry_password,
            on_line=lines.append,
            base_delay=0.05,
        )
    finally:
        docker_api.remove_image(tags[0])
    assert digest == registry_image(services, f"{services.registry}/buildsvc-test/flaky:1").digest
    assert len([line for line in lines if "retry in" in line]) == 1


async def test_missing_local_image_is_a_push_failure(docker_api: docker.APIClient) -> None:
    with pytest.raises(RegistryError) as caught:
        await push_image(docker_api, ["127.0.0.1:5000/buildsvc-test/never-built:1"])
    assert type(caught.value) is RegistryError
    assert caught.value.code == "PUSH_FAILED"
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("unauthorized: authentication required", RegistryUnauthorized),
        ("no basic auth credentials", RegistryUnauthorized),
        ("denied: requested access to the resource is denied", RegistryDenied),
        ("received unexpected HTTP status: 502 Bad Gateway", RegistryUnavailable),
        ("received unexpected HTTP status: 503 Service Unavailable", RegistryUnavailable),
        ("filesystem layer verification failed for digest sha256:abc", RegistryUnavailable),
        (
            'Put "http://r/v2/x/blobs/uploads/1": read: connection reset by peer',
            RegistryUnavailable,
        ),
        (
            'Get "http://127.0.0.1:5999/v2/": dial tcp: connect: connection refused',
            RegistryUnavailable,
        ),
        ("manifest invalid: manifest invalid", RegistryError),
    ],
)
def test_push_errors_map_to_codes(message: str, error: type[RegistryError]) -> None:
    mapped = classify_push_error(message)
    assert type(mapped) is error
    assert mapped.detail == message
    assert mapped.transient is (error is RegistryUnavailable)
