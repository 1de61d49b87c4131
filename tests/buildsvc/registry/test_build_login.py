"""A running build's own login against the real registry: the worker's push through the
Docker engine and its own registry HTTP calls (labels) work with it, and end with the
build; no registry password is involved."""

from __future__ import annotations

import asyncio

import docker
import pytest

from buildsvc.builds import registry_login
from buildsvc.registry import namespaces
from buildsvc.store.models import Build
from buildsvc.web.keys import SESSIONMAKER
from buildsvc.worker.docker_push import push_image
from buildsvc.worker.errors import RegistryError
from buildsvc.worker.registry_forget import forget_pushed_image
from buildsvc.worker.registry_labels import RegistryLogin, label_image
from tests.buildsvc.registry.registry_env import RegistryStack
from tests.common.factories import add_account, add_build, add_repository

pytestmark = pytest.mark.e2e

DOCKER_URL = "unix:///var/run/docker.sock"


async def build_in(stack: RegistryStack, status: str) -> tuple[int, RegistryLogin]:
    secret = registry_login.new_secret()
    sessionmaker = stack.app[SESSIONMAKER]
    async with sessionmaker.begin() as session:
        account = await add_account(session, "alpha")
    await namespaces.create(sessionmaker, account.id, "alpha")
    async with sessionmaker.begin() as session:
        repository = await add_repository(session, account.id, namespace="alpha", name="app")
        build = await add_build(
            session,
            account.id,
            repository.id,
            status=status,
            registry_secret_hash=registry_login.secret_hash(secret),
        )
    return build.id, RegistryLogin(registry_login.login_name(build.id), secret)


async def test_a_running_build_pushes_and_labels_with_its_own_login(
    registry_stack: RegistryStack,
) -> None:
    build_id, login = await build_in(registry_stack, "pushing")
    tag = await asyncio.to_thread(registry_stack.image, "alpha/app:built")
    api = docker.APIClient(base_url=DOCKER_URL, version="auto", timeout=120)
    try:
        digest = await push_image(api, [tag], username=login.username, password=login.password)
    finally:
        api.close()
    assert digest.startswith("sha256:")

    labelled = await label_image(
        [tag], digest, {"org.example.built-by": "test"}, login=login, insecure=True, attempts=1
    )
    assert labelled.digest.startswith("sha256:")
    assert labelled.digest != digest  # a new config and manifest, written with a Bearer token
    # registry_forget's DELETE asks for delete too, which a build's login has on its own
    # repository (the config blob here is one the repository never had: 404 is fine).
    await asyncio.to_thread(
        forget_pushed_image, [tag], digest, "sha256:" + "0" * 64, login=login, insecure=True
    )

    # The build ends: its login is refused from then on.
    async with registry_stack.app[SESSIONMAKER].begin() as session:
        build = await session.get(Build, build_id)
        assert build is not None
        build.status = "succeeded"
    api = docker.APIClient(base_url=DOCKER_URL, version="auto", timeout=120)
    try:
        with pytest.raises(RegistryError) as refused:
            await push_image(
                api, [tag], username=login.username, password=login.password, attempts=1
            )
    finally:
        api.close()
    assert "unauthorized: authentication required" in str(refused.value.detail)
