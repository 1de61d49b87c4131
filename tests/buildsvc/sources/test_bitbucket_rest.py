"""atlassian-python-api tuned for a service and kept under the API URL we checked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from buildsvc.errors import SourceErrorResponse
from buildsvc.sources.bitbucket.rest import Calls, Connection, _client, open_calls
from buildsvc.sources.failures import run_blocking
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.transport import GuardedSession
from tests.buildsvc.sources.conftest import LOOPBACK, ForgeWorld

TOKEN = "tok-" + "r5" * 12


def _conn(api_url: str, flavour: str = "cloud") -> Connection:
    return Connection(
        flavour="cloud" if flavour == "cloud" else "server",
        root_url=api_url.rsplit("/", 1)[0],
        api_url=api_url,
        username="alice",
        token=TOKEN,
        bearer=False,
        policy=AddressPolicy.from_cidrs(LOOPBACK),
        timeout=0.5,
    )


def test_tuned_for_a_service() -> None:
    conn = _conn("https://api.bitbucket.org/2.0")
    with GuardedSession(conn.policy) as session:
        client = _client(conn, session)
        assert client.timeout == 0.5  # not int(0.5) == 0
        assert client.backoff_and_retry is False
        assert client.retry_with_header is False  # no sleeping out Retry-After
        assert client.session is session


def test_next_links_are_kept_under_our_api() -> None:
    calls = Calls(None, _conn("https://api.bitbucket.org/2.0"))
    link = "https://elsewhere.example/2.0/repositories/acme?page=2&pagelen=100"
    assert calls._under_api(link) == ("/repositories/acme", {"page": "2", "pagelen": "100"})


async def _serve(handler: Callable[[web.Request], Any], flavour: str, path: str) -> str:
    """Run one request through ``Calls`` against a tiny server; the mapped detail."""
    app = web.Application()
    app.router.add_get("/2.0/things", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        conn = _conn(f"http://127.0.0.1:{server.port}/2.0", flavour)

        def work() -> object:
            with open_calls(conn) as calls:
                return list(calls.get_all(path))

        with pytest.raises(SourceErrorResponse) as info:
            await run_blocking(work, conn.context(), deadline=5)
    return info.value.detail or ""


async def test_a_redirect_is_not_followed() -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://elsewhere.example/2.0/things")

    detail = await _serve(moved, "cloud", "/things")
    assert detail == "Bitbucket redirected the request to elsewhere.example; enter the URL it uses"


async def test_a_server_page_that_does_not_move_forward() -> None:
    async def stuck(request: web.Request) -> web.Response:
        return web.json_response({"values": [1], "isLastPage": False, "nextPageStart": 0})

    detail = await _serve(stuck, "server", "/things")
    assert detail == "Bitbucket Server answered a next page that does not move forward"


async def test_a_page_that_is_not_a_page() -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.json_response([1, 2])

    detail = await _serve(odd, "cloud", "/things")
    assert detail == "Bitbucket answered a list request with JSON that is not a page"


async def test_debug_logs_carry_no_secret(
    make_forge: Callable[..., ForgeWorld], caplog: pytest.LogCaptureFixture
) -> None:
    world = make_forge("bitbucket")
    client = await world.client()
    with caplog.at_level(logging.DEBUG, logger="atlassian"):
        await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "hook-secret-value")
    assert "hook-secret-value" not in caplog.text
    assert world.token not in caplog.text
