"""The hardened session: address checks per connection, token headers on redirects."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from buildsvc.errors import InvalidInput
from buildsvc.sources import Credentials, GitLabProvider
from buildsvc.sources.failures import UnexpectedAnswer
from buildsvc.sources.network import AddressPolicy, ForbiddenAddress
from buildsvc.sources.transport import GuardedSession, ca_file, validate_ca_cert
from tests.buildsvc.sources.conftest import LOOPBACK, World, source_settings

Server = Callable[[web.Application], Awaitable[TestServer]]


async def echo_server(aiohttp_server: Server) -> TestServer:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"headers": dict(request.headers)})

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>sign in</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/to", to)
    app.router.add_get("/html", html)
    return await aiohttp_server(app)


def _get(session: GuardedSession, url: str, **kwargs: Any) -> Any:
    with session:
        return session.get(url, timeout=5, **kwargs).json()


async def test_every_connection_checks_the_address(aiohttp_server: Server) -> None:
    server = await echo_server(aiohttp_server)
    url = str(server.make_url("/echo"))
    with pytest.raises(ForbiddenAddress) as info:
        await asyncio.to_thread(_get, GuardedSession(AddressPolicy()), url)
    assert info.value.address_class == "a loopback"
    allowed = GuardedSession(AddressPolicy.from_cidrs(LOOPBACK))
    assert "headers" in await asyncio.to_thread(_get, allowed, url)


async def test_token_headers_do_not_follow_a_redirect_to_another_host(
    aiohttp_server: Server,
) -> None:
    server = await echo_server(aiohttp_server)
    port = server.port
    headers = {"PRIVATE-TOKEN": "tok", "Authorization": "Bearer tok"}
    policy = AddressPolicy.from_cidrs(LOOPBACK)
    same = f"http://127.0.0.1:{port}/to?url=http://127.0.0.1:{port}/echo"
    other = f"http://127.0.0.1:{port}/to?url=http://localhost:{port}/echo"
    kept = await asyncio.to_thread(_get, GuardedSession(policy), same, headers=headers)
    assert kept["headers"]["PRIVATE-TOKEN"] == "tok"
    dropped = await asyncio.to_thread(_get, GuardedSession(policy), other, headers=headers)
    assert "PRIVATE-TOKEN" not in dropped["headers"]
    assert "Authorization" not in dropped["headers"]


async def test_a_redirect_into_a_refused_network_is_not_followed(aiohttp_server: Server) -> None:
    server = await echo_server(aiohttp_server)
    # Allowed: 127.0.0.1 only. The redirect goes to 127.0.0.2, which is still loopback.
    policy = AddressPolicy.from_cidrs(["127.0.0.1/32"])
    url = f"http://127.0.0.1:{server.port}/to?url=http://127.0.0.2:{server.port}/echo"
    with pytest.raises(ForbiddenAddress):
        await asyncio.to_thread(_get, GuardedSession(policy), url)


async def test_html_with_status_200_is_not_an_api_answer(aiohttp_server: Server) -> None:
    server = await echo_server(aiohttp_server)
    session = GuardedSession(AddressPolicy.from_cidrs(LOOPBACK))
    with pytest.raises(UnexpectedAnswer, match="answered with HTML instead of JSON"):
        await asyncio.to_thread(_get, session, str(server.make_url("/html")))


async def test_dns_rebinding_after_the_check_is_refused(
    gitlab_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolves to a public address when checked, then to loopback."""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    provider = GitLabProvider(source_settings(allowed_source_networks=[]))
    port = gitlab_world.forge.url.rsplit(":", 1)[1]
    credentials = Credentials(
        provider="gitlab", url=f"http://rebind.example:{port}", username="alice", token="t" * 20
    )
    with pytest.raises(InvalidInput) as info:
        await provider.bind(credentials)
    assert info.value.code == "SOURCE_URL_NOT_ALLOWED"
    assert "rebind.example resolves to 127.0.0.1, a loopback address" in (info.value.detail or "")


def test_ca_file_is_written_once_per_certificate(make_world: Callable[..., World]) -> None:
    world = make_world(tls_self_signed=True)
    assert world.forge.ca_file is not None
    pem = world.forge.ca_file.read_text()
    first, second = ca_file(pem), ca_file("\n" + pem + "\n")
    assert first == second
    assert os.path.exists(first)
    assert validate_ca_cert(pem) == pem.strip() + "\n"
    with pytest.raises(InvalidInput) as info:
        validate_ca_cert("not a certificate")
    assert info.value.code == "INVALID_CA_CERT"
