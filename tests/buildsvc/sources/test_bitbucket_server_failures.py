"""Bitbucket Server: one test per failure cause against forgesim (code, message, detail)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildsvc.errors import InvalidInput, SourceErrorResponse
from buildsvc.sources import BitbucketServerProvider
from tests.buildsvc.sources.conftest import (
    ForgeWorld,
    bind_refused,
    bind_unreachable,
    day,
    source_settings,
)

USER = r"/rest/api/1\.0/users/alice$"
PROPERTIES = r"/rest/api/1\.0/application-properties$"
NOT_ACCEPTED = (
    "Bitbucket Server answered 401 Unauthorized: the credentials were not accepted "
    "(Authentication failed. Please check your credentials and try again.)"
)


def _errors(message: str) -> str:
    return f'{{"errors": [{{"context": null, "message": "{message}", "exceptionName": null}}]}}'


@pytest.fixture
def world(make_forge: Callable[..., ForgeWorld]) -> ForgeWorld:
    return make_forge("bitbucket-server")


async def test_401_unknown_token(world: ForgeWorld) -> None:
    assert await bind_refused(world, token="wrong-token-" + "q" * 12) == NOT_ACCEPTED


async def test_expired_token(world: ForgeWorld) -> None:
    token = world.token_with(["REPO_ADMIN"], expires_at=day(-1))
    assert await bind_refused(world, token=token) == NOT_ACCEPTED


async def test_revoked_token(world: ForgeWorld) -> None:
    token = world.token_with(["REPO_ADMIN"])
    world.forge.admin.revoke_token(token)
    assert await bind_refused(world, token=token) == NOT_ACCEPTED


async def test_403(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=403, body=_errors("Forbidden by policy"))
    assert (
        await bind_refused(world) == "Bitbucket Server answered 403 Forbidden: Forbidden by policy"
    )


async def test_404_not_a_bitbucket_server(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(PROPERTIES, status=404, body=_errors("No resource"))
    assert await bind_refused(world) == (
        f"no Bitbucket Server API answers under {world.forge.url}; is this the instance root URL?"
    )


async def test_404_unknown_user(world: ForgeWorld) -> None:
    detail = await bind_refused(world, username="nobody")
    assert detail == "user nobody does not exist on the server"


async def test_5xx(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=500, body=_errors("boom"))
    assert await bind_refused(world) == "Bitbucket Server answered 500 Internal Server Error: boom"


async def test_5xx_html_page(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=502, body="<html><body>Bad gateway</body></html>")
    assert await bind_refused(world) == "Bitbucket Server answered 502 Bad Gateway: (an HTML page)"


async def test_html_instead_of_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(PROPERTIES, status=200, body="<html><body>Log in</body></html>")
    assert await bind_refused(world) == "Bitbucket Server answered with HTML instead of JSON"


async def test_unparsable_json(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, status=200, body='{"name', content_type="application/json")
    detail = await bind_refused(world)
    assert detail == "Bitbucket Server answered with a body that is not valid JSON"


async def test_connection_reset(world: ForgeWorld) -> None:
    world.forge.admin.set_fault(USER, reset=True)
    assert "connection" in await bind_unreachable(world)


async def test_username_mismatch(world: ForgeWorld) -> None:
    world.forge.admin.create_user("bob")
    assert await bind_refused(world, username="bob") == "the token belongs to user alice, not bob"


async def test_token_without_repository_admin(world: ForgeWorld) -> None:
    client = await world.client(token=world.token_with(["REPO_READ"]))
    assert (await client.get_repository("ACME/app")).full_path == "ACME/app"
    with pytest.raises(SourceErrorResponse) as info:
        await client.create_hook("ACME/app", "http://127.0.0.1:9/hook", "s3cret")
    assert info.value.detail == (
        "the token cannot manage webhooks on ACME/app: the user and the HTTP access token "
        "both need Repository admin permission"
    )


async def test_a_context_path_must_serve_the_api(world: ForgeWorld) -> None:
    with pytest.raises(InvalidInput) as info:
        await world.bind(url=world.forge.url + "/bitbucket")
    assert info.value.code == "INVALID_SOURCE_URL"
    assert "no Bitbucket Server API answers under" in (info.value.detail or "")


async def test_loopback_is_refused_unless_allowed(world: ForgeWorld) -> None:
    strict = BitbucketServerProvider(source_settings(allowed_source_networks=[]))
    with pytest.raises(InvalidInput) as info:
        await strict.bind(world.credentials())
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
