"""registry_labels: labels written into pushed images, against the real registry."""

from __future__ import annotations

import asyncio
import secrets

import docker
import pytest
from aiohttp import web

from buildsvc.worker.docker_push import push_image
from buildsvc.worker.errors import RegistryError, RegistryUnauthorized, RegistryUnavailable
from buildsvc.worker.registry_labels import (
    ImageRef,
    RegistryLogin,
    api_host,
    label_image,
    label_pushed_image,
    registry_is_insecure,
)
from tests.common.registry_fronts import (
    FlakyRegistry,
    ServerFactory,
    serve_token_registry,
    tag_base,
)
from tests.common.registry_http import registry_image
from tests.common.services import BASE_IMAGE, Services

LABELS = {
    "org.opencontainers.image.source": "http://forge.test/acme/app",
    "org.opencontainers.image.revision": "ab" * 20,
}


def test_image_ref_splits_registry_repository_and_tags() -> None:
    ref = ImageRef.from_tags(["127.0.0.1:5000/acme/app:latest", "127.0.0.1:5000/acme/app:1.2"])
    assert ref == ImageRef("127.0.0.1:5000", "acme/app", ("latest", "1.2"))
    assert ImageRef.from_tags(["reg.example:443/a/b"]).tags == ("latest",)


@pytest.mark.parametrize(
    "tags",
    [["127.0.0.1:5000/acme/a:1", "127.0.0.1:5000/acme/b:1"], ["app:1"]],
    ids=["two repositories", "no registry host"],
)
def test_image_ref_refuses_what_it_cannot_label(tags: list[str]) -> None:
    with pytest.raises(RegistryError):
        ImageRef.from_tags(tags)


def test_docker_hub_references_reach_its_api_host() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert api_host("index.docker.io") == "registry-1.docker.io"
    assert api_host("127.0.0.1:5000") == "127.0.0.1:5000"
    assert api_host("ghcr.io") == "ghcr.io"


def test_insecure_registries_follow_the_engine() -> None:
    info = {
        "RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {
                "docker.io": {"Secure": True},
                "build.internal:5000": {"Secure": False},
            },
        }
    }
    assert registry_is_insecure(info, "127.0.0.1:5000")
    assert registry_is_insecure(info, "build.internal:5000")
    assert not registry_is_insecure(info, "docker.io")
    assert not registry_is_insecure(info, "10.1.2.3:5000")
    assert not registry_is_insecure(info, "registry.example.com")
    assert not registry_is_insecure({}, "127.0.0.1:5000")


@pytest.mark.e2e
def test_the_real_engine_pushes_to_loopback_over_http(
    docker_api: docker.APIClient, services: Services
) -> None:
    assert registry_is_insecure(docker_api.info(), services.registry)


async def pushed(docker_api: docker.APIClient, services: Services, repository: str) -> str:
    tags = tag_base(docker_api, repository, "1", "latest")
    try:
        return await push_image(
            docker_api,
            tags,
            username=services.registry_username,
            password=services.registry_password,
        )
    finally:
        for tag in tags:
            docker_api.remove_image(tag)


def login(services: Services) -> RegistryLogin:
    return RegistryLogin(services.registry_username, services.registry_password)


@pytest.mark.e2e
async def test_labels_every_tag_over_the_same_layers(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    digest = await pushed(docker_api, services, registry_repo)
    before = registry_image(services, f"{registry_repo}@{digest}")
    tags = [f"{registry_repo}:1", f"{registry_repo}:latest"]

    image_id = docker_api.inspect_image(BASE_IMAGE)["Id"]  # the pushed config's digest

    relabelled = await asyncio.to_thread(
        label_pushed_image,
        tags,
        digest,
        LABELS,
        login=login(services),
        insecure=True,
        config_digest=image_id,  # read side by side with the manifest
    )

    labelled = relabelled.digest
    assert labelled != digest
    assert relabelled.unmasked is None  # nothing was masked: nothing to delete
    for tag in tags:
        after = registry_image(services, tag)
        assert after.digest == labelled
        assert after.labels == {**before.labels, **LABELS}
        assert after.layers == before.layers
        config = {**after.config, "config": {**after.config["config"], "Labels": None}}
        original = {**before.config, "config": {**before.config["config"], "Labels": None}}
        assert config == original  # nothing but the labels changed
    # Again (a retried push; a wrong id is only a hint): the same bytes, the same digest.
    again = await asyncio.to_thread(
        label_pushed_image,
        tags,
        digest,
        LABELS,
        login=login(services),
        insecure=True,
        config_digest="sha256:" + "0" * 64,
    )
    assert again.digest == labelled


@pytest.mark.e2e
async def test_a_wrong_password_is_unauthorized(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    digest = await pushed(docker_api, services, registry_repo)
    wrong = RegistryLogin(services.registry_username, "not-" + services.registry_password)

    with pytest.raises(RegistryUnauthorized) as caught:
        await label_image([f"{registry_repo}:1"], digest, LABELS, login=wrong, insecure=True)

    assert caught.value.code == "REGISTRY_UNAUTHORIZED"
    assert wrong.password not in str(caught.value.detail)


@pytest.mark.e2e
async def test_bearer_token_registries_are_asked_for_a_push_scope(
    docker_api: docker.APIClient,
    services: Services,
    registry_repo: str,
    aiohttp_server: ServerFactory,
) -> None:
    digest = await pushed(docker_api, services, registry_repo)
    front = await serve_token_registry(services, aiohttp_server)
    name = registry_repo.split("/", 1)[1]

    labelled = (
        await label_image(
            [f"127.0.0.1:{front.port}/{name}:1"],
            digest,
            LABELS,
            login=login(services),
            insecure=True,
        )
    ).digest

    assert front.scopes == [f"repository:{name}:pull,push"]  # one token for every call
    image = registry_image(services, f"{registry_repo}:1")
    assert image.digest == labelled
    assert image.labels["org.opencontainers.image.revision"] == "ab" * 20

    # The next build reuses the token while it lives; a refused token is renewed once.
    again = {**LABELS, "org.opencontainers.image.revision": "cd" * 20}
    target = [f"127.0.0.1:{front.port}/{name}:1"]
    await label_image(target, digest, again, login=login(services), insecure=True)
    assert len(front.scopes) == 1
    front.token = secrets.token_hex(8)  # the token service restarted: old tokens refused
    await label_image(target, digest, LABELS, login=login(services), insecure=True)
    assert len(front.scopes) == 2
    assert registry_image(services, f"{registry_repo}:1").digest == labelled


@pytest.mark.e2e
async def test_a_transient_failure_is_retried(
    docker_api: docker.APIClient,
    services: Services,
    registry_repo: str,
    aiohttp_server: ServerFactory,
) -> None:
    digest = await pushed(docker_api, services, registry_repo)
    flaky = FlakyRegistry(services.registry, failures=1)  # the labelled manifest's PUT: 503
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", flaky.handle)
    server = await aiohttp_server(app)
    name = registry_repo.split("/", 1)[1]
    lines: list[str] = []

    relabelled = await label_image(
        [f"127.0.0.1:{server.port}/{name}:1"],
        digest,
        LABELS,
        login=login(services),
        insecure=True,
        base_delay=0.05,
        on_line=lines.append,
    )
    labelled = relabelled.digest

    assert registry_image(services, f"{registry_repo}:1").digest == labelled
    assert [line for line in lines if "retry in" in line] == [
        "Labelling the image failed (PUT /v2/"
        + name
        + "/manifests/1: 503 registry restarting); retry in 0.05 s"
    ]


@pytest.mark.e2e
async def test_an_unreachable_registry_gives_up_as_unavailable(unused_tcp_port: int) -> None:
    with pytest.raises(RegistryUnavailable) as caught:
        await label_image(
            [f"127.0.0.1:{unused_tcp_port}/acme/app:1"],
            "sha256:" + "0" * 64,
            LABELS,
            login=None,
            insecure=True,
            attempts=2,
            base_delay=0.01,
        )
    assert "gave up after 2 attempts" in str(caught.value.detail)


class DeepRegistry:
    """A registry whose JSON answers (manifest, error body or token) nest 100,000 deep."""

    DEEP = "[" * 100_000

    def __init__(self, *, status: int = 200, token_service: bool = False) -> None:
        self.status = status
        self.token_service = token_service
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/token":
            return web.Response(text=self.DEEP, content_type="application/json")
        if self.token_service and "Authorization" not in request.headers:
            realm = f'Bearer realm="http://127.0.0.1:{self.port}/token",service="test"'
            return web.Response(status=401, headers={"WWW-Authenticate": realm})
        if request.method == "POST":  # an upload opened early
            return web.Response(status=202, headers={"Location": "/v2/acme/app/blobs/uploads/1"})
        return web.Response(text=self.DEEP, status=self.status, content_type="application/json")


@pytest.mark.parametrize(
    ("registry", "error", "words"),
    [
        (DeepRegistry(), RegistryError, "unexpected registry answer: RecursionError"),
        (DeepRegistry(status=500), RegistryUnavailable, "500"),
        (DeepRegistry(token_service=True), RegistryError, "answered without a token"),
    ],
    ids=["manifest", "error body", "token"],
)
async def test_registry_json_too_deep_to_decode_is_a_registry_error(
    aiohttp_server: ServerFactory, registry: DeepRegistry, error: type[RegistryError], words: str
) -> None:
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", registry.handle)
    server = await aiohttp_server(app)
    registry.port = server.port
    with pytest.raises(error) as caught:
        await label_image(
            [f"127.0.0.1:{server.port}/acme/app:1"],
            "sha256:" + "0" * 64,
            LABELS,
            login=RegistryLogin("robot", "not-a-real-password"),
            insecure=True,
            attempts=1,
        )
    assert words in str(caught.value.detail)
