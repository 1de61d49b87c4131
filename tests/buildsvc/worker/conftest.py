"""Fixtures for the worker tests: the real Docker engine, registry and git.

``services`` is the stack (Docker engine, Redis) with a token-auth registry of the test's
own (``tests.common.token_registry``): its login is an account holding ``buildsvc-test``, checked
by the test's app at the registry's realm, as the stack's registry checks users.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import docker
import pytest
from aiohttp.test_utils import TestServer

from buildsvc.config import Settings
from tests.buildsvc.worker.helpers import GIT_USERNAME, GitHttpServer, git, untag_all
from tests.common.services import Services, ensure_services
from tests.common.token_registry import Login, TokenRegistry, token_registry

TEST_NAMESPACE = "buildsvc-test"


@pytest.fixture(scope="session")
def stack() -> Services:
    return ensure_services()


@pytest.fixture
async def token_reg(
    stack: Services, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[TokenRegistry, Login]]:
    """The test's token registry and its owner login (holding ``buildsvc-test``)."""
    async with token_registry(settings, tmp_path / "token-registry") as registry:
        yield registry, await registry.owner(TEST_NAMESPACE)


@pytest.fixture
def services(stack: Services, token_reg: tuple[TokenRegistry, Login]) -> Services:
    registry, login = token_reg
    return dataclasses.replace(
        stack,
        registry=registry.registry,
        registry_username=login.username,
        registry_password=login.password,
    )


@pytest.fixture(scope="session")
def docker_api(stack: Services) -> Iterator[docker.APIClient]:
    api = docker.APIClient(base_url=stack.docker_url, version="auto", timeout=120)
    yield api
    api.close()


@pytest.fixture
def image_name(docker_api: docker.APIClient) -> Iterator[str]:
    """A unique local repository name; every image tagged with it is removed afterwards."""
    name = f"buildsvc-test/{uuid.uuid4().hex[:12]}"
    yield name
    untag_all(docker_api, name)


@pytest.fixture
def registry_repo(services: Services, docker_api: docker.APIClient) -> Iterator[str]:
    """A unique repository in the local registry (local tags removed afterwards)."""
    name = f"{services.registry}/{TEST_NAMESPACE}/{uuid.uuid4().hex[:12]}"
    yield name
    untag_all(docker_api, name)


@pytest.fixture
def bare_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """A bare repository with three commits; returns its path and the shas, oldest first."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    shas = []
    for number in (1, 2, 3):
        (work / "version.txt").write_text(f"version {number}\n")
        git("add", "version.txt", cwd=work)
        git("commit", "--quiet", "-m", f"commit {number}", cwd=work)
        shas.append(git("rev-parse", "HEAD", cwd=work))
    bare = tmp_path / "repo.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare, shas


@pytest.fixture
def token() -> str:
    return "tok-" + secrets.token_hex(16)


@pytest.fixture
async def http_repo(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    bare_repo: tuple[Path, list[str]],
    token: str,
) -> tuple[GitHttpServer, str, list[str]]:
    """``bare_repo`` served over git smart HTTP on 127.0.0.1, behind Basic auth."""
    bare, shas = bare_repo
    backend = GitHttpServer(project_root=bare.parent, username=GIT_USERNAME, token=token)
    server = await aiohttp_server(backend.app())
    return backend, f"http://127.0.0.1:{server.port}/{bare.name}", shas
