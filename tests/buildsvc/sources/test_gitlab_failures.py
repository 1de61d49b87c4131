"""One test per failure cause, against forgesim: the code, the exact message, the detail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from buildsvc.errors import (
    InvalidInput,
    SourceErrorResponse,
)
from buildsvc.sources import GitLabProvider
from tests.buildsvc.sources.conftest import (
    SELF_SIGNED,
    World,
    bind_refused,
    bind_unreachable,
    closed_port,
    source_settings,
)


async def test_connection_refused(gitlab_world: World) -> None:
    port = closed_port()
    detail = await bind_unreachable(gitlab_world, url=f"http://127.0.0.1:{port}")
    assert detail.startswith(f"connection refused by 127.0.0.1:{port}")


async def test_dns_failure(gitlab_world: World) -> None:
    detail = await bind_unreachable(gitlab_world, url="https://gitlab.no-such-host.invalid")
    assert (
        detail
        == "DNS lookup failed for gitlab.no-such-host.invalid: the host name does not resolve"
    )


async def test_timeout(make_world: Callable[..., World]) -> None:
    world = make_world(settings=source_settings(source_timeout_seconds=0.3))
    world.forge.admin.set_fault(r"/api/v4/user$", delay_ms=1500)
    detail = await bind_unreachable(world)
    assert detail == "timeout: GitLab did not answer within 0.3 s"


async def test_tls_not_trusted_then_trusted_with_ca_cert(make_world: Callable[..., World]) -> None:
    world = make_world(tls_self_signed=True)
    assert world.forge.url.startswith("https://")
    assert await bind_unreachable(world) == SELF_SIGNED

    assert world.forge.ca_file is not None
    world.ca_cert = world.forge.ca_file.read_text()
    binding, credentials = await world.bind()
    assert binding.url == world.forge.url
    client = world.provider.client(binding, credentials)
    assert (await client.get_repository("acme/app")).full_path == "acme/app"


async def test_401(gitlab_world: World) -> None:
    detail = await bind_refused(gitlab_world, token="wrong-token-" + "q" * 10)
    assert detail.startswith("GitLab answered 401 Unauthorized")


async def test_403(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(
        r"/api/v4/user$", status=403, body='{"message":"403 Forbidden"}'
    )
    assert await bind_refused(gitlab_world) == "GitLab answered 403 Forbidden"


async def test_404_when_no_gitlab_api_answers(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(
        r"/api/v[34]/user$", status=404, body='{"error":"404 Not Found"}'
    )
    detail = await bind_refused(gitlab_world)
    assert detail == (
        "GitLab answered 404 Not Found: neither /api/v4/user nor /api/v3/user exists; "
        "is this a GitLab instance root URL?"
    )


async def test_404_of_a_project(gitlab_world: World) -> None:
    binding, credentials = await gitlab_world.bind()
    client = gitlab_world.provider.client(binding, credentials)
    with pytest.raises(SourceErrorResponse) as info:
        await client.get_repository("acme/missing")
    assert info.value.detail == "project acme/missing does not exist or the token cannot see it"
    assert info.value.status == 502


async def test_5xx(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(r"/api/v4/user$", status=503, body='{"message":"down"}')
    assert await bind_refused(gitlab_world) == "GitLab answered 503 Service Unavailable: down"


async def test_5xx_html_page(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(
        r"/api/v4/user$", status=502, body="<html><body>Bad gateway</body></html>"
    )
    detail = await bind_refused(gitlab_world)
    assert detail == "GitLab answered 502 Bad Gateway: (an HTML page)"


async def test_html_instead_of_json(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(
        r"/api/v4/user$", status=200, body="<html><body>Sign in</body></html>"
    )
    assert await bind_refused(gitlab_world) == "GitLab answered with HTML instead of JSON"


async def test_unparsable_json(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(
        r"/api/v4/user$", status=200, body='{"username": ', content_type="application/json"
    )
    assert await bind_refused(gitlab_world) == "GitLab answered with a body that is not valid JSON"


async def test_unparsable_json_through_python_gitlab(gitlab_world: World) -> None:
    binding, credentials = await gitlab_world.bind()
    client = gitlab_world.provider.client(binding, credentials)
    gitlab_world.forge.admin.set_fault(
        r"/api/v4/projects/acme(%2F|/)app$", status=200, body="[1,", content_type="application/json"
    )
    with pytest.raises(SourceErrorResponse) as info:
        await client.get_repository("acme/app")
    assert info.value.detail == "GitLab answered with a body that is not valid JSON"


async def test_connection_reset(gitlab_world: World) -> None:
    gitlab_world.forge.admin.set_fault(r"/api/v4/user$", reset=True)
    detail = await bind_unreachable(gitlab_world)
    assert "connection" in detail


async def test_stored_binding_rechecks_the_network(gitlab_world: World) -> None:
    binding, credentials = await gitlab_world.bind()
    strict = GitLabProvider(source_settings(allowed_source_networks=[]))
    with pytest.raises(InvalidInput) as info:
        await strict.client(binding, credentials).get_repository("acme/app")
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
