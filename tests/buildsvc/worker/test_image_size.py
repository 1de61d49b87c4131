"""An image's size is its manifest's config and layers; other documents have none."""

from __future__ import annotations

import secrets

import pytest

from buildsvc.worker import registry_session
from buildsvc.worker.image_size import authorize_ahead, manifest_size, pushed_size
from buildsvc.worker.registry_session import ImageRef, RegistryLogin, RegistrySession
from tests.common.registry_fronts import ServerFactory, serve_token_registry
from tests.common.services import Services


def test_config_and_layers_add_up() -> None:
    manifest = {"config": {"size": 1500}, "layers": [{"size": 100}, {"size": 2000}]}
    assert manifest_size(manifest) == 3600


def test_an_index_or_a_broken_size_has_no_size() -> None:
    assert manifest_size({"manifests": [{"size": 500}]}) is None
    assert manifest_size({"config": {"size": 1}, "layers": [{"size": "2"}]}) is None
    assert manifest_size({"config": {}, "layers": []}) is None


@pytest.mark.e2e
async def test_a_login_made_ahead_serves_the_size_read_after_the_push(
    services: Services, aiohttp_server: ServerFactory
) -> None:
    front = await serve_token_registry(services, aiohttp_server)
    tags = [f"127.0.0.1:{front.port}/acme/ahead-{secrets.token_hex(4)}:latest"]
    login = RegistryLogin(services.registry_username, services.registry_password)

    await authorize_ahead(tags, login=login, insecure=True)
    assert len(front.scopes) == 1
    ref = ImageRef.from_tags(tags)
    assert RegistrySession(ref, login, insecure=True, timeout=5).authorized

    # No such image: the read says None, and asked the token service nothing more.
    assert await pushed_size(tags, "sha256:" + "0" * 64, login=login, insecure=True) is None
    assert len(front.scopes) == 1


def test_lapsed_logins_are_forgotten_once_many_are_remembered() -> None:
    key = ("http://r", "acme/app", "$build+1", "pull,push")
    remembered = registry_session._AUTHORIZED
    saved = dict(remembered)
    try:
        remembered.clear()
        for n in range(registry_session._REMEMBERED_MAX):
            remembered[("http://r", "acme/app", f"$build+{n + 2}", "pull")] = ("Bearer x", 0.0)
        registry_session._remember(key, "Bearer new", float("inf"))
        assert remembered == {key: ("Bearer new", float("inf"))}
    finally:
        remembered.clear()
        remembered.update(saved)
