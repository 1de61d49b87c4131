"""A stored binding rechecks the network on every client call, whatever the forge.

The binding is made while loopback is allowed; a provider whose settings allow no
network then opens a client for it: every call is refused before a byte is sent
(PyGithub and atlassian-python-api send nothing around our transport).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildsvc.errors import InvalidInput
from buildsvc.sources.base import ProviderName
from tests.buildsvc.sources.conftest import PROVIDERS, ForgeWorld, source_settings


@pytest.mark.parametrize(
    ("provider", "hook_id"),
    [("github", "1"), ("bitbucket", "{x}"), ("bitbucket-server", "1")],
)
async def test_every_call_goes_through_the_address_policy(
    provider: ProviderName, hook_id: str, make_forge: Callable[..., ForgeWorld]
) -> None:
    world = make_forge(provider)
    binding, credentials = await world.bind()
    strict = PROVIDERS[provider](source_settings(allowed_source_networks=[]))
    client = strict.client(binding, credentials)
    repo, namespace = world.repo, world.repo.split("/")[0]
    calls = [
        client.list_namespaces(),
        client.list_repositories(namespace),
        client.list_repositories("alice"),
        client.get_repository(repo),
        client.create_hook(repo, "http://127.0.0.1:9/h", "s"),
        client.get_hook(repo, hook_id),
        client.delete_hook(repo, hook_id),
        client.resolve_ref(repo, "main"),
        client.commit_message(repo, "a" * 40),
        client.set_commit_status(
            repo, "a" * 40, "success", context="c", target_url="", description=""
        ),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as info:
            await call
        assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
