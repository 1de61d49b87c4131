"""GitHub: one test per failure cause against forgesim (code, exact message, detail)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from buildsvc.errors import InvalidInput, SourceErrorResponse
from buildsvc.sources import GitHubProvider
from buildsvc.sources.github.bind import expiry_warning, parse_expiry
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    bind_refused,
    bind_unreachable,
    day,
    source_settings,
)

USER = r"/api/v3/user$"


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("github")


async def test_401_bad_credentials(world: ForgeWorld) -> None:
    detail = await bind_refused(world, token="wrong-token-" + "q" * 12)
    assert detail == (
        "GitHub answered 401 Unauthorized: the token was not accepted "
        "(Bad credentials: wrong, revoked or expired)"
    )


async def test_expired_token(world: ForgeWorld) -> None:
    token = world.token_with(["repo", "admin:repo_hook"], expires_at=day(-1))
    detail = await bind_refused(world, token=token)
    assert detail.startswith("GitHub answered 401 Unauthorized: the token was not accepted")


async def test_revoked_token(world: ForgeWorld) -> None:
    token = world.token_with(["repo", "admin:repo_hook"])
    world.forge.admin.revoke_token(token)
    detail = await bind_refused(world, token=token)
    assert "wrong, revoked or expired" in detail


async def test_403(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=403, body='{"message": "Forbidden"}')
    assert await bind_refused(world) == "GitHub answered 403 Forbidden: Forbidden"


async def test_403_rate_limited(world: ForgeWorld) -> None:
    body = '{"message": "API rate limit exceeded for user ID 1."}'
    world.forge.admin.set_fault(USER, status=403, body=body)
    assert (
        await bind_refused(world) == "GitHub answered 403 Forbidden: rate limited; try again later"
    )


async def test_404_not_a_github(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=404, body='{"message": "Not Found"}')
    detail = await bind_refused(world)
    assert detail == (
        f"no GitHub API answers at {world.forge.api_url}; is {world.forge.url} a GitHub instance?"
    )


async def test_404_of_a_repository(world: ForgeWorld) -> None:
    client = await world.client()
    with pytest.raises(SourceErrorResponse) as info:
        await client.get_repository("acme/missing")
    assert info.value.detail == "repository acme/missing does not exist or the token cannot see it"
    assert info.value.status == 502


async def test_5xx(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=503, body='{"message": "down for maintenance"}')
    assert (
        await bind_refused(world) == "GitHub answered 503 Service Unavailable: down for maintenance"
    )


async def test_5xx_html_page(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=502, body="<html><body>Bad gateway</body></html>")
    assert await bind_refused(world) == "GitHub answered 502 Bad Gateway: (an HTML page)"


async def test_html_instead_of_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=200, body="<html><body>Sign in</body></html>")
    assert await bind_refused(world) == "GitHub answered with HTML instead of JSON"


async def test_unparsable_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(
        USER, status=200, body='{"login": ', content_type="application/json"
    )
    assert await bind_refused(world) == "GitHub answered with a body that is not valid JSON"


async def test_connection_reset(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, reset=True)
    assert "connection" in await bind_unreachable(world)


async def test_missing_scopes(world: ForgeWorld) -> None:
    detail = await bind_refused(world, token=world.token_with(["read:user", "repo"]))
    assert detail == (
        "token scopes are read:user, repo; the repo and admin:repo_hook scopes are required"
    )


async def test_username_mismatch(world: ForgeWorld) -> None:
    world.forge.admin.create_user("bob")
    assert await bind_refused(world, username="bob") == "the token belongs to user alice, not bob"


async def test_fine_grained_token_without_webhooks_permission(world: ForgeWorld) -> None:
    created = world.forge.admin.request(
        "POST",
        "/github/fine-grained-tokens",
        {"username": "alice", "permissions": {"contents": "read", "statuses": "write"}},
    )
    binding, credentials = await world.bind(token=created["token"])
    assert binding.scopes == ()
    assert len(binding.warnings) == 1
    assert "fine-grained" in binding.warnings[0]
    client = world.provider.client(binding, credentials)
    assert (await client.get_repository("acme/app")).full_path == "acme/app"
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "s3cret")
    assert info.value.detail == (
        "the token cannot manage webhooks on acme/app: a fine-grained token needs Webhooks "
        "read and write permission"
    )
    assert created["token"] not in str(info.value)


async def test_classic_token_of_a_non_admin(world: ForgeWorld) -> None:
    world.forge.admin.create_user("bob")
    world.forge.admin.create_repository("acme", "shared", members={"bob": "write"})
    token = world.forge.admin.create_token("bob", ["repo", "admin:repo_hook"])
    client = await world.client(username="bob", token=token)
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("acme/shared", "http://127.0.0.1:9/hook", "s3cret")
    assert info.value.detail == (
        "the user may not manage webhooks on acme/shared (needs admin rights on it)"
    )


async def test_loopback_is_refused_unless_allowed(world: ForgeWorld) -> None:
    strict = GitHubProvider(source_settings(allowed_source_networks=[]))
    with pytest.raises(InvalidInput) as info:
        await strict.bind(world.credentials())
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
    assert "127.0.0.1, a loopback address" in (info.value.detail or "")


async def test_urls_that_are_not_an_instance_root(world: ForgeWorld) -> None:
    for url in (
        "https://github.com/acme",
        "https://github.com/acme/app.git",
        world.forge.url + "/x",
    ):
        with pytest.raises(InvalidInput) as info:
            await world.bind(url=url)
        assert info.value.code == "INVALID_SOURCE_URL"


def test_expiry_header_is_kept_and_warned_about() -> None:
    """forgesim does not send ``GitHub-Authentication-Token-Expiration``; GitHub does."""
    today = dt.date(2026, 11, 26)
    expires = parse_expiry("2026-12-01 10:00:00 UTC")
    assert expires == dt.date(2026, 12, 1)
    (warning,) = expiry_warning(expires, today, 14)
    assert warning.startswith("the token expires on 2026-12-01 (in 5 days)")
    assert expiry_warning(dt.date(2027, 1, 30), today, 14) == []
    assert parse_expiry(None) is None
    assert parse_expiry("soon") is None
