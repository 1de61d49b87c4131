"""A GitLab (forgesim) with one user, one group and one project, and a provider for it.

``gitlab_world`` starts forgesim in a background thread: alice (token with the ``api``
scope) maintains the group ``acme``, which holds ``acme/app``. ``make_world(**options)``
builds another one (TLS, ``gitlab_mode=...``). The provider's settings allow loopback
(``127.0.0.0/8``), since forgesim listens there, and use a short timeout.

``make_forge(name)`` does the same for GitHub, Bitbucket Cloud and Bitbucket Server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import forgesim
from buildsvc.config import Settings
from buildsvc.errors import (
    SOURCE_ERROR_RESPONSE_MESSAGE,
    SOURCE_UNREACHABLE_MESSAGE,
    SourceErrorResponse,
    SourceUnreachable,
)
from buildsvc.sources import (
    Binding,
    BitbucketProvider,
    BitbucketServerProvider,
    Credentials,
    GitHubProvider,
    GitLabProvider,
    ProviderName,
    SourceClient,
    SourceProvider,
)

LOOPBACK = ["127.0.0.0/8", "::1/128"]
SELF_SIGNED = (
    "TLS certificate verification failed: self-signed certificate; "
    "provide the instance's CA certificate (ca_cert) to trust it"
)


def day(offset: int) -> str:
    """An ISO date ``offset`` days from today (UTC), for token expiry dates."""
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()


def source_settings(**changes: object) -> Settings:
    base: dict[str, object] = {
        "allowed_source_networks": LOOPBACK,
        "source_timeout_seconds": 5.0,
        "token_expiry_warning_days": 14,
    }
    base.update(changes)
    return Settings.model_validate(base)


class Binds:
    """``credentials()`` and ``bind()`` as alice, for both kinds of world below."""

    forge: forgesim.Forge
    token: str
    provider: SourceProvider
    ca_cert: str | None

    def credentials(
        self, *, url: str | None = None, username: str = "alice", token: str | None = None
    ) -> Credentials:
        return Credentials(
            provider=self.provider.name,
            url=url or self.forge.url,
            username=username,
            token=token if token is not None else self.token,
            ca_cert=self.ca_cert,
        )

    async def bind(self, **kwargs: str) -> tuple[Binding, Credentials]:
        credentials = self.credentials(**kwargs)
        return await self.provider.bind(credentials), credentials


@dataclass
class World(Binds):
    forge: forgesim.Forge
    token: str
    provider: GitLabProvider
    ca_cert: str | None = None


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    counter = itertools.count()
    with ExitStack() as stack:

        def make(
            *,
            tls_self_signed: bool = False,
            settings: Settings | None = None,
            gitlab_mode: str = "v4",
        ) -> World:
            data = tmp_path / f"forge{next(counter)}"
            forge = stack.enter_context(
                forgesim.running(
                    "gitlab", data, tls_self_signed=tls_self_signed, gitlab_mode=gitlab_mode
                )
            )
            forge.admin.create_user("alice")
            token = forge.admin.create_token("alice", ["api"])
            forge.admin.create_namespace("acme", members={"alice": "maintainer"})
            forge.admin.create_repository("acme", "app")
            provider = GitLabProvider(settings or source_settings())
            return World(forge, token, provider)

        yield make


@pytest.fixture
def gitlab_world(make_world: Callable[..., World]) -> World:
    return make_world()


# GitHub, Bitbucket Cloud and Bitbucket Server -------------------------------------------
# ``make_forge(provider)`` starts forgesim as that forge: alice (a token that may do
# everything the service needs) administers the namespace ``acme``, which holds the
# repository ``acme/app`` (``ACME/app`` on Bitbucket Server, whose keys are upper-case).

SETUPS: dict[str, tuple[list[str], str]] = {  # provider -> (token scopes, repository path)
    "github": (["repo", "admin:repo_hook"], "acme/app"),
    "bitbucket": (["account", "repository:write", "webhook"], "acme/app"),
    "bitbucket-server": (["REPO_ADMIN"], "ACME/app"),
}
PROVIDERS: dict[str, Callable[[Settings], SourceProvider]] = {
    "github": GitHubProvider,
    "bitbucket": BitbucketProvider,
    "bitbucket-server": BitbucketServerProvider,
}


@dataclass
class ForgeWorld(Binds):
    name: ProviderName
    forge: forgesim.Forge
    token: str
    provider: SourceProvider
    repo: str  # full path of the repository made by the setup
    ca_cert: str | None = None

    async def client(self, **kwargs: str) -> SourceClient:
        binding, credentials = await self.bind(**kwargs)
        return self.provider.client(binding, credentials)

    def token_with(self, scopes: list[str], expires_at: str | None = None) -> str:
        return self.forge.admin.create_token("alice", scopes, expires_at=expires_at)

    async def push(self, tmp_path: Path) -> dict[str, str]:
        """Push ``push_history`` to the repository with the credentials the worker uses."""
        binding, credentials = await self.bind()
        user, password = self.provider.git_credentials(binding, credentials)
        remote = self.forge.git_url_with_token(self.repo, password, username=user)
        return await asyncio.to_thread(push_history, remote, tmp_path / "work")


@pytest.fixture
def make_forge(tmp_path: Path) -> Iterator[Callable[..., ForgeWorld]]:
    counter = itertools.count()
    with ExitStack() as stack:

        def make(
            name: ProviderName, *, tls_self_signed: bool = False, settings: Settings | None = None
        ) -> ForgeWorld:
            data = tmp_path / f"{name}{next(counter)}"
            forge = stack.enter_context(
                forgesim.running(name, data, tls_self_signed=tls_self_signed)
            )
            scopes, repo = SETUPS[name]
            forge.admin.create_user("alice", name="Alice", email="alice@example.invalid")
            token = forge.admin.create_token("alice", scopes)
            forge.admin.create_namespace("acme", members={"alice": "admin"})
            forge.admin.create_repository("acme", "app")
            provider = PROVIDERS[name](settings or source_settings())
            return ForgeWorld(name, forge, token, provider, repo)

        yield make


def run_git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def push_history(remote: str, work: Path) -> dict[str, str]:
    """Commits on main and feature/x and an annotated tag v1, pushed to ``remote``."""
    work.mkdir()
    run_git("init", "-q", "-b", "main", cwd=work)
    (work / "Dockerfile").write_text("FROM scratch\n")
    run_git("add", "Dockerfile", cwd=work)
    run_git("commit", "-q", "-m", "first", cwd=work)
    first = run_git("rev-parse", "HEAD", cwd=work)
    run_git("tag", "-a", "v1", "-m", "release 1", cwd=work)
    run_git("checkout", "-q", "-b", "feature/x", cwd=work)
    run_git("commit", "-q", "--allow-empty", "-m", "feature", cwd=work)
    feature = run_git("rev-parse", "HEAD", cwd=work)
    run_git("push", "-q", remote, "main", "feature/x", "v1", cwd=work)
    return {"main": first, "feature": feature}


async def push_through_a_hook(
    world: ForgeWorld, client: SourceClient, tmp_path: Path
) -> dict[str, str]:
    """``world.push`` while a hook listens; returns once the forge processed the push
    (Bitbucket sends one delivery for the whole push), the hook deleted again."""
    hook = await client.create_hook(world.repo, "http://127.0.0.1:9/hook", "s")
    shas = await world.push(tmp_path)
    await wait_deliveries(world.forge, 1)
    await client.delete_hook(world.repo, hook.id)
    return shas


async def bind_unreachable(world: Binds, **kwargs: str) -> str:
    """Bind, expect SOURCE_UNREACHABLE with the exact message; the detail."""
    with pytest.raises(SourceUnreachable) as info:
        await world.bind(**kwargs)
    error = info.value
    assert error.code == "SOURCE_UNREACHABLE"
    assert error.message == SOURCE_UNREACHABLE_MESSAGE
    assert error.status == 422
    assert world.token not in str(error)
    return error.detail or ""


async def bind_refused(world: Binds, **kwargs: str) -> str:
    """Bind, expect SOURCE_ERROR_RESPONSE with the exact message; the detail."""
    with pytest.raises(SourceErrorResponse) as info:
        await world.bind(**kwargs)
    error = info.value
    assert error.code == "SOURCE_ERROR_RESPONSE"
    assert error.message == SOURCE_ERROR_RESPONSE_MESSAGE
    assert error.status == 422
    for secret in (world.token, kwargs.get("token", world.token)):
        assert secret not in str(error)
        assert secret not in (error.detail or "")
    return error.detail or ""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_deliveries(forge: forgesim.Forge, count: int) -> list[dict[str, Any]]:
    """forgesim's deliveries once there are ``count`` (they are sent in the background).

    Waiting for them also keeps a test from stopping the forge halfway through a push.
    """
    for _ in range(500):
        found = await asyncio.to_thread(forge.admin.deliveries)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} deliveries")
