"""A GitLab (forgesim) with one user, one group and one project, and a provider for it.

``gitlab_world`` starts forgesim in a background thread: alice (token with the ``api``
scope) maintains the group ``acme``, which holds ``acme/app``. ``make_world(**options)``
builds another one (TLS, ``gitlab_mode=...``). The provider's settings allow loopback
(``127.0.0.0/8``), since forgesim listens there, and use a short timeout.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

import forgesim
from buildsvc.config import Settings
from buildsvc.sources import Binding, Credentials, GitLabProvider

LOOPBACK = ["127.0.0.0/8", "::1/128"]


def source_settings(**changes: object) -> Settings:
    base: dict[str, object] = {
        "allowed_source_networks": LOOPBACK,
        "source_timeout_seconds": 5.0,
        "token_expiry_warning_days": 14,
    }
    base.update(changes)
    return Settings.model_validate(base)


@dataclass
class World:
    forge: forgesim.Forge
    token: str
    provider: GitLabProvider
    ca_cert: str | None = None

    def credentials(
        self, *, url: str | None = None, username: str = "alice", token: str | None = None
    ) -> Credentials:
        return Credentials(
            provider="gitlab",
            url=url or self.forge.url,
            username=username,
            token=token if token is not None else self.token,
            ca_cert=self.ca_cert,
        )

    async def bind(self, **kwargs: str) -> tuple[Binding, Credentials]:
        credentials = self.credentials(**kwargs)
        return await self.provider.bind(credentials), credentials


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
