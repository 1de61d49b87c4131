"""Bitbucket Cloud: one test per failure cause against forgesim (code, message, detail)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildsvc.errors import InvalidInput, SourceErrorResponse
from buildsvc.sources import BitbucketProvider
from buildsvc.sources.bitbucket.cloud_bind import check_scopes
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    bind_refused,
    bind_unreachable,
    day,
    source_settings,
)

USER = r"/2\.0/user$"
NOT_ACCEPTED = (
    "Bitbucket answered 401 Unauthorized: the credentials were not accepted "
    "(wrong, revoked or expired)"
)


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("bitbucket")


async def test_401_unknown_credentials(world: ForgeWorld) -> None:
    assert await bind_refused(world, token="wrong-token-" + "q" * 12) == NOT_ACCEPTED


async def test_expired_token(world: ForgeWorld) -> None:
    token = world.token_with(["account", "repository", "webhook"], expires_at=day(-1))
    assert await bind_refused(world, token=token) == NOT_ACCEPTED


async def test_revoked_token(world: ForgeWorld) -> None:
    token = world.token_with(["account", "repository", "webhook"])
    world.forge.admin.revoke_token(token)
    assert await bind_refused(world, token=token) == NOT_ACCEPTED


async def test_403(world: ForgeWorld) -> None:
    body = '{"type": "error", "error": {"message": "Access denied"}}'
    world.forge.admin.set_fault(USER, status=403, body=body)
    assert await bind_refused(world) == "Bitbucket answered 403 Forbidden: Access denied"


async def test_404(world: ForgeWorld) -> None:
    body = '{"type": "error", "error": {"message": "Resource not found"}}'
    world.forge.admin.set_fault(USER, status=404, body=body)
    assert await bind_refused(world) == "Bitbucket answered 404 Not Found: Resource not found"


async def test_404_of_a_repository(world: ForgeWorld) -> None:
    client = await world.client()
    with pytest.raises(SourceErrorResponse) as info:
        await client.get_repository("acme/missing")
    assert info.value.detail == "repository acme/missing does not exist"


async def test_5xx(world: ForgeWorld) -> None:
    body = '{"type": "error", "error": {"message": "Something went wrong"}}'
    world.forge.admin.set_fault(USER, status=500, body=body)
    detail = await bind_refused(world)
    assert detail == "Bitbucket answered 500 Internal Server Error: Something went wrong"


async def test_5xx_html_page(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=502, body="<html><body>Bad gateway</body></html>")
    assert await bind_refused(world) == "Bitbucket answered 502 Bad Gateway: (an HTML page)"


async def test_html_instead_of_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=200, body="<html><body>Log in</body></html>")
    assert await bind_refused(world) == "Bitbucket answered with HTML instead of JSON"


async def test_unparsable_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=200, body='{"user', content_type="application/json")
    assert await bind_refused(world) == "Bitbucket answered with a body that is not valid JSON"


async def test_connection_reset(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, reset=True)
    assert "connection" in await bind_unreachable(world)


async def test_missing_scope(world: ForgeWorld) -> None:
    detail = await bind_refused(world, token=world.token_with(["account"]))
    assert detail == (
        "Bitbucket answered 403 Forbidden: the credentials lack a required scope "
        "(required: repository; granted: account)"
    )
    detail = await bind_refused(world, token=world.token_with(["repository"]))
    assert "(required: account; granted: repository)" in detail


def test_announced_scopes_are_checked() -> None:
    assert check_scopes("account, repository:write, webhook") == (
        ("account", "repository:write", "webhook"),
        [],
    )
    with pytest.raises(SourceErrorResponse) as info:
        check_scopes("account, repository")
    assert info.value.detail == (
        "token scopes are account, repository; the repository and webhook scopes are required"
    )


async def test_hook_without_the_webhook_scope(world: ForgeWorld) -> None:
    client = await world.client(token=world.token_with(["account", "repository"]))
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "s3cret")
    assert info.value.detail == (
        "Bitbucket answered 403 Forbidden: the credentials lack a required scope "
        "(required: webhook; granted: account, repository)"
    )


async def test_hook_by_a_non_admin(world: ForgeWorld) -> None:
    world.forge.admin.create_user("bob")
    world.forge.admin.create_repository("acme", "shared", members={"bob": "write"})
    token = world.forge.admin.create_token("bob", ["account", "repository", "webhook"])
    client = await world.client(username="bob", token=token)
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("acme/shared", "http://127.0.0.1:9/hook", "s3cret")
    assert info.value.detail == (
        "the user may not manage webhooks on acme/shared (needs admin rights on it)"
    )


async def test_username_mismatch(world: ForgeWorld) -> None:
    world.forge.admin.create_user("bob")
    assert await bind_refused(world, username="bob") == (
        "the credentials belong to user alice, not bob"
    )


async def test_loopback_is_refused_unless_allowed(world: ForgeWorld) -> None:
    strict = BitbucketProvider(source_settings(allowed_source_networks=[]))
    with pytest.raises(InvalidInput) as info:
        await strict.bind(world.credentials())
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"


async def test_pages_are_not_roots(world: ForgeWorld) -> None:
    for url in ("https://bitbucket.org/acme", world.forge.url + "/acme/app"):
        with pytest.raises(InvalidInput) as info:
            await world.bind(url=url)
        assert info.value.code == "INVALID_SOURCE_URL"
