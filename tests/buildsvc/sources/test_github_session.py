"""PyGithub tuned for a service and pinned to our transport (``sources.github.session``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from buildsvc.errors import InvalidInput, SourceErrorResponse
from buildsvc.sources.failures import run_blocking
from buildsvc.sources.github.session import (
    Connection,
    PinnedConnection,
    _pin,
    open_github,
    root_and_api,
)
from buildsvc.sources.network import AddressPolicy
from buildsvc.sources.urls import ROOT_URL_HINTS, parse_root_url
from tests.buildsvc.sources.conftest import LOOPBACK, ForgeWorld

TOKEN = "tok-" + "g7" * 12


def _conn(api_url: str) -> Connection:
    policy = AddressPolicy.from_cidrs(LOOPBACK)
    return Connection(root_url=api_url, api_url=api_url, token=TOKEN, policy=policy, timeout=2)


@pytest.mark.parametrize(
    ("typed", "root", "api"),
    [
        ("https://github.com", "https://github.com", "https://api.github.com"),
        ("https://GitHub.com/", "https://github.com", "https://api.github.com"),
        ("https://api.github.com", "https://github.com", "https://api.github.com"),
        ("https://ghe.example.com", "https://ghe.example.com", "https://ghe.example.com/api/v3"),
        ("http://ghe.example:8080", "http://ghe.example:8080", "http://ghe.example:8080/api/v3"),
    ],
)
def test_root_and_api(typed: str, root: str, api: str) -> None:
    assert root_and_api(parse_root_url(typed, "github")) == (root, api)


@pytest.mark.parametrize("typed", ["https://github.com/acme", "https://ghe.example.com/acme"])
def test_pages_are_not_roots(typed: str) -> None:
    with pytest.raises(InvalidInput) as info:
        root_and_api(parse_root_url(typed, "github"))
    assert info.value.code == "INVALID_SOURCE_URL"
    assert (info.value.detail or "").endswith(ROOT_URL_HINTS["github"])


def test_tuned_for_a_service() -> None:
    with open_github(_conn("https://ghe.example.com/api/v3")) as gh:
        requester = gh.requester
        assert requester.per_page == 100
        settings = requester.kwargs  # what a copy of this Requester would be built with
        assert settings["seconds_between_requests"] is None
        assert settings["seconds_between_writes"] is None
        assert settings["retry"] == 0
        assert settings["lazy"] is True
        for name in ("connectionClass", "httpConnectionClass", "httpsConnectionClass"):
            made = getattr(requester, f"_Requester__{name}")("ghe.example.com", 443)
            assert isinstance(made, PinnedConnection)
            made.close()


def test_fails_closed_if_pygithub_changes() -> None:
    with pytest.raises(RuntimeError, match="refusing to bypass the address policy"):
        _pin(object(), _conn("https://ghe.example.com/api/v3"))  # type: ignore[arg-type]


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("http://elsewhere.example/api/v3/user")

    app = web.Application()
    app.router.add_get("/api/v3/user", moved)
    async with TestServer(app, host="127.0.0.1") as server:
        conn = _conn(f"http://127.0.0.1:{server.port}/api/v3")

        def work() -> object:
            with open_github(conn) as gh:
                return gh.get_user().login

        with pytest.raises(SourceErrorResponse) as info:
            await run_blocking(work, conn.context(), deadline=5)
    assert info.value.detail == "GitHub redirected to another address (elsewhere.example)"


async def test_a_202_on_a_read_is_not_retried_forever(
    make_forge: Callable[..., ForgeWorld],
) -> None:
    world = make_forge("github")
    world.forge.admin.set_fault(r"/api/v3/repos/acme/app$", status=202, body="{}")
    client = await world.client()
    with pytest.raises(SourceErrorResponse) as info:
        await client.get_repository("acme/app")
    assert info.value.detail == "GitHub answered 202 Accepted (still processing); try again later"


async def test_debug_logs_carry_no_secret(
    make_forge: Callable[..., ForgeWorld], caplog: pytest.LogCaptureFixture
) -> None:
    world = make_forge("github")
    client = await world.client()
    with caplog.at_level(logging.DEBUG, logger="github"):  # PyGithub's own default: INFO
        await client.create_hook("acme/app", "http://127.0.0.1:9/hook", "hook-secret-value")
    assert "hook-secret-value" not in caplog.text
    assert world.token not in caplog.text
