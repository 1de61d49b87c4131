"""Binding checks against forgesim: user, token, API versions, relative URLs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from buildsvc.errors import InvalidInput
from buildsvc.sources import GitLabProvider
from buildsvc.sources.gitlab.bind import SCOPE_UNVERIFIED
from tests.buildsvc.sources.conftest import World, bind_refused, source_settings


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def test_bind_describes_the_binding(gitlab_world: World) -> None:
    binding, _ = await gitlab_world.bind(username="ALICE", url=gitlab_world.forge.url + "/")
    assert binding.provider == "gitlab"
    assert binding.url == gitlab_world.forge.url
    assert binding.api_url == gitlab_world.forge.api_url
    assert binding.api_version == "v4"
    assert binding.username == "alice"
    assert binding.user_id
    assert binding.scopes == ("api",)
    assert binding.expires_at is None
    assert binding.warnings == ()


async def test_username_mismatch(gitlab_world: World) -> None:
    gitlab_world.forge.admin.create_user("bob")
    detail = await bind_refused(gitlab_world, username="bob")
    assert detail == "the token belongs to user alice, not bob"


async def test_missing_api_scope(gitlab_world: World) -> None:
    token = gitlab_world.forge.admin.create_token("alice", ["read_user"])
    detail = await bind_refused(gitlab_world, token=token)
    assert detail == "token scopes are read_user; the api scope is required"


async def test_expired_token(gitlab_world: World) -> None:
    yesterday = (_today() - dt.timedelta(days=1)).isoformat()
    token = gitlab_world.forge.admin.create_token("alice", ["api"], expires_at=yesterday)
    detail = await bind_refused(gitlab_world, token=token)
    assert detail.startswith("GitLab answered 401 Unauthorized")
    assert "expired" in detail


async def test_revoked_token(gitlab_world: World) -> None:
    token = gitlab_world.forge.admin.create_token("alice", ["api"])
    gitlab_world.forge.admin.revoke_token(token)
    detail = await bind_refused(gitlab_world, token=token)
    assert detail.startswith("GitLab answered 401 Unauthorized")
    assert "revoked" in detail


async def test_unknown_token_is_401(gitlab_world: World) -> None:
    detail = await bind_refused(gitlab_world, token="not-a-token-" + "z" * 12)
    assert detail == (
        "GitLab answered 401 Unauthorized: the token was not accepted (wrong, revoked or expired)"
    )


async def test_expiry_is_kept_and_warned_about(gitlab_world: World) -> None:
    soon = _today() + dt.timedelta(days=5)
    token = gitlab_world.forge.admin.create_token("alice", ["api"], expires_at=soon.isoformat())
    binding, _ = await gitlab_world.bind(token=token)
    assert binding.expires_at == soon
    assert len(binding.warnings) == 1
    assert binding.warnings[0].startswith(f"the token expires on {soon.isoformat()} (in 5 days)")

    later = _today() + dt.timedelta(days=60)
    token = gitlab_world.forge.admin.create_token("alice", ["api"], expires_at=later.isoformat())
    binding, _ = await gitlab_world.bind(token=token)
    assert binding.expires_at == later
    assert binding.warnings == ()


async def test_gitlab_without_introspection(make_world: Callable[..., World]) -> None:
    world = make_world(gitlab_mode="no-introspection")
    binding, _ = await world.bind()
    assert binding.api_version == "v4"
    assert binding.scopes == ()
    assert binding.warnings == (SCOPE_UNVERIFIED,)

    token = world.forge.admin.create_token("alice", ["read_user"])
    detail = await bind_refused(world, token=token)
    assert detail == (
        "GitLab answered 403 Forbidden: the token has insufficient scope; the api scope is required"
    )


async def test_gitlab_8_binds_through_api_v3(make_world: Callable[..., World]) -> None:
    world = make_world(gitlab_mode="v3-only")
    binding, credentials = await world.bind()
    assert binding.api_version == "v3"
    assert binding.api_url == world.forge.url + "/api/v3"
    assert binding.username == "alice"
    assert binding.warnings == (SCOPE_UNVERIFIED,)
    assert world.provider.git_credentials(binding, credentials) == ("alice", world.token)


async def test_git_credentials_v4(gitlab_world: World) -> None:
    binding, credentials = await gitlab_world.bind()
    assert gitlab_world.provider.git_credentials(binding, credentials) == (
        "oauth2",
        gitlab_world.token,
    )


async def test_a_group_url_is_refused_by_probing(gitlab_world: World) -> None:
    with pytest.raises(InvalidInput) as info:
        await gitlab_world.bind(url=gitlab_world.forge.url + "/acme")
    assert info.value.code == "INVALID_SOURCE_URL"
    assert "enter the instance root URL, e.g. https://gitlab.example.com" in (
        info.value.detail or ""
    )


async def test_a_project_url_is_refused_outright(gitlab_world: World) -> None:
    for url in ("/acme/app", "/acme/app.git", "/acme/app/-/tree/main"):
        with pytest.raises(InvalidInput) as info:
            await gitlab_world.bind(url=gitlab_world.forge.url + url)
        assert info.value.code == "INVALID_SOURCE_URL"


async def test_loopback_is_refused_unless_allowed(gitlab_world: World) -> None:
    strict = GitLabProvider(source_settings(allowed_source_networks=[]))
    with pytest.raises(InvalidInput) as info:
        await strict.bind(gitlab_world.credentials())
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
    assert info.value.status == 400
    assert "127.0.0.1, a loopback address" in (info.value.detail or "")


async def test_invalid_ca_cert(gitlab_world: World) -> None:
    gitlab_world.ca_cert = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    with pytest.raises(InvalidInput) as info:
        await gitlab_world.bind()
    assert info.value.code == "INVALID_CA_CERT"
    assert info.value.status == 400


async def test_empty_username_or_token(gitlab_world: World) -> None:
    for kwargs in ({"username": " "}, {"token": ""}):
        with pytest.raises(InvalidInput) as info:
            await gitlab_world.bind(**kwargs)
        assert info.value.code == "VALIDATION_ERROR"
