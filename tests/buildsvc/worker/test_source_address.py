"""The clone URL's host against the address policy, with real git and loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from buildsvc.sources import AddressPolicy
from buildsvc.worker.errors import SourceFetchFailed, SourceUrlNotAllowed
from buildsvc.worker.fetch import fetch_source
from buildsvc.worker.source_address import CheckedHost, check_clone_host
from tests.buildsvc.worker.helpers import GIT_USERNAME, GitHttpServer

ServerFactory = Callable[..., Awaitable[TestServer]]
ONLY_127_0_0_2 = AddressPolicy.from_cidrs(["127.0.0.2/32"])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_clone_url_on_a_blocked_address_is_refused_before_git_runs(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path, host: str
) -> None:
    # An address literal, and a DNS name that resolves into the blocked range.
    backend, url, shas = http_repo
    url = url.replace("127.0.0.1", host)

    with pytest.raises(SourceUrlNotAllowed) as caught:
        await fetch_source(
            url, shas[0], tmp_path / "c", username=GIT_USERNAME, token=token, policy=ONLY_127_0_0_2
        )

    assert caught.value.code == "SOURCE_URL_NOT_ALLOWED"
    assert not caught.value.transient
    detail = str(caught.value.detail)
    assert f"{host} resolves to 127.0.0.1, a loopback address" in detail
    assert backend.authorizations == []  # the server was never contacted
    assert not (tmp_path / "c").exists()


async def test_git_connects_to_the_checked_address_not_a_later_answer(
    aiohttp_server: ServerFactory,
    http_repo: tuple[GitHttpServer, str, list[str]],
    token: str,
    tmp_path: Path,
) -> None:
    # DNS rebinding: the check saw 127.0.0.2 (allowed); the system resolver answers
    # 127.0.0.1 (blocked) for the same name. git must connect where the check looked.
    blocked, url, shas = http_repo
    allowed = GitHttpServer(project_root=blocked.project_root, username=GIT_USERNAME, token=token)
    port = int(url.split(":")[2].split("/")[0])
    await aiohttp_server(allowed.app(), host="127.0.0.2", port=port)
    answers: list[str] = []

    def checked_answer(
        host: str, port: int, policy: AddressPolicy
    ) -> list[tuple[socket.AddressFamily, str]]:
        answers.append(host)
        policy.check(host, "127.0.0.2")
        return [(socket.AF_INET, "127.0.0.2")]

    lines: list[str] = []
    head = await fetch_source(
        url.replace("127.0.0.1", "localhost"),
        shas[0],
        tmp_path / "c",
        username=GIT_USERNAME,
        token=token,
        policy=ONLY_127_0_0_2,
        resolve=checked_answer,
        on_line=lines.append,
    )

    assert head == shas[0]
    assert answers == ["localhost"]
    assert allowed.authorizations  # fetched from the checked address…
    assert blocked.authorizations == []  # …and never from what DNS says now
    assert any("(127.0.0.2)" in line for line in lines)


async def test_a_host_that_does_not_resolve_fails_the_fetch(tmp_path: Path) -> None:
    with pytest.raises(SourceFetchFailed) as caught:
        await fetch_source(
            "http://no-such-host.invalid/r.git", "ab" * 20, tmp_path / "c", policy=ONLY_127_0_0_2
        )
    assert caught.value.code == "SOURCE_FETCH_FAILED"
    assert "no-such-host.invalid did not resolve" in str(caught.value.detail)


@pytest.mark.parametrize("url", ["http://bücher.example/r.git", "http://%66orge.example/r.git"])
async def test_a_host_libcurl_may_spell_otherwise_is_refused(url: str) -> None:
    with pytest.raises(SourceUrlNotAllowed, match="not a plain DNS name"):
        await check_clone_host(url, AddressPolicy())


async def test_a_url_without_a_host_has_nothing_to_check() -> None:
    assert await check_clone_host("file:///srv/git/r.git", AddressPolicy()) is None


def test_pins_spell_ipv6_in_brackets_and_skip_address_literals() -> None:
    both = CheckedHost("forge.example", 443, ("192.0.2.7", "2001:db8::7"))
    assert both.curl_resolve() == ["forge.example:443:192.0.2.7,[2001:db8::7]"]
    assert CheckedHost("192.0.2.7", 80, ("192.0.2.7",)).curl_resolve() == []
    assert CheckedHost("2001:db8::7", 80, ("2001:db8::7",)).curl_resolve() == []
