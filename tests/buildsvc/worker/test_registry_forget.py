"""registry_forget: the image as built leaves the real registry, its layers stay."""

from __future__ import annotations

import docker
import pytest
from aiohttp import web

from buildsvc.worker.docker_push import push_image
from buildsvc.worker.errors import RegistryError, RegistryUnavailable
from buildsvc.worker.registry_forget import forget_image
from buildsvc.worker.registry_session import RegistryLogin
from tests.common.registry_fronts import ServerFactory, serve_token_registry, tag_base
from tests.common.registry_http import registry_image, stored_answers
from tests.common.services import Services

pytestmark = pytest.mark.e2e


async def test_the_manifest_and_its_config_go_and_the_layers_stay(
    docker_api: docker.APIClient, services: Services, registry_repo: str
) -> None:
    tags = tag_base(docker_api, registry_repo, "1")
    login = RegistryLogin(services.registry_username, services.registry_password)
    digest = await push_image(docker_api, tags, username=login.username, password=login.password)
    image = registry_image(services, tags[0])
    config = image.manifest["config"]["digest"]

    await forget_image(tags, digest, config, login=login, insecure=True)

    assert stored_answers(services, registry_repo, digest) == {}
    assert stored_answers(services, registry_repo, config) == {}
    for layer in image.layers:  # other images of the repository may use them
        assert "blob" in stored_answers(services, registry_repo, layer)
    # Already gone (a retry after a partial success): nothing left to do, no error.
    await forget_image(tags, digest, config, login=login, insecure=True)


async def forget_at(port: int, *, attempts: int = 4, base_delay: float = 1.0) -> None:
    """Forget an image of ``acme/app`` at a registry on a loopback port (anonymously)."""
    await forget_image(
        [f"127.0.0.1:{port}/acme/app:1"],
        "sha256:" + "1" * 64,
        "sha256:" + "2" * 64,
        login=None,
        insecure=True,
        attempts=attempts,
        base_delay=base_delay,
    )


async def test_an_unreachable_registry_gives_up_as_unavailable(unused_tcp_port: int) -> None:
    with pytest.raises(RegistryUnavailable) as caught:
        await forget_at(unused_tcp_port, attempts=2, base_delay=0.01)
    assert "gave up after 2 attempts" in str(caught.value.detail)


async def test_a_registry_refusing_deletes_fails_the_push(aiohttp_server: ServerFactory) -> None:
    async def unsupported(request: web.Request) -> web.Response:  # Distribution, deletes off
        error = {"code": "UNSUPPORTED", "message": "The operation is unsupported."}
        return web.json_response({"errors": [error]}, status=405)

    app = web.Application()
    app.router.add_route("DELETE", "/{path:.*}", unsupported)
    server = await aiohttp_server(app)

    with pytest.raises(RegistryError) as caught:
        await forget_at(server.port)
    assert caught.value.code == "PUSH_FAILED"
    assert "refused to delete the unmasked image" in str(caught.value.detail)


async def test_a_token_service_is_asked_for_delete(
    docker_api: docker.APIClient,
    services: Services,
    registry_repo: str,
    aiohttp_server: ServerFactory,
) -> None:
    front = await serve_token_registry(services, aiohttp_server)
    login = RegistryLogin(services.registry_username, services.registry_password)
    digest = await push_image(
        docker_api,
        tag_base(docker_api, registry_repo, "1"),
        username=login.username,
        password=login.password,
    )
    config = registry_image(services, f"{registry_repo}:1").manifest["config"]["digest"]
    name = registry_repo.split("/", 1)[1]

    await forget_image(
        [f"127.0.0.1:{front.port}/{name}:1"], digest, config, login=login, insecure=True
    )

    assert front.scopes == [f"repository:{name}:pull,push,delete"]
    assert stored_answers(services, registry_repo, digest) == {}
