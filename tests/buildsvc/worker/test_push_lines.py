"""The push log never names another tenant's repository: a real push that the engine
mounts from another namespace, and the rewrite rule itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import docker
import pytest

from buildsvc.worker.docker_push import push_image
from buildsvc.worker.push_lines import OTHER_REPOSITORY, namespace_of, push_line
from tests.common.registry_fronts import tag_base
from tests.common.services import Services
from tests.common.token_registry import Login, TokenRegistry


@pytest.fixture
async def two_tenants(
    services: Services, docker_api: docker.APIClient, token_reg: tuple[TokenRegistry, Login]
) -> AsyncIterator[tuple[str, str]]:
    """Two namespaces the test login holds (a mount needs pull on its source)."""
    suffix = uuid.uuid4().hex[:10]
    registry, login = token_reg
    for namespace in (f"other-{suffix}", f"mine-{suffix}"):
        await registry.claim(login, namespace)
    repos = (
        f"{services.registry}/other-{suffix}/web",
        f"{services.registry}/mine-{suffix}/app",
    )
    yield repos
    for repo in repos:
        for tag in ("1",):
            docker_api.remove_image(f"{repo}:{tag}", noprune=True)


@pytest.mark.e2e
async def test_a_mount_from_another_tenant_is_not_named(
    docker_api: docker.APIClient, services: Services, two_tenants: tuple[str, str]
) -> None:
    other, mine = two_tenants
    login = {"username": services.registry_username, "password": services.registry_password}
    await push_image(docker_api, tag_base(docker_api, other, "1"), **login)
    lines: list[str] = []

    await push_image(docker_api, tag_base(docker_api, mine, "1"), on_line=lines.append, **login)

    # The registry holds every layer already, under the other tenant: the engine mounts.
    assert any(line.endswith(": " + OTHER_REPOSITORY) for line in lines), lines
    assert not any(other.split("/")[1] in line for line in lines), lines


def test_a_mount_within_the_namespace_keeps_its_source() -> None:
    repository = "127.0.0.1:5000/acme/app"
    assert push_line("Mounted from acme/web", repository) == "Mounted from acme/web"
    assert push_line("Mounted from globex/web", repository) == OTHER_REPOSITORY
    assert push_line("Mounted from acme", repository) == OTHER_REPOSITORY  # no namespace
    assert push_line("Layer already exists", repository) == "Layer already exists"


def test_namespace_of_reads_past_the_registry_host() -> None:
    assert namespace_of("127.0.0.1:5000/acme/web") == "acme"
    assert namespace_of("registry.example.com/acme/team/web") == "acme"
    assert namespace_of("acme/web") == "acme"
    assert namespace_of("localhost/acme/web") == "acme"
    assert namespace_of("web") == ""
