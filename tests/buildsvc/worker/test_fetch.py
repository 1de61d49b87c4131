"""fetch_source against real git: a local bare repository and a Basic-auth HTTP server."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from buildsvc.sources import AddressPolicy
from buildsvc.worker.errors import (
    CommitNotFound,
    SourceAuthFailed,
    SourceFetchFailed,
    SourceFetchTimeout,
)
from buildsvc.worker.fetch import fetch_source, git_auth_env
from tests.buildsvc.worker.helpers import (
    GIT_USERNAME,
    GitHttpServer,
    git,
    processes_containing,
)

ServerFactory = Callable[..., Awaitable[TestServer]]
LOOPBACK = AddressPolicy.from_cidrs(["127.0.0.0/8"])


async def test_fetches_exact_commit_shallow(
    bare_repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    bare, shas = bare_repo
    dest = tmp_path / "checkout"
    lines: list[str] = []

    head = await fetch_source(
        f"file://{bare}", shas[1], dest, protocols=("file",), on_line=lines.append, policy=LOOPBACK
    )

    assert head == shas[1]
    assert (dest / "version.txt").read_text() == "version 2\n"
    assert git("rev-parse", "--is-shallow-repository", cwd=dest) == "true"
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "1"
    assert any(shas[1] in line for line in lines)


async def test_unknown_commit_is_commit_not_found(
    bare_repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    bare, _ = bare_repo
    with pytest.raises(CommitNotFound) as caught:
        await fetch_source(
            f"file://{bare}", "ab" * 20, tmp_path / "c", protocols=("file",), policy=LOOPBACK
        )
    assert caught.value.code == "SOURCE_COMMIT_NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "sha", "error"),
    [
        ("file:///nowhere", "ab" * 20, SourceFetchFailed),  # file not in allowed protocols
        ("https://user:pw@127.0.0.1/repo.git", "ab" * 20, SourceFetchFailed),
        ("https://127.0.0.1/repo.git", "abc123", CommitNotFound),  # not a full sha
    ],
)
async def test_rejects_bad_input_before_running_git(
    url: str, sha: str, error: type[Exception], tmp_path: Path
) -> None:
    with pytest.raises(error):
        await fetch_source(url, sha, tmp_path / "c", policy=LOOPBACK)
    assert not (tmp_path / "c").exists()


async def test_token_reaches_git_only_through_environment(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path
) -> None:
    backend, url, shas = http_repo
    lines: list[str] = []

    head = await fetch_source(
        url,
        shas[0],
        tmp_path / "c",
        username=GIT_USERNAME,
        token=token,
        on_line=lines.append,
        policy=LOOPBACK,
    )

    assert head == shas[0]
    credential = base64.b64encode(f"{GIT_USERNAME}:{token}".encode()).decode()
    assert f"Basic {credential}" in backend.authorizations
    assert backend.client_argv  # git's remote helper was running during the requests…
    assert backend.argv_leaks == []  # …and no process had the token in its argv
    stored = "\n".join(
        p.read_text(errors="replace") for p in (tmp_path / "c/.git").glob("*") if p.is_file()
    )
    for text in ("\n".join(lines), stored):
        assert token not in text
        assert credential not in text


def test_auth_env_scopes_header_to_origin(token: str) -> None:
    env = git_auth_env("https://git.example.test:8443/g/r.git", "u", token, protocols=("https",))
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    keys = {env[f"GIT_CONFIG_KEY_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert "http.https://git.example.test:8443/.extraHeader" in keys


async def test_wrong_token_is_auth_failure_without_leaking(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path
) -> None:
    _, url, shas = http_repo
    wrong = "tok-" + secrets.token_hex(16)
    with pytest.raises(SourceAuthFailed) as caught:
        await fetch_source(
            url, shas[0], tmp_path / "c", username=GIT_USERNAME, token=wrong, policy=LOOPBACK
        )
    assert caught.value.code == "SOURCE_AUTH_FAILED"
    assert not caught.value.transient
    assert wrong not in str(caught.value.detail)
    assert token not in str(caught.value.detail)


async def test_missing_token_fails_fast_instead_of_prompting(
    http_repo: tuple[GitHttpServer, str, list[str]], tmp_path: Path
) -> None:
    _, url, shas = http_repo
    with pytest.raises(SourceAuthFailed):
        await asyncio.wait_for(fetch_source(url, shas[0], tmp_path / "c", policy=LOOPBACK), 30)


async def test_unreachable_forge_is_transient_fetch_failure(
    unused_tcp_port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/repo.git"
    with pytest.raises(SourceFetchFailed) as caught:
        await fetch_source(url, "ab" * 20, tmp_path / "c", policy=LOOPBACK)
    assert caught.value.code == "SOURCE_FETCH_FAILED"
    assert caught.value.transient


async def test_timeout_kills_git(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path
) -> None:
    backend, url, shas = http_repo
    backend.delay = 4
    started = time.monotonic()
    with pytest.raises(SourceFetchTimeout):
        await fetch_source(
            url,
            shas[0],
            tmp_path / "c",
            username=GIT_USERNAME,
            token=token,
            timeout=1,
            policy=LOOPBACK,
        )
    assert time.monotonic() - started < 5
    assert processes_containing(url.encode()) == []  # git-remote-http is gone too


async def test_cancellation_kills_git(
    http_repo: tuple[GitHttpServer, str, list[str]], token: str, tmp_path: Path
) -> None:
    backend, url, shas = http_repo
    backend.delay = 4
    task = asyncio.create_task(
        fetch_source(
            url, shas[0], tmp_path / "c", username=GIT_USERNAME, token=token, policy=LOOPBACK
        )
    )
    await asyncio.wait_for(backend.requested.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert processes_containing(url.encode()) == []


def redirector(target: str, seen: list[str]) -> web.Application:
    """A forge that answers every request with a redirect to ``target``, same path."""

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path_qs)
        raise web.HTTPFound(target + request.path_qs)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handle)
    return app


async def test_a_redirect_is_not_followed_and_the_token_stays_home(
    aiohttp_server: ServerFactory,
    http_repo: tuple[GitHttpServer, str, list[str]],
    token: str,
    tmp_path: Path,
) -> None:
    # The reproduction: the allowed forge (127.0.0.2) redirects to a blocked one.
    capture, url, shas = http_repo
    seen: list[str] = []
    forge = await aiohttp_server(redirector(url.rsplit("/", 1)[0], seen), host="127.0.0.2")
    allowed = AddressPolicy.from_cidrs(["127.0.0.2/32"])

    with pytest.raises(SourceFetchFailed) as caught:
        await fetch_source(
            f"http://127.0.0.2:{forge.port}/repo.git",
            shas[0],
            tmp_path / "c",
            username=GIT_USERNAME,
            token=token,
            policy=allowed,
        )

    assert seen  # git asked the allowed forge…
    assert capture.authorizations == []  # …and never the server it redirected to
    assert caught.value.code == "SOURCE_FETCH_FAILED"
    assert "redirect (HTTP 302)" in str(caught.value.detail)


async def test_a_proxy_in_the_environment_is_not_used(
    aiohttp_server: ServerFactory,
    http_repo: tuple[GitHttpServer, str, list[str]],
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy would connect to the forge itself: the address checked would not be the one used.
    proxied: list[str] = []
    proxy = await aiohttp_server(redirector("http://127.0.0.1:9", proxied))
    for name in ("http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    backend, url, shas = http_repo

    head = await fetch_source(
        url, shas[0], tmp_path / "c", username=GIT_USERNAME, token=token, policy=LOOPBACK
    )

    assert head == shas[0]
    assert proxied == []
    assert backend.authorizations
