"""GitLab under a relative URL (https://host/gitlab), via a small reverse proxy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from buildsvc.errors import InvalidInput
from tests.buildsvc.sources.conftest import World

PASS_REQUEST = ("PRIVATE-TOKEN", "Content-Type")
PASS_RESPONSE = ("Content-Type", "X-Total", "X-Total-Pages", "X-Page", "X-Next-Page")


def proxy_app(upstream: str) -> web.Application:
    """Forwards /gitlab/* to ``upstream``/*; everything else is this server's own 404."""

    async def forward(request: web.Request) -> web.Response:
        # The raw path keeps %2F in project ids, as a real reverse proxy must.
        target = URL(upstream + request.raw_path.removeprefix("/gitlab"), encoded=True)
        headers = {k: v for k, v in request.headers.items() if k in PASS_REQUEST}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                target,
                headers=headers,
                data=await request.read(),
            ) as answer,
        ):
            body = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k in PASS_RESPONSE}
            if "Link" in answer.headers:
                out["Link"] = answer.headers["Link"].replace(
                    upstream, str(request.url.origin()) + "/gitlab"
                )
            return web.Response(status=answer.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("*", "/gitlab/{tail:.*}", forward)
    return app


@pytest.fixture
async def proxied(
    gitlab_world: World, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> str:
    server = await aiohttp_server(proxy_app(gitlab_world.forge.url))
    return str(server.make_url("")).rstrip("/")


async def test_gitlab_under_a_relative_url(gitlab_world: World, proxied: str) -> None:
    binding, credentials = await gitlab_world.bind(url=f"{proxied}/gitlab/")
    assert binding.url == f"{proxied}/gitlab"
    assert binding.api_url == f"{proxied}/gitlab/api/v4"
    client = gitlab_world.provider.client(binding, credentials)
    for i in range(150):  # two pages, so "next" links pass through the prefix
        gitlab_world.forge.admin.create_repository("acme", f"r{i:03d}")
    repositories = await client.list_repositories("acme")
    assert len(repositories) == 151
    assert (await client.get_repository("acme/app")).full_path == "acme/app"


async def test_a_path_where_no_gitlab_answers_is_refused(gitlab_world: World, proxied: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await gitlab_world.bind(url=f"{proxied}/other")
    assert info.value.code == "INVALID_SOURCE_URL"
    assert info.value.detail == (
        f"no GitLab API answers under {proxied}/other; "
        "enter the instance root URL, e.g. https://gitlab.example.com"
    )
